package wecomsim

import (
	"net/http"
	"strings"
	"time"
)

// token is an issued access_token.
type token struct {
	value   string
	app     *app
	issued  time.Time
	expires time.Time
	revoked bool
}

type tokenResp struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleGetToken serves GET /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET.
//
// A call while the app's token is still valid returns the same token with the
// remaining lifetime in expires_in ("有效期内重复获取返回相同结果"); a token with
// less than a second left is replaced by a new one.
func (s *Sim) handleGetToken(r *http.Request, _ []byte, rec *Request) reply {
	q := r.URL.Query()
	corpID := strings.TrimSpace(q.Get("corpid"))
	secret := q.Get("corpsecret")
	rec.CorpID = corpID
	if corpID == "" {
		return errReply(rec, CodeMissingCorpID)
	}
	if secret == "" {
		return errReply(rec, CodeMissingSecret)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.corps[corpKey(corpID)]
	if c == nil {
		return errReply(rec, CodeInvalidCorpID)
	}
	rec.CorpID = c.id
	var a *app
	for k, cand := range s.apps {
		if k.corp == corpKey(corpID) && cand.Secret != "" && cand.Secret == secret && (cand.install == nil || !cand.install.cancelled) {
			a = cand
			break
		}
	}
	if a == nil {
		return errReply(rec, CodeInvalidSecret)
	}
	rec.AgentID = a.AgentID
	a.fetches++
	now := s.clock()
	t := s.appTokenLocked(a, now)
	return reply{status: http.StatusOK, v: tokenResp{
		ErrCode:     CodeOK,
		ErrMsg:      errMsg(CodeOK),
		AccessToken: t.value,
		ExpiresIn:   int64(t.expires.Sub(now) / time.Second),
	}}
}

// authLocked resolves the access_token of r; s.mu must be held. It returns the
// app, or the errcode to answer: 41001 missing, 40014 unknown or revoked, and
// Options.ExpiredTokenCode (default 42001) expired.
func (s *Sim) authLocked(r *http.Request, now time.Time, rec *Request) (*app, int) {
	v := r.URL.Query().Get("access_token")
	if v == "" {
		return nil, CodeMissingToken
	}
	t := s.tokens[v]
	if t == nil || t.revoked {
		return nil, CodeInvalidToken
	}
	rec.CorpID = t.app.CorpID
	rec.AgentID = t.app.AgentID
	if !now.Before(t.expires) {
		return nil, s.opts.ExpiredTokenCode
	}
	if in := t.app.install; in != nil && in.cancelled {
		return nil, CodeAuthInvalid // 授权关系无效: the corp cancelled the authorisation
	}
	return t.app, CodeOK
}

// ExpireTokens makes every access_token issued so far expire now, as WeCom may do
// "出于运营需要": calls with them get 42001 (Options.ExpiredTokenCode) and the
// next gettoken issues a new token.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	for _, t := range s.tokens {
		if t.expires.After(now) {
			t.expires = now
		}
	}
}

// RevokeToken invalidates one access_token: calls with it get 40014 and the next
// gettoken of its app issues a new token. It reports whether the token was known.
func (s *Sim) RevokeToken(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[tok]
	if t == nil {
		return false
	}
	t.revoked = true
	return true
}

// TokenFetches returns how many gettoken calls identified the app (right corpid
// and secret), whether they returned a new token or the cached one. Calls failed
// by an injected fault or by a wrong secret are not counted.
func (s *Sim) TokenFetches(corpID string, agentID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apps[appKey{corp: corpKey(corpID), agent: agentID}]; a != nil {
		return a.fetches
	}
	return 0
}

// CurrentToken returns the app's current access_token and its expiry, as the
// next gettoken would return it; ok is false when there is none valid.
func (s *Sim) CurrentToken(corpID string, agentID int64) (tok string, expires time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appKey{corp: corpKey(corpID), agent: agentID}]
	if a == nil || a.token == nil || a.token.revoked || !s.clock().Before(a.token.expires) {
		return "", time.Time{}, false
	}
	return a.token.value, a.token.expires, true
}

// appTokenLocked returns app a's access_token, issuing a new one when it has none
// or it is revoked or has under a second left (a repeat fetch within validity gets
// the same token); s.mu must be held. gettoken and get_corp_token both use it.
func (s *Sim) appTokenLocked(a *app, now time.Time) *token {
	t := a.token
	if t == nil || t.revoked || t.expires.Sub(now) < time.Second {
		t = &token{app: a, issued: now, expires: now.Add(s.opts.TokenTTL)}
		for t.value == "" || s.tokens[t.value] != nil {
			t.value = s.randIDLocked(64)
		}
		s.tokens[t.value] = t
		a.token = t
	}
	return t
}
