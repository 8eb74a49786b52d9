package httpapi

import (
	"net/http"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/apierr"
)

// decodeBody reads r's JSON object body strictly into v (apierr.DecodeBody);
// optional allows an empty body.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) *Error {
	return apierr.DecodeBody(w, r, v, optional)
}

// parseTime parses an optional RFC 3339 time of field.
func parseTime(field, s string) (time.Time, *Error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, invalid(field, "want an RFC 3339 time like 2026-03-10T10:15:00+08:00, got %q", s)
	}
	return t, nil
}
