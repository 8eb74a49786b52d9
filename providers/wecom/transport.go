package wecom

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

// defaultThrottleDelay is the RetryAfter of an HTTP 429 or 503 without a usable
// Retry-After header.
const defaultThrottleDelay = 5 * time.Second

// apiStatus is the errcode and errmsg every WeCom response carries.
type apiStatus struct {
	ErrCode *int   `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// code is the errcode, 0 when absent.
func (s apiStatus) code() int {
	if s.ErrCode == nil {
		return 0
	}
	return *s.ErrCode
}

// call POSTs body to path with the access token of tenant ("" for a
// self-built app) and returns the response body and its errcode. When WeCom
// says the token is bad (40014, 42001, 40001 on a business call; see
// errcodeTable), call invalidates exactly that token in the TokenStore
// (compare-and-delete), gets a fresh one and POSTs the same body bytes once
// more; the second answer is returned whatever it is, for the caller to
// classify. The errcode is not turned into an error here.
func (c *Client) call(ctx context.Context, tenant, op, path string, body []byte) ([]byte, apiStatus, error) {
	tok, key, err := c.accessToken(ctx, op, tenant)
	if err != nil {
		return nil, apiStatus{}, err
	}
	data, st, err := c.post(ctx, op, path, tok, body)
	if err != nil || !needsRefresh(st.code()) {
		return data, st, err
	}
	if err := c.tokens.Invalidate(ctx, key, tok); err != nil {
		return nil, st, &providers.Error{
			Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Code: st.code(),
			Message: "access token rejected and invalidating it failed", Err: c.redact(err, tok),
		}
	}
	tok, _, err = c.accessToken(ctx, op, tenant)
	if err != nil {
		return nil, st, err
	}
	return c.post(ctx, op, path, tok, body)
}

// post sends one POST with token and decodes the errcode of the answer. A
// response without errcode is treated like an undecodable one: the request may
// have been applied.
func (c *Client) post(ctx context.Context, op, path, tok string, body []byte) ([]byte, apiStatus, error) {
	data, err := c.do(ctx, op, http.MethodPost, path, url.Values{"access_token": {tok}}, body, true, tok)
	if err != nil {
		return nil, apiStatus{}, err
	}
	var st apiStatus
	if err := json.Unmarshal(data, &st); err != nil || st.ErrCode == nil {
		if err == nil {
			err = errors.New("no errcode in response")
		}
		return nil, apiStatus{}, &providers.Error{
			Provider: ProviderName, Op: op, Class: providers.ClassUnknownOutcome,
			Message: "undecodable response", Err: err,
		}
	}
	st.ErrMsg = c.redactText(st.ErrMsg, tok)
	return data, st, nil
}

// do sends one request and returns the body of a 2xx response; every failure
// comes back as a classified *providers.Error with secrets (the app secret and
// the values in secrets) redacted.
//
// sideEffects says whether the request may change something at WeCom (every call
// but gettoken). For such a request a failure after the request was written
// (timeout, connection reset, EOF, unreadable body, 5xx) is
// ClassUnknownOutcome; one before it was written (DNS, dial, connection refused,
// TLS handshake, context done before sending) is ClassRetryable. A request
// without side effects is simply retryable.
//
// HTTP status classes: 429 and 503 → throttled, RetryAfter from Retry-After
// (seconds or HTTP date; defaultThrottleDelay when absent); other 5xx → unknown
// outcome (retryable without side effects); 408 → retryable; 401, 403, 404, 405
// and 407 → app disabled (a wrong base_url or a proxy refusing us: nothing a
// message can fix, and archiving would lose every message of the app); other
// 4xx → permanent.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body []byte, sideEffects bool, secrets ...string) ([]byte, error) {
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
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path+"?"+query.Encode(), rd)
	if err != nil {
		return nil, fail(providers.ClassAppDisabled, "bad request URL (check base_url)", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if sideEffects && wrote.Load() {
			return nil, fail(providers.ClassUnknownOutcome, "request sent, no response", err)
		}
		return nil, fail(providers.ClassRetryable, "request not sent", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.statusError(op, resp, sideEffects)
	}
	if err != nil {
		class := providers.ClassRetryable
		if sideEffects {
			class = providers.ClassUnknownOutcome
		}
		return nil, fail(class, "reading response", err)
	}
	return data, nil
}

// statusError classifies a non-2xx HTTP response (see do).
func (c *Client) statusError(op string, resp *http.Response, sideEffects bool) *providers.Error {
	e := &providers.Error{Provider: ProviderName, Op: op, HTTPStatus: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests, code == http.StatusServiceUnavailable:
		e.Class = providers.ClassThrottled
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
	case code == http.StatusRequestTimeout:
		e.Class = providers.ClassRetryable
	case code == http.StatusUnauthorized, code == http.StatusForbidden, code == http.StatusNotFound,
		code == http.StatusMethodNotAllowed, code == http.StatusProxyAuthRequired:
		e.Class = providers.ClassAppDisabled
	case code >= 400 && code < 500:
		e.Class = providers.ClassPermanent
	case sideEffects:
		e.Class = providers.ClassUnknownOutcome
	default:
		e.Class = providers.ClassRetryable
	}
	return e
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date (relative
// to now, never negative). Absent or unreadable gives defaultThrottleDelay.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return defaultThrottleDelay
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return defaultThrottleDelay
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return defaultThrottleDelay
}

// redactedQuery are the query parameters whose values never appear in errors.
var redactedQuery = []string{"corpsecret", "access_token", "suite_access_token"}

// redact returns err without secrets: a *url.Error (which net/http fills with the
// full request URL, query included) gets its URL redacted, and if the text still
// contains the app or suite secret or one of secrets, the error is replaced by
// its redacted text.
func (c *Client) redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		cp := *ue
		cp.URL = redactURL(ue.URL)
		if ue == err {
			err = &cp
		} else {
			err = &redactedError{msg: strings.Replace(err.Error(), ue.Error(), cp.Error(), 1)}
		}
	}
	msg := err.Error()
	if red := c.redactText(msg, secrets...); red != msg {
		return &redactedError{msg: red}
	}
	return err
}

// redactText replaces the app secret, the suite secret and secrets (raw and
// query-escaped) in s.
func (c *Client) redactText(s string, secrets ...string) string {
	for _, sec := range append([]string{c.cfg.Secret, c.cfg.SuiteSecret}, secrets...) {
		if sec == "" {
			continue
		}
		s = strings.ReplaceAll(s, sec, "REDACTED")
		s = strings.ReplaceAll(s, url.QueryEscape(sec), "REDACTED")
	}
	return s
}

// redactURL returns u with secret query values and any password replaced.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL redacted)"
	}
	q := p.Query()
	for _, k := range redactedQuery {
		if q.Has(k) {
			q.Set(k, "REDACTED")
		}
	}
	p.RawQuery = q.Encode()
	return p.Redacted()
}

// redactedError is an error whose text had secrets removed; the original chain is
// dropped because it still holds them.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }
