package wps365

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// DefaultTokenLifetime is used when the token endpoint does not say how long
// its token lives (public cloud: 2 h; a private deployment says 86400 s).
const DefaultTokenLifetime = 7200 * time.Second

// tokenResponse is the answer of POST /oauth2/token: the token fields at the
// top level on success, code and msg on failure (the WPS open-platform documentation).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Code        int    `json:"code"`
	Msg         string `json:"msg"`
}

// accessToken returns the app's access token through the TokenStore. A
// TokenStore failure that is not a *providers.Error (Redis down, context
// done) is ClassRetryable for op: no request has left.
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

// fetchToken is the [providers.FetchFunc] of the app: POST
// {base}{prefix}{token_path} with the form grant_type=client_credentials,
// client_id, client_secret; not KSO-signed. It makes exactly one request.
// The lifetime is expires_in (7200 s public, 86400 s private;
// DefaultTokenLifetime when absent). Failures: network, 5xx → retryable;
// 429, 503 → throttled; a refusal (non-zero code, 4xx) → app disabled (wrong
// id or secret, app stopped). Errors never contain the secret.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.cfg.AppID}, "client_secret": {c.cfg.AppSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+c.cfg.UnsignedPrefix+c.cfg.TokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opToken, Class: providers.ClassAppDisabled, Message: "bad token URL (check base_url)", Err: c.redact(err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opToken, Class: providers.ClassRetryable, Message: "token request failed", Err: c.redact(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opToken, Class: providers.ClassRetryable, HTTPStatus: resp.StatusCode, Message: "reading token response", Err: c.redact(err)}
	}
	var r tokenResponse
	decErr := json.Unmarshal(data, &r)
	switch st := resp.StatusCode; {
	case st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable:
		return "", 0, &providers.Error{Provider: ProviderName, Op: opToken, Class: providers.ClassThrottled, HTTPStatus: st, Code: r.Code,
			Message: c.redactText(r.Msg), RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now())}
	case st >= 500:
		return "", 0, &providers.Error{Provider: ProviderName, Op: opToken, Class: providers.ClassRetryable, HTTPStatus: st, Code: r.Code, Message: c.redactText(r.Msg)}
	case st < 200 || st > 299 || r.Code != 0:
		return "", 0, &providers.Error{Provider: ProviderName, Op: opToken, Class: providers.ClassAppDisabled, HTTPStatus: st, Code: r.Code,
			Message: "token refused (check app_id and app_secret): " + c.redactText(r.Msg)}
	case decErr != nil || r.AccessToken == "":
		return "", 0, &providers.Error{Provider: ProviderName, Op: opToken, Class: providers.ClassRetryable, HTTPStatus: st, Message: "no access_token in response"}
	}
	ttl := time.Duration(r.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = DefaultTokenLifetime
	}
	return r.AccessToken, ttl, nil
}
