package xiezuo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// maxResponseBytes bounds how much of a response is read.
const maxResponseBytes = 1 << 20

// defaultThrottleDelay is the RetryAfter of a throttled answer without a
// usable Retry-After header.
const defaultThrottleDelay = 5 * time.Second

// apiStatus is the result and msg a v2 response carries ("result == 0 means
// success"; the WPS open-platform documentation).
type apiStatus struct {
	Result *int   `json:"result"`
	Msg    string `json:"msg"`
}

// code is result, 0 when absent.
func (s apiStatus) code() int {
	if s.Result == nil {
		return 0
	}
	return *s.Result
}

// response is a decoded answer: HTTP status, result and the raw body.
type response struct {
	status int
	st     apiStatus
	data   []byte
}

// call sends body with method to path?company_token=… and returns the 2xx
// answer with result 0. When WPS says the token is bad (HTTP 401, or a result
// whose msg says the token is invalid or expired), call invalidates exactly
// that token (compare-and-delete), gets a fresh one and sends the same body
// bytes once more; the second answer is classified whatever it is.
func (c *Client) call(ctx context.Context, op, method, path string, body []byte) ([]byte, error) {
	tok, err := c.companyToken(ctx, op)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, op, method, path, url.Values{"company_token": {tok}}, body, true, tok)
	if err == nil && !tokenRejected(resp) {
		return resp.data, c.answerError(op, resp, tok, false)
	}
	if err != nil {
		return nil, err
	}
	if err := c.tokens.Invalidate(ctx, c.key, tok); err != nil {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, HTTPStatus: resp.status, Code: resp.st.code(),
			Message: "company_token rejected and invalidating it failed", Err: c.redact(err, tok)}
	}
	if tok, err = c.companyToken(ctx, op); err != nil {
		return nil, err
	}
	resp, err = c.do(ctx, op, method, path, url.Values{"company_token": {tok}}, body, true, tok)
	if err != nil {
		return nil, err
	}
	return resp.data, c.answerError(op, resp, tok, true)
}

// do sends one signed request and decodes result/msg from the answer. A
// transport failure is a classified *providers.Error: before the request was
// written ClassRetryable, after it (timeout, reset, EOF) ClassUnknownOutcome
// when sideEffects. The HTTP status is not classified here (answerError).
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body []byte, sideEffects bool, secrets ...string) (*response, error) {
	fail := func(class providers.Class, msg string, err error) error {
		return &providers.Error{Provider: ProviderName, Op: op, Class: class, Message: msg, Err: c.redact(err, secrets...)}
	}
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path+"?"+query.Encode(), rd)
	if err != nil {
		return nil, fail(providers.ClassAppDisabled, "bad request URL (check base_url and the paths)", err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", ContentTypeJSON)
	}
	c.signer.Sign(req, body, c.now())
	resp, err := c.hc.Do(req)
	if err != nil {
		if sideEffects && wrote.Load() {
			return nil, fail(providers.ClassUnknownOutcome, "request sent, no response", err)
		}
		return nil, fail(providers.ClassRetryable, "request not sent", err)
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	out := &response{status: resp.StatusCode, data: data}
	_ = json.Unmarshal(data, &out.st) // an HTML error page has no result
	out.st.Msg = c.redactText(out.st.Msg, secrets...)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		e := &providers.Error{Provider: ProviderName, Op: op, HTTPStatus: resp.StatusCode, Code: out.st.code(), Message: nonEmpty(out.st.Msg, http.StatusText(resp.StatusCode))}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			e.Class, e.RetryAfter = providers.ClassThrottled, retryAfter(resp.Header.Get("Retry-After"), c.now())
		case sideEffects:
			e.Class = providers.ClassUnknownOutcome
		default:
			e.Class = providers.ClassRetryable
		}
		return nil, e
	case rerr != nil:
		class := providers.ClassRetryable
		if sideEffects {
			class = providers.ClassUnknownOutcome
		}
		return nil, fail(class, "reading response", rerr)
	case resp.StatusCode >= 200 && resp.StatusCode <= 299 && out.st.Result == nil:
		class := providers.ClassRetryable
		if sideEffects {
			class = providers.ClassUnknownOutcome
		}
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: class, HTTPStatus: resp.StatusCode, Message: "undecodable response: no result"}
	}
	return out, nil
}

// tokenRejected reports whether an answer says the company_token is bad.
func tokenRejected(r *response) bool {
	return r.status == http.StatusUnauthorized || (r.st.code() != 0 && msgMeans(r.st.Msg, tokenWords) && !msgMeans(r.st.Msg, authWords))
}

// answerError classifies an answer that is not a transport failure: nil for a
// 2xx with result 0. refreshed says the token was fetched anew for this
// answer, so a token complaint now means the app's credentials are broken.
func (c *Client) answerError(op string, r *response, tok string, refreshed bool) error {
	if r.status >= 200 && r.status <= 299 && r.st.code() == 0 {
		return nil
	}
	e := &providers.Error{Provider: ProviderName, Op: op, HTTPStatus: r.status, Code: r.st.code(), Message: nonEmpty(r.st.Msg, http.StatusText(r.status))}
	if r.status >= 200 && r.status <= 299 {
		e.HTTPStatus = 0
	}
	e.Class = classify(r, refreshed)
	if e.Class == providers.ClassThrottled {
		e.RetryAfter = defaultThrottleDelay
	}
	return e
}

// redactText replaces the app secret and secrets (raw and query-escaped) in s.
func (c *Client) redactText(s string, secrets ...string) string {
	for _, sec := range append([]string{c.cfg.AppSecret}, secrets...) {
		if sec == "" {
			continue
		}
		s = strings.ReplaceAll(s, sec, "REDACTED")
		s = strings.ReplaceAll(s, url.QueryEscape(sec), "REDACTED")
	}
	return s
}

// redact returns err without secrets: its text with the secret, the tokens
// and every company_token query value replaced (the chain is dropped, since
// it still holds them).
func (c *Client) redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := c.redactText(err.Error(), secrets...)
	if i := strings.Index(msg, "company_token="); i >= 0 {
		j := strings.IndexAny(msg[i:], "&\" ")
		if j < 0 {
			j = len(msg) - i
		}
		msg = msg[:i] + "company_token=REDACTED" + msg[i+j:]
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, timeout: isTimeout(err)}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// redactedError is an error whose text had secrets removed.
type redactedError struct {
	msg     string
	timeout bool
}

func (e *redactedError) Error() string { return e.msg }

// Timeout reports whether the original error was a timeout.
func (e *redactedError) Timeout() bool { return e.timeout }

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return defaultThrottleDelay
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
