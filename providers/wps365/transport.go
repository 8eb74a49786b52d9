package wps365

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// maxResponseBytes bounds how much of a response is read.
const maxResponseBytes = 1 << 20

// contentTypeJSON is the Content-Type of every v7 business call, signed as is.
const contentTypeJSON = "application/json"

// envelope is the answer of every v7 business call: {"code":0,"msg":"…","data":{…}}.
type envelope struct {
	Code *int            `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data"`
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// call POSTs body (the exact bytes, signed with KSO-1) to path with the app's
// bearer token and returns the data of a code-0 answer. When WPS says the
// token is bad (HTTP 401 or a 401xxxxxx code), call invalidates exactly that
// token (compare-and-delete), fetches a fresh one and sends the same bytes
// once more; the second answer is classified whatever it is.
func (c *Client) call(ctx context.Context, op, path string, body []byte) (json.RawMessage, error) {
	tok, err := c.accessToken(ctx, op)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, op, path, tok, body)
	if err != nil {
		return nil, err
	}
	env, decErr := decodeEnvelope(resp.body)
	if needsRefresh(resp.status, env.code()) {
		if err := c.tokens.Invalidate(ctx, c.tokenKey, tok); err != nil {
			return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, HTTPStatus: resp.status,
				Message: "access token refused and invalidating it failed", Err: c.redact(err, tok)}
		}
		if tok, err = c.accessToken(ctx, op); err != nil {
			return nil, err
		}
		if resp, err = c.do(ctx, op, path, tok, body); err != nil {
			return nil, err
		}
		env, decErr = decodeEnvelope(resp.body)
	}
	ok2xx := resp.status >= 200 && resp.status <= 299
	if ok2xx && decErr != nil {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassUnknownOutcome, HTTPStatus: resp.status,
			Message: "undecodable response", Err: decErr}
	}
	if ok2xx && env.code() == 0 {
		return env.Data, nil
	}
	status := resp.status
	if ok2xx {
		status = 0
	}
	return nil, c.classify(op, status, env.code(), c.redactText(env.Msg, tok), resp.header)
}

func (e envelope) code() int {
	if e.Code == nil {
		return 0
	}
	return *e.Code
}

func decodeEnvelope(b []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return envelope{}, err
	}
	if env.Code == nil {
		return env, errors.New("no code in response")
	}
	return env, nil
}

// do sends one signed POST of body to path and returns the answer, whatever
// its status. A transport failure before the request was written (dial,
// connection refused, context done) is ClassRetryable; one after it
// (timeout, reset, EOF, unreadable body) is ClassUnknownOutcome: WPS may
// have applied it.
func (c *Client) do(ctx context.Context, op, path, tok string, body []byte) (*response, error) {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+c.cfg.UnsignedPrefix+path, bytes.NewReader(body))
	if err != nil {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Message: "bad request URL (check base_url)", Err: err}
	}
	req.Header.Set("Content-Type", contentTypeJSON)
	req.Header.Set("Authorization", "Bearer "+tok)
	SignRequest(req, c.cfg.AppID, c.cfg.AppSecret, c.cfg.UnsignedPrefix, body, c.now())
	resp, err := c.hc.Do(req)
	if err != nil {
		if wrote.Load() {
			return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassUnknownOutcome, Message: "request sent, no response", Err: c.redact(err, tok)}
		}
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "request not sent", Err: c.redact(err, tok)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassUnknownOutcome, HTTPStatus: resp.StatusCode,
			Message: "reading response", Err: c.redact(err, tok)}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (relative to now, never negative). Absent or unreadable gives
// defaultThrottleDelay.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return defaultThrottleDelay
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return defaultThrottleDelay
}

// redact returns err, or its text with the app secret and secrets replaced
// when it contains one (the original chain is then dropped).
func (c *Client) redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := c.redactText(msg, secrets...); red != msg {
		return errors.New(red)
	}
	return err
}

// redactText replaces the app secret and secrets in s.
func (c *Client) redactText(s string, secrets ...string) string {
	for _, sec := range append([]string{c.cfg.AppSecret}, secrets...) {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	return s
}
