package xiezuo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// DefaultTokenLifetime is the company_token lifetime assumed when the answer
// does not give expires_in (no document states it; clients assume 1–2 h,
// the WPS open-platform documentation).
const DefaultTokenLifetime = time.Hour

// tokenResponse is the company_token answer: {"company_token":…,"expires_in":…}
// (public cloud), or the same inside "token" (a private deployment's shape).
type tokenResponse struct {
	CompanyToken string `json:"company_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Token        *struct {
		CompanyToken string `json:"company_token"`
		ExpiresIn    int64  `json:"expires_in"`
	} `json:"token"`
}

// companyToken returns the app's company_token through the TokenStore. A
// store failure that is not a *providers.Error is ClassRetryable for op (no
// request has left).
func (c *Client) companyToken(ctx context.Context, op string) (string, error) {
	if c.tokens == nil {
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Message: "no TokenStore configured"}
	}
	tok, err := c.tokens.Token(ctx, c.key, c.FetchToken)
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) {
			return "", err
		}
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "getting the company_token", Err: c.redact(err)}
	}
	if tok == "" {
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "token store returned an empty company_token"}
	}
	return tok, nil
}

// FetchToken is the app's [providers.FetchFunc]: one signed GET
// {base}{company_token_path}?app_id={app_key}, never retried. A refused fetch
// (401, 403, 404, a non-zero result other than throttling) is
// ClassAppDisabled: a token fetch says nothing about a message, only about the
// app's credentials; 429 is throttled; 5xx and network errors retryable.
// Errors never hold the secret or a token.
func (c *Client) FetchToken(ctx context.Context) (string, time.Duration, error) {
	resp, err := c.do(ctx, opToken, http.MethodGet, c.cfg.CompanyTokenPath, url.Values{"app_id": {c.cfg.AppKey}}, nil, false)
	if err != nil {
		return "", 0, err
	}
	if resp.status < 200 || resp.status > 299 || resp.st.code() != 0 {
		e := &providers.Error{Provider: ProviderName, Op: opToken, HTTPStatus: resp.status, Code: resp.st.code(),
			Message: nonEmpty(resp.st.Msg, http.StatusText(resp.status)), Class: providers.ClassAppDisabled}
		if resp.status >= 200 && resp.status <= 299 {
			e.HTTPStatus = 0
		}
		switch {
		case resp.status == http.StatusRequestTimeout:
			e.Class = providers.ClassRetryable
		case msgMeans(resp.st.Msg, throttleWords):
			e.Class, e.RetryAfter = providers.ClassThrottled, defaultThrottleDelay
		}
		return "", 0, e
	}
	var r tokenResponse
	_ = json.Unmarshal(resp.data, &r) // result was decoded from the same bytes
	tok, exp := r.CompanyToken, r.ExpiresIn
	if tok == "" && r.Token != nil {
		tok, exp = r.Token.CompanyToken, r.Token.ExpiresIn
	}
	if tok == "" {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opToken, Class: providers.ClassRetryable, Message: "no company_token in response"}
	}
	ttl := time.Duration(exp) * time.Second
	if ttl <= 0 {
		ttl = DefaultTokenLifetime
	}
	return tok, ttl, nil
}
