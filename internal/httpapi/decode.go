package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// decodeBody reads r's JSON object body (at most MaxBody bytes) into v,
// strictly: an unknown field, a wrong type or trailing data is an error
// naming the field. optional allows an empty body (v is left as is).
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) *Error {
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
