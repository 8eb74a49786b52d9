package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
)

// Error codes of the API's error responses.
const (
	CodeInvalid        = "invalid"           // a field is missing or wrong (400)
	CodeInvalidJSON    = "invalid_json"      // the body is not the JSON object expected (400)
	CodeUnauthorized   = "unauthorized"      // no or unknown bearer token (401)
	CodeForbidden      = "forbidden"         // the token may not use this app (403)
	CodeNotFound       = "not_found"         // no such message or route (404)
	CodeConflict       = "conflict"          // the idempotency key holds another body (409)
	CodeNotUpdatable   = "not_updatable"     // the message ended cancelled, failed or expired (409)
	CodeTooLarge       = "body_too_large"    // the body is over 1 MiB (413)
	CodeMediaType      = "unsupported_media" // the body is not application/json (415)
	CodeShareExhausted = "daily_share_used"  // the token's share of the daily cap is used (429)
	CodeInternal       = "internal"          // the dispatcher failed (500)
	CodeCancelPending  = "cancel_pending"    // used in 202 answers only
)

// Error is an API error: an HTTP status and the JSON body
// {"error":{"code","message","field"}}. Field names the request field at
// fault (a JSON path such as "to.users[3]", or a header or path parameter:
// "idempotency_key", "authorization", "id"), or is empty.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s %s: %s", e.Status, e.Code, e.Field, e.Message)
}

// invalid is a 400 naming field.
func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError writes e as the error body.
func writeError(w http.ResponseWriter, e *Error) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="msgdispatch"`)
	}
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// fromProducer maps an error of the producer (or of the stores under it) to
// an API error; unknown errors are internal, their text not shown.
func fromProducer(err error) *Error {
	var ve *providers.ValidationError
	var ce *record.ConflictError
	switch {
	case errors.As(err, &ce):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "idempotency_key",
			Message: fmt.Sprintf("idempotency key %q already holds message %s, sent with a different body", ce.Key, ce.MessageID)}
	case errors.As(err, &ve):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: ve.Field, Message: ve.Reason}
	case errors.Is(err, record.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Field: "id", Message: "no such message (it was never sent, or its record expired)"}
	case errors.Is(err, producer.ErrNotUpdatable):
		return &Error{Status: http.StatusConflict, Code: CodeNotUpdatable, Field: "id", Message: trimPrefix(err.Error())}
	}
	return nil
}

// trimPrefix drops the "producer: update <id>: " context of a producer error.
func trimPrefix(s string) string {
	if i := strings.LastIndex(s, producer.ErrNotUpdatable.Error()); i >= 0 {
		return s[i:]
	}
	return s
}
