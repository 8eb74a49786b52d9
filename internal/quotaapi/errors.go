package quotaapi

import (
	"net/http"

	"github.com/msgdispatch/msgdispatch/internal/apierr"
)

// MaxBody is the largest request body the handlers read: 1 MiB.
const MaxBody = apierr.MaxBody

// Error is the error answer, {"error":{"code","message","field"}}, shared
// with the Service API (apierr).
type Error = apierr.Error

// Error codes, the Service API's.
const (
	CodeInvalid     = apierr.CodeInvalid
	CodeInvalidJSON = apierr.CodeInvalidJSON
	CodeNotFound    = apierr.CodeNotFound
	CodeTooLarge    = apierr.CodeTooLarge
	CodeMediaType   = apierr.CodeMediaType
	CodeInternal    = apierr.CodeInternal
)

func invalid(field, format string, args ...any) *Error { return apierr.Invalid(field, format, args...) }

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, e *Error) { apierr.Write(w, e) }

// decodeBody reads r's JSON object body strictly into v (apierr.DecodeBody).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *Error {
	return apierr.DecodeBody(w, r, v, false)
}
