package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// defaultTokenLifetime is used when gettoken does not say how long its token
// lives ("正常情况下为7200秒", specs/wecom.md §1.1).
const defaultTokenLifetime = 7200 * time.Second

// gettokenResponse is the answer of GET /cgi-bin/gettoken.
type gettokenResponse struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// accessToken returns the app's access token through the TokenStore, fetching
// one with gettoken when the store has none. A gettoken failure comes back as its
// own *providers.Error (Op "gettoken"); a TokenStore failure that is not one
// (Redis down, context done) is ClassRetryable for op: no request has left.
func (c *Client) accessToken(ctx context.Context, op string) (string, error) {
	if c.tokens == nil {
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Message: "no TokenStore configured"}
	}
	tok, err := c.tokens.Token(ctx, c.tokenKey, c.fetchToken)
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) {
			return "", err
		}
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "getting the access token", Err: c.redact(err)}
	}
	if tok == "" {
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "token store returned an empty access token"}
	}
	return tok, nil
}

// fetchToken is the [providers.FetchFunc] of the app: GET
// {base}/cgi-bin/gettoken?corpid=&corpsecret= (specs/wecom.md §1.1). It makes
// exactly one request and never retries: a wrong secret retried in a loop gets
// the egress IP banned for an hour. Its errors are classified by gettokenClass
// (credential problems → ClassAppDisabled; -1, 5xx, network → ClassRetryable;
// 45009/45033/429/503 → ClassThrottled) and never contain the secret.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	q := url.Values{"corpid": {c.cfg.CorpID}, "corpsecret": {c.cfg.Secret}}
	data, err := c.do(ctx, opGettoken, http.MethodGet, pathGettoken, q, nil, false)
	if err != nil {
		return "", 0, err
	}
	var r gettokenResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opGettoken, Class: providers.ClassRetryable, Message: "undecodable response", Err: err}
	}
	if r.ErrCode != 0 {
		class, after := gettokenClass(r.ErrCode)
		return "", 0, &providers.Error{
			Provider: ProviderName, Op: opGettoken, Class: class, Code: r.ErrCode,
			Message: c.redactText(r.ErrMsg), RetryAfter: after,
		}
	}
	if r.AccessToken == "" {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opGettoken, Class: providers.ClassRetryable, Message: "no access_token in response"}
	}
	ttl := time.Duration(r.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = defaultTokenLifetime
	}
	return r.AccessToken, ttl, nil
}
