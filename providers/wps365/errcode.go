package wps365

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Errors callers can test with errors.Is on what Send, Update and Recall
// return, without knowing WPS codes. Each is wrapped in a
// *providers.Error of class permanent.
var (
	// ErrNotUpdatable: the message cannot be updated — it was sent with
	// messages/batch_create, is not a card, or is a card that is not shared
	// (WPS answers "msg not updatable"). The providers.Error carrying it
	// also has Reason providers.ErrNotUpdatable; [Client.Update] turns it
	// into unreachable users.
	ErrNotUpdatable = errors.New("wps365: message not updatable (batch_create message, not a card, or not a shared card)")
	// ErrMessageGone: WPS does not know the message (HTTP 404: deleted,
	// recalled, or never sent by this app).
	ErrMessageGone = errors.New("wps365: message not found")
)

// defaultThrottleDelay is the RetryAfter of an HTTP 429 or 503 (or a
// 429xxxxxx code) without a usable Retry-After header.
const defaultThrottleDelay = 5 * time.Second

// codeStatus is the HTTP status a v7 code starts with: codes follow
// "<HTTP status><6 digits>" (400000002, 403000001; the WPS open-platform documentation,
// inferred). It is 0 for a code of another shape.
func codeStatus(code int) int {
	if code >= 100_000_000 && code <= 599_999_999 {
		return code / 1_000_000
	}
	return 0
}

// classify returns the error of a business call that WPS refused: HTTP
// status status (0 for a transport-level success with a non-zero code),
// code and msg from the body (code 0 when the body had none). It is the only
// place v7 answers are classified:
//
//   - "not updatable" in msg → permanent, wrapping ErrNotUpdatable, with
//     Reason providers.ErrNotUpdatable;
//   - HTTP 429 or code 429xxxxxx, HTTP 503 → throttled, RetryAfter from
//     Retry-After (default 5 s);
//   - other 5xx (HTTP or code) → retryable: the gateway answered, so the
//     request was refused rather than lost (an assumption, see doc.go);
//   - HTTP 401 or code 401xxxxxx (after the one token refresh) → app
//     disabled: credentials or signing are broken;
//   - HTTP 404 or code 404xxxxxx → permanent, wrapping ErrMessageGone;
//   - code 400xxxxxx and 403xxxxxx → permanent (bad parameter; the
//     company's plan lacks the API, 403000001);
//   - HTTP 403 without a code → app disabled (signing not enabled or scope
//     kso.chat_message.readwrite missing);
//   - anything else → permanent.
func (c *Client) classify(op string, status, code int, msg string, h http.Header) *providers.Error {
	e := &providers.Error{Provider: ProviderName, Op: op, Code: code, HTTPStatus: status, Message: msg}
	cs := codeStatus(code)
	switch {
	case strings.Contains(strings.ToLower(msg), "not updatable"):
		e.Class, e.Err, e.Reason = providers.ClassPermanent, ErrNotUpdatable, providers.ErrNotUpdatable
	case status == http.StatusTooManyRequests, cs == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		e.Class = providers.ClassThrottled
		e.RetryAfter = retryAfter(h.Get("Retry-After"), c.now())
	case status >= 500, cs >= 500:
		e.Class = providers.ClassRetryable
	case status == http.StatusUnauthorized, cs == http.StatusUnauthorized:
		e.Class = providers.ClassAppDisabled
	case status == http.StatusNotFound, cs == http.StatusNotFound:
		e.Class, e.Err = providers.ClassPermanent, ErrMessageGone
	case cs == http.StatusBadRequest, cs == http.StatusForbidden:
		e.Class = providers.ClassPermanent
	case status == http.StatusForbidden:
		e.Class = providers.ClassAppDisabled
	default:
		e.Class = providers.ClassPermanent
	}
	return e
}

// needsRefresh reports whether an answer says the bearer token is bad: HTTP
// 401 or a 401xxxxxx code.
func needsRefresh(status, code int) bool {
	return status == http.StatusUnauthorized || codeStatus(code) == http.StatusUnauthorized
}
