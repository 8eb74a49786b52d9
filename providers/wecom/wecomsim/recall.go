package wecomsim

import (
	"encoding/json"
	"net/http"
)

type recallBody struct {
	MsgID string `json:"msgid"`
}

// handleRecall serves POST /cgi-bin/message/recall?access_token=TOKEN with body
// {"msgid":"…"} (doc 94867): errcode 0 and the message marked recalled for all
// its recipients; 42052 when it was sent more than Options.RecallWindow (24 h)
// ago; 40058 when msgid is missing, unknown, or was sent by another app
// ("请检查发消息和撤回消息是否同一个应用"). Recalling a message already recalled
// answers 0 again (an assumption; the doc is silent).
func (s *Sim) handleRecall(r *http.Request, body []byte, rec *Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	a, code := s.authLocked(r, now, rec)
	if code != CodeOK {
		return errReply(rec, code)
	}
	if hasUnicodeEscape(body) {
		return errReply(rec, CodeInvalidChar)
	}
	var b recallBody
	if err := json.Unmarshal(body, &b); err != nil {
		return errReply(rec, CodeInvalidParam)
	}
	rec.MsgID = b.MsgID
	m := s.msgs[b.MsgID]
	if b.MsgID == "" || m == nil || m.app != a {
		return errReply(rec, CodeInvalidRequestParam)
	}
	if now.Sub(m.at) > s.opts.RecallWindow {
		return errReply(rec, CodeRecallExpired)
	}
	if m.recalledAt.IsZero() {
		m.recalledAt = now
		for _, d := range m.delivered {
			d.RecalledAt = now
			s.rec.counter(d.User).Recalled++
		}
		s.rec.recalls++
		s.notifyLocked()
	}
	return errReply(rec, CodeOK)
}
