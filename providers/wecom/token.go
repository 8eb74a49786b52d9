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
// lives ("正常情况下为7200秒", WeCom's API documentation).
const defaultTokenLifetime = 7200 * time.Second

// gettokenResponse is the answer of GET /cgi-bin/gettoken.
type gettokenResponse struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// tokenSource returns the TokenStore key and the fetch func of the access
// token a business call for tenant uses: the app's own token for a self-built
// app; the tenant's corp token (service/get_corp_token, or gettoken with the
// permanent code for a custom app) otherwise.
func (c *Client) tokenSource(op, tenant string) (string, providers.FetchFunc, error) {
	if !c.cfg.MultiTenant() {
		return c.tokenKey, c.fetchToken, nil
	}
	if tenant == "" {
		return "", nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassPermanent,
			Message: "no tenant: an app of mode " + c.cfg.EffectiveMode() + " sends for one tenant (the authorising corp id)"}
	}
	key := CorpTokenKey(c.cfg.SuiteID, tenant)
	if c.cfg.EffectiveMode() == ModeCustom {
		return key, func(ctx context.Context) (string, time.Duration, error) { return c.fetchCustomToken(ctx, tenant) }, nil
	}
	return key, func(ctx context.Context) (string, time.Duration, error) { return c.fetchCorpToken(ctx, tenant) }, nil
}

// accessToken returns the access token of a business call for tenant ("" for
// a self-built app) through the TokenStore, fetching one when the store has
// none, and the TokenStore key it is cached under. A fetch failure comes back
// as its own *providers.Error (Op "gettoken", "service/get_corp_token", …;
// Tenant set when only that tenant is concerned); a TokenStore failure that is
// not one (Redis down, context done) is ClassRetryable for op: no request has
// left.
func (c *Client) accessToken(ctx context.Context, op, tenant string) (tok, key string, err error) {
	if c.tokens == nil {
		return "", "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Message: "no TokenStore configured"}
	}
	key, fetch, err := c.tokenSource(op, tenant)
	if err != nil {
		return "", "", err
	}
	tok, err = c.tokens.Token(ctx, key, fetch)
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) {
			return "", key, c.scope(tenant, err)
		}
		return "", key, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "getting the access token", Err: c.redact(err)}
	}
	if tok == "" {
		return "", key, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "token store returned an empty access token"}
	}
	return tok, key, nil
}

// fetchToken is the [providers.FetchFunc] of a self-built app: GET
// {base}/cgi-bin/gettoken?corpid=&corpsecret= (WeCom's API documentation). It makes
// exactly one request and never retries: a wrong secret retried in a loop gets
// the egress IP banned for an hour. Its errors are classified by gettokenClass
// (credential problems → ClassAppDisabled; -1, 5xx, network → ClassRetryable;
// 45009/45033/429/503 → ClassThrottled) and never contain the secret.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	return c.gettoken(ctx, c.cfg.CorpID, c.cfg.Secret)
}

// gettoken is one GET /cgi-bin/gettoken with corpid and secret (the app
// secret, or a custom app's permanent code); see fetchToken.
func (c *Client) gettoken(ctx context.Context, corpID, secret string) (string, time.Duration, error) {
	q := url.Values{"corpid": {corpID}, "corpsecret": {secret}}
	data, err := c.do(ctx, opGettoken, http.MethodGet, pathGettoken, q, nil, false, secret)
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
			Message: c.redactText(r.ErrMsg, secret), RetryAfter: after,
		}
	}
	if r.AccessToken == "" {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opGettoken, Class: providers.ClassRetryable, Message: "no access_token in response"}
	}
	return r.AccessToken, lifetime(r.ExpiresIn), nil
}

// lifetime is expires_in as a duration; absent or not positive means
// defaultTokenLifetime.
func lifetime(expiresIn int64) time.Duration {
	if ttl := time.Duration(expiresIn) * time.Second; ttl > 0 {
		return ttl
	}
	return defaultTokenLifetime
}
