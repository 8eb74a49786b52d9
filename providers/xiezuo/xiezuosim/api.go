package xiezuosim

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"
)

// handleToken serves GET …/company/token?app_id=AK, signed by the app's
// scheme. A valid token is returned again while it has over a minute left.
func (s *Sim) handleToken(r *http.Request, body []byte, rec *Request) (int, apiReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[r.URL.Query().Get("app_id")]
	if a == nil {
		return errReply(rec, CodeUnknownApp)
	}
	rec.AppKey = a.Key
	now := s.clock()
	if code := verify(r, body, a, now, s.opts.MaxSkew); code != CodeOK {
		return errReply(rec, code)
	}
	s.fetches[a.Key]++
	var t *token
	for _, cand := range s.tokens {
		if cand.app == a && cand.expires.Sub(now) > time.Minute {
			t = cand
		}
	}
	if t == nil {
		t = &token{app: a, expires: now.Add(s.opts.TokenTTL)}
		for t.value == "" || s.tokens[t.value] != nil {
			t.value = s.randIDLocked(40)
		}
		s.tokens[t.value] = t
	}
	rep := apiReply{Result: CodeOK, Msg: CodeText(CodeOK), CompanyToken: t.value}
	if !s.opts.OmitExpiresIn {
		rep.ExpiresIn = int64(t.expires.Sub(now) / time.Second)
	}
	return http.StatusOK, rep
}

// sendBody is the body of a send (and, without recipients, of an update).
type sendBody struct {
	ToUsers *struct {
		CompanyID   string   `json:"company_id"`
		CompanyUIDs []string `json:"company_uids"`
	} `json:"to_users"`
	ToDepts *struct {
		CompanyID string   `json:"company_id"`
		DeptIDs   []string `json:"dept_ids"`
	} `json:"to_depts"`
	ToChats     []string `json:"to_chats"`
	ToCompanies []string `json:"to_companies"`
	AppKey      string   `json:"app_key"`
	BizType     string   `json:"biz_type"`
	CtxID       string   `json:"ctx_id"`
	CompanyID   string   `json:"company_id"`
	CompanyUID  string   `json:"company_uid"`
	UType       int      `json:"utype"`
	MsgType     int      `json:"msg_type"`
	Content     struct {
		Type    int             `json:"type"`
		Body    *string         `json:"body"`
		Content json.RawMessage `json:"content"`
	} `json:"content"`
}

// checkContent applies the documented content limits: content.type equals
// msg_type; text ≤ 5000 characters; a card ≤ 20 elements.
func checkContent(b *sendBody) int {
	if b.MsgType == 0 || b.Content.Type != b.MsgType {
		return CodeBadRequest
	}
	switch b.MsgType {
	case 1:
		if b.Content.Body == nil || *b.Content.Body == "" {
			return CodeBadRequest
		}
		if utf8.RuneCountInString(*b.Content.Body) > 5000 {
			return CodeContentTooLong
		}
	case 23:
		var card struct {
			Elements []json.RawMessage `json:"elements"`
		}
		if json.Unmarshal(b.Content.Content, &card) != nil || len(card.Elements) == 0 {
			return CodeBadRequest
		}
		if len(card.Elements) > 20 || utf8.RuneCount(b.Content.Content) > 15000 {
			return CodeContentTooLong
		}
	}
	return CodeOK
}

// handleSend serves POST …/app/messages?company_token=T.
func (s *Sim) handleSend(r *http.Request, body []byte, rec *Request) (int, apiReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, code := s.authLocked(r, body, rec)
	if code != CodeOK {
		return errReply(rec, code)
	}
	var b sendBody
	if json.Unmarshal(body, &b) != nil || b.AppKey != a.Key {
		return errReply(rec, CodeBadRequest)
	}
	rec.CtxID = b.CtxID
	if code := checkContent(&b); code != CodeOK {
		return errReply(rec, code)
	}
	if len(b.CtxID) > 36 || (b.UType == 1 && (b.CtxID == "" || b.CompanyID == "" || b.CompanyUID == "")) {
		return errReply(rec, CodeCtxIDInvalid)
	}
	if s.opts.RejectDuplicateCtxID && b.CtxID != "" && s.messages[a.Key][b.CtxID] != nil {
		return errReply(rec, CodeCtxIDInvalid)
	}
	users, via, code := s.recipientsLocked(a, &b)
	if code != CodeOK {
		return errReply(rec, code)
	}
	m := &message{ctxID: b.CtxID, messageID: s.randIDLocked(20), utype: b.UType, recipients: users}
	if b.MsgType == 23 {
		m.card = b.Content.Content
	}
	if b.CtxID != "" {
		if s.messages[a.Key] == nil {
			s.messages[a.Key] = map[string]*message{}
		}
		s.messages[a.Key][b.CtxID] = m
	}
	now := s.clock()
	for _, u := range users {
		if !s.audit.Arrive(a.Key, u, now) {
			continue // dropped over a limit (Options.DropOverLimit)
		}
		s.delivered = append(s.delivered, Delivery{Seq: len(s.delivered) + 1, At: now, AppKey: a.Key, User: u, Via: via,
			CtxID: b.CtxID, MessageID: m.messageID, MsgType: b.MsgType, BizType: b.BizType, Body: json.RawMessage(body)})
		if m.card != nil {
			s.setCardLocked(u, a.Key, b.CtxID, m.card)
		}
	}
	id := m.messageID
	if s.opts.Audit {
		id = ""
	}
	rec.MessageID = id
	return http.StatusOK, apiReply{Result: CodeOK, Msg: CodeText(CodeOK), MessageID: &id}
}

// recipientsLocked resolves exactly one target kind of the app's company to
// users; an unknown id refuses the whole request.
func (s *Sim) recipientsLocked(a *App, b *sendBody) ([]string, string, int) {
	n := 0
	for _, set := range []bool{b.ToUsers != nil, b.ToDepts != nil, len(b.ToChats) > 0, len(b.ToCompanies) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, "", CodeBadRequest
	}
	var out []string
	switch {
	case b.ToUsers != nil:
		if b.ToUsers.CompanyID != a.CompanyID || len(b.ToUsers.CompanyUIDs) == 0 {
			return nil, "", CodeInvalidRecipient
		}
		for _, u := range b.ToUsers.CompanyUIDs {
			if !s.users[a.CompanyID][u] {
				return nil, "", CodeInvalidRecipient
			}
		}
		return append(out, b.ToUsers.CompanyUIDs...), "users", CodeOK
	case b.ToDepts != nil:
		if b.ToDepts.CompanyID != a.CompanyID {
			return nil, "", CodeInvalidRecipient
		}
		return s.groupMembersLocked("dept:"+a.CompanyID, b.ToDepts.DeptIDs, "depts")
	case len(b.ToChats) > 0:
		return s.groupMembersLocked("chat:"+a.CompanyID, b.ToChats, "chats")
	default:
		if len(b.ToCompanies) != 1 || b.ToCompanies[0] != a.CompanyID {
			return nil, "", CodeInvalidRecipient
		}
		for u := range s.users[a.CompanyID] {
			out = append(out, u)
		}
		return out, "company", CodeOK
	}
}

func (s *Sim) groupMembersLocked(key string, ids []string, via string) ([]string, string, int) {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		members, ok := s.groups[key][id]
		if !ok {
			return nil, "", CodeInvalidRecipient
		}
		for _, u := range members {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out, via, CodeOK
}

func (s *Sim) setCardLocked(user, appKey, ctxID string, card json.RawMessage) {
	if s.cards[user] == nil {
		s.cards[user] = map[string]json.RawMessage{}
	}
	s.cards[user][appKey+"\x00"+ctxID] = card
}

// handleUpdate serves {UpdateMethod} …/app/messages/update?company_token=T
// with {to_users?, app_key, ctx_id, msg_type 23, content{type 23, content}}
// (the simulator's model of the undocumented endpoint). With to_users
// {company_id, company_uids} only those users' cards are replaced, and every
// one of them must have received the message (else CodeInvalidRecipient and
// nothing changes, like a send naming an unknown user); without it every
// recipient's card is replaced.
func (s *Sim) handleUpdate(r *http.Request, body []byte, rec *Request) (int, apiReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, code := s.authLocked(r, body, rec)
	if code != CodeOK {
		return errReply(rec, code)
	}
	var b sendBody
	if json.Unmarshal(body, &b) != nil || b.AppKey != a.Key || b.MsgType != 23 {
		return errReply(rec, CodeBadRequest)
	}
	rec.CtxID = b.CtxID
	if code := checkContent(&b); code != CodeOK {
		return errReply(rec, code)
	}
	m := s.messages[a.Key][b.CtxID]
	switch {
	case m == nil:
		return errReply(rec, CodeCtxNotFound)
	case m.utype != 1 || m.card == nil:
		return errReply(rec, CodeNotUpdatable)
	}
	users := m.recipients
	if b.ToUsers != nil {
		if b.ToUsers.CompanyID != a.CompanyID || len(b.ToUsers.CompanyUIDs) == 0 {
			return errReply(rec, CodeInvalidRecipient)
		}
		for _, u := range b.ToUsers.CompanyUIDs {
			if !slices.Contains(m.recipients, u) {
				return errReply(rec, CodeInvalidRecipient)
			}
		}
		users = b.ToUsers.CompanyUIDs
	}
	for _, u := range users {
		s.setCardLocked(u, a.Key, b.CtxID, b.Content.Content)
	}
	if b.ToUsers == nil {
		m.card = b.Content.Content
	}
	return http.StatusOK, apiReply{Result: CodeOK, Msg: CodeText(CodeOK)}
}
