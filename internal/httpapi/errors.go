package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/msgdispatch/msgdispatch/internal/apierr"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
)

// The error body and its codes are apierr's, shared with the quota
// authority's handlers.
type Error = apierr.Error

// Error codes of the API's error responses (apierr's).
const (
	CodeInvalid        = apierr.CodeInvalid
	CodeInvalidJSON    = apierr.CodeInvalidJSON
	CodeUnauthorized   = apierr.CodeUnauthorized
	CodeForbidden      = apierr.CodeForbidden
	CodeNotFound       = apierr.CodeNotFound
	CodeConflict       = apierr.CodeConflict
	CodeNotUpdatable   = apierr.CodeNotUpdatable
	CodeTooLarge       = apierr.CodeTooLarge
	CodeMediaType      = apierr.CodeMediaType
	CodeShareExhausted = apierr.CodeShareExhausted
	CodeInternal       = apierr.CodeInternal
	CodeCancelPending  = apierr.CodeCancelPending
)

// invalid is a 400 naming field.
func invalid(field, format string, args ...any) *Error { return apierr.Invalid(field, format, args...) }

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }

// writeError writes e as the error body.
func writeError(w http.ResponseWriter, e *Error) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="msgdispatch"`)
	}
	apierr.Write(w, e)
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
