package xiezuo

import (
	"net/http"
	"strings"

	"github.com/msgdispatch/msgdispatch/providers"
)

// WPS publishes no v2 error-code table (the WPS open-platform documentation): a v2 answer carries
// result (0 = success) and msg. The client therefore classifies by HTTP status
// first and by what msg says second, with these word lists (lower-case).
var (
	// tokenWords: the company_token is invalid or expired; refresh once.
	tokenWords = []string{"company_token", "token expired", "token invalid", "invalid token", "token"}
	// authWords: the signature, app or permission is refused; pause the app.
	authWords = []string{"signature", "sign ", "sign_", "permission", "forbidden", "unauthorized", "app disabled", "app_key", "scope", "privilege"}
	// throttleWords: a rate limit; defer.
	throttleWords = []string{"rate limit", "too many", "frequen", "limit exceeded", "throttl"}
)

// msgMeans reports whether msg contains one of words (case-insensitive).
func msgMeans(msg string, words []string) bool {
	m := strings.ToLower(msg)
	for _, w := range words {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// classify is the class of a non-success answer that is not 429 or 5xx (those
// are classified by the transport):
//
//   - 401, or a token complaint: retryable before a refresh (call refreshes
//     first), app disabled once a fresh token was refused too;
//   - 403, 404, 405, 407, or a signature/permission complaint: app disabled
//     (bad signature, unknown app, revoked permission, wrong path: nothing a
//     message can fix);
//   - 408: retryable; a throttling complaint: throttled;
//   - anything else (400, other 4xx, a non-zero result): permanent — the
//     request was refused for its content or recipients.
func classify(r *response, refreshed bool) providers.Class {
	switch code := r.status; {
	case code == http.StatusUnauthorized || (r.st.code() != 0 && msgMeans(r.st.Msg, tokenWords) && !msgMeans(r.st.Msg, authWords)):
		if refreshed {
			return providers.ClassAppDisabled
		}
		return providers.ClassRetryable
	case code == http.StatusForbidden, code == http.StatusNotFound, code == http.StatusMethodNotAllowed,
		code == http.StatusProxyAuthRequired, msgMeans(r.st.Msg, authWords):
		return providers.ClassAppDisabled
	case code == http.StatusRequestTimeout:
		return providers.ClassRetryable
	case msgMeans(r.st.Msg, throttleWords):
		return providers.ClassThrottled
	}
	return providers.ClassPermanent
}
