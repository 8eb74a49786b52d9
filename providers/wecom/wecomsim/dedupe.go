package wecomsim

import (
	"crypto/sha256"
	"net/http"
	"time"
)

// The duplicate check is modelled as the package documentation describes.

type dedupeKey struct {
	app  appKey
	body [sha256.Size]byte
}

type dedupeEntry struct {
	msg   *message
	until time.Time
}

// duplicateLocked returns the original message body duplicates, if the app sent
// it with the duplicate check on and its interval has not passed; s.mu must be held.
func (s *Sim) duplicateLocked(a *app, body []byte, now time.Time) *message {
	k := dedupeKey{app: a.key, body: sha256.Sum256(body)}
	e := s.dedupe[k]
	if e == nil {
		return nil
	}
	if !now.Before(e.until) {
		delete(s.dedupe, k)
		return nil
	}
	return e.msg
}

// rememberLocked starts the duplicate-check interval of m; s.mu must be held.
func (s *Sim) rememberLocked(a *app, body []byte, m *message, interval time.Duration) {
	if s.dedupeAdds++; s.dedupeAdds%1024 == 0 {
		for k, e := range s.dedupe {
			if !m.at.Before(e.until) {
				delete(s.dedupe, k)
			}
		}
	}
	s.dedupe[dedupeKey{app: a.key, body: sha256.Sum256(body)}] = &dedupeEntry{msg: m, until: m.at.Add(interval)}
}

// suppressLocked answers a duplicate of m and records it; s.mu must be held.
func (s *Sim) suppressLocked(m *message, now time.Time, rec *Request) reply {
	m.suppressed++
	s.rec.suppressed = append(s.rec.suppressed, Suppressed{
		At: now, CorpID: m.app.CorpID, AgentID: m.app.AgentID, MsgID: m.id, OriginalAt: m.at, Body: m.body,
	})
	for _, u := range m.recipients {
		s.rec.counter(u).Suppressed++
	}
	s.notifyLocked()
	rec.ErrCode = m.resp.ErrCode
	rec.MsgID = m.id
	rec.Duplicate = true
	return reply{status: http.StatusOK, v: m.resp}
}
