package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/msgdispatch/msgdispatch/internal/config"
)

// token is a configured bearer token, kept as its SHA-256 only.
type token struct {
	name      string
	sum       [sha256.Size]byte
	apps      []string
	share     int    // percent of an app's daily cap, 0 = none
	dashboard string // config.Dashboard*
}

// may reports whether t may use app.
func (t *token) may(app string) bool { return slices.Contains(t.apps, app) }

// tokens are the configured tokens.
type tokens []*token

// newTokens hashes the configured tokens (a token_sha256 is taken as is).
func newTokens(cfg []config.APIToken) (tokens, error) {
	out := make(tokens, 0, len(cfg))
	for i, c := range cfg {
		t := &token{name: c.Name, apps: c.Apps, share: c.DailyPercent, dashboard: c.Dashboard}
		if c.Token != "" {
			t.sum = sha256.Sum256([]byte(c.Token))
		} else {
			b, err := hex.DecodeString(c.TokenSHA256)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("httpapi: api.tokens[%d].token_sha256: want 64 hex digits", i)
			}
			copy(t.sum[:], b)
		}
		out = append(out, t)
	}
	return out, nil
}

// find returns the token whose SHA-256 is that of secret, comparing in
// constant time with every configured token (no early exit), or nil.
func (ts tokens) find(secret string) *token {
	sum := sha256.Sum256([]byte(secret))
	var found *token
	for _, t := range ts {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found = t
		}
	}
	return found
}

// byName returns the token called name, or nil.
func (ts tokens) byName(name string) *token {
	for _, t := range ts {
		if t.name == name {
			return t
		}
	}
	return nil
}

type tokenKey struct{}

// tokenOf returns the authenticated token of r (set by authenticate).
func tokenOf(r *http.Request) *token { t, _ := r.Context().Value(tokenKey{}).(*token); return t }

// authenticate requires a valid "Authorization: Bearer <token>" header.
func (s *Server) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(h, " ")
		if h == "" {
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Field: "authorization", Message: "missing bearer token (Authorization: Bearer <token>)"})
			return
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Field: "authorization", Message: "want Authorization: Bearer <token>"})
			return
		}
		t := s.tokens.find(strings.TrimSpace(secret))
		if t == nil {
			writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Field: "authorization", Message: "unknown token"})
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	}
}

// forbidden is the 403 of a token that may not use app.
func forbidden(t *token, app, field string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Field: field,
		Message: fmt.Sprintf("token %s may not use app %q", t.name, app)}
}

// appScoped serves h only for a token that may use the path's {app} (403
// naming "app" otherwise); it runs behind authenticate.
func (s *Server) appScoped(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t := tokenOf(r); t == nil || !t.may(r.PathValue("app")) {
			writeError(w, forbidden(t, r.PathValue("app"), "app"))
			return
		}
		h.ServeHTTP(w, r)
	}
}
