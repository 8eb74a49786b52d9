package quotaapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBody is the largest request body the handlers read: 1 MiB.
const MaxBody = 1 << 20

// Error codes, the same as the Service API's (internal/httpapi).
const (
	CodeInvalid     = "invalid"           // a field is missing or wrong (400)
	CodeInvalidJSON = "invalid_json"      // the body is not the JSON object expected (400)
	CodeNotFound    = "not_found"         // no such app or reservation (404)
	CodeTooLarge    = "body_too_large"    // the body is over 1 MiB (413)
	CodeMediaType   = "unsupported_media" // the body is not application/json (415)
	CodeInternal    = "internal"          // the dispatcher failed (500)
)

// Error is an error answer: an HTTP status and the body
// {"error":{"code","message","field"}}, field naming the request field at
// fault ("recipients[2]", "at", "reservation_id", "app", "request_body").
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// decodeBody reads r's JSON object body (at most MaxBody bytes) into v
// strictly: an unknown field, a wrong type or trailing data is an error
// naming the field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *Error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Field: "request_body", Message: fmt.Sprintf("the body is over %d bytes", MaxBody)}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: "request_body", Message: "reading the body failed"}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeMediaType, Field: "content-type", Message: fmt.Sprintf("want application/json, got %q", ct)}
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: "request_body", Message: "empty body: want a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: "request_body", Message: "data after the JSON object"}
	}
	return nil
}

// jsonError names the field of a decoding error.
func jsonError(err error) *Error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "request_body"
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: field, Message: fmt.Sprintf("want a JSON value of Go type %s, got a JSON %s", te.Type, te.Value)}
	case errors.As(err, &se):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: "request_body", Message: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: name, Message: "unknown field"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: "request_body", Message: "truncated JSON"}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: "request_body", Message: err.Error()}
}
