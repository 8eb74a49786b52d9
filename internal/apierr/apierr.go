// Package apierr is the error body and the strict JSON request decoding the
// dispatcher's HTTP endpoints share (internal/httpapi, internal/quotaapi):
// every refusal is {"error":{"code","message","field"}} naming the field.
package apierr

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

// MaxBody is the largest request body read: 1 MiB.
const MaxBody = 1 << 20

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

// Invalid is a 400 naming field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// Write writes e as the error body.
func Write(w http.ResponseWriter, e *Error) {
	WriteJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// DecodeBody reads r's JSON object body (at most MaxBody bytes) into v,
// strictly: an unknown field, a wrong type or trailing data is an error
// naming the field. optional allows an empty body (v is left as is).
func DecodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) *Error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Field: "request_body", Message: fmt.Sprintf("the body is over %d bytes", MaxBody)}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: "request_body", Message: "reading the body failed"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: "request_body", Message: "empty body: want a JSON object"}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeMediaType, Field: "content-type", Message: fmt.Sprintf("want application/json, got %q", ct)}
		}
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
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Field: field, Message: fmt.Sprintf("want %s, got a JSON %s", jsonType(te.Type.String()), te.Value)}
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

// jsonType says a Go type of the request in JSON terms.
func jsonType(goType string) string {
	switch {
	case goType == "string" || strings.HasSuffix(goType, ".Kind"):
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "int"):
		return "an integer"
	}
	return "an object"
}
