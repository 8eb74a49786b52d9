package xiezuosim

import "net/http"

// Result codes the simulator answers. WPS publishes no v2 code table
// (the WPS open-platform documentation): these numbers are the simulator's own, in the
// "<HTTP status><6 digits>" pattern seen on v7; the HTTP status and the msg
// text are what the client classifies by.
const (
	CodeOK = 0
	// CodeBadRequest: malformed body or a field WPS refuses (HTTP 400).
	CodeBadRequest = 400000001
	// CodeInvalidRecipient: a recipient is unknown or not in the app's
	// company (HTTP 200, result non-zero; nothing delivered).
	CodeInvalidRecipient = 400000002
	// CodeContentTooLong: more than 5000 characters or 20 card components.
	CodeContentTooLong = 400000003
	// CodeCtxIDInvalid: ctx_id too long, missing for utype 1, or repeated
	// when Options.RejectDuplicateCtxID.
	CodeCtxIDInvalid = 400000004
	// CodeCtxNotFound: update of an unknown ctx_id.
	CodeCtxNotFound = 400000005
	// CodeNotUpdatable: update of a message sent with utype 0.
	CodeNotUpdatable = 400000006
	// CodeTokenInvalid and CodeTokenExpired: the company_token (HTTP 401).
	CodeTokenInvalid = 401000001
	CodeTokenExpired = 401000002
	// CodeBadSignature, CodeBadDate, CodeUnknownApp: refused auth (HTTP 403).
	CodeBadSignature = 403000001
	CodeBadDate      = 403000002
	CodeUnknownApp   = 403000003
	// CodeRateLimited: HTTP 429 (injected only; no limit is documented).
	CodeRateLimited = 429000001
	// CodeSystemError: HTTP 500 (injected).
	CodeSystemError = 500000001
)

var codeText = map[int]string{
	CodeOK:               "ok",
	CodeBadRequest:       "invalid parameter",
	CodeInvalidRecipient: "invalid receiver",
	CodeContentTooLong:   "content too long",
	CodeCtxIDInvalid:     "invalid ctx_id",
	CodeCtxNotFound:      "ctx_id not found",
	CodeNotUpdatable:     "msg not updatable",
	CodeTokenInvalid:     "company_token invalid",
	CodeTokenExpired:     "company_token expired",
	CodeBadSignature:     "invalid signature",
	CodeBadDate:          "invalid signature: date out of range",
	CodeUnknownApp:       "app not found: permission denied",
	CodeRateLimited:      "rate limit exceeded",
	CodeSystemError:      "system error",
}

// codeStatus is the HTTP status a code is answered with.
func codeStatus(code int) int {
	switch code / 1000000 {
	case 401:
		return http.StatusUnauthorized
	case 403:
		return http.StatusForbidden
	case 429:
		return http.StatusTooManyRequests
	case 500:
		return http.StatusInternalServerError
	}
	if code == CodeBadRequest {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// CodeText is the msg the simulator answers with code.
func CodeText(code int) string {
	if s, ok := codeText[code]; ok {
		return s
	}
	return "error"
}
