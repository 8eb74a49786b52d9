package wecomsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// EndpointUpdate is message/update_template_card.
const EndpointUpdate = "message/update_template_card"

// ResponseCodeTTL is how long a response_code can be used (72 h, doc 94888).
const ResponseCodeTTL = 72 * time.Hour

// Error codes of update_template_card (WeCom's API documentation).
const (
	// CodeAppMismatch (42015) 更新的消息的应用与发送消息的应用不匹配: the code
	// belongs to a message of another app.
	CodeAppMismatch = 42015
	// CodeTaskIDNotFound (42016) 更新的task_id不存在: the code's message is
	// not a card with a task_id.
	CodeTaskIDNotFound = 42016
	// CodeInvalidResponseCode (60140) 无效的response_code: unknown, already
	// used, or older than 72 h.
	CodeInvalidResponseCode = 60140
	// CodeUpdateNoTarget (82101) 指定的更新对象为空.
	CodeUpdateNoTarget = 82101
	// CodeUpdateNotInMessage (82102) 指定的更新对象不在多人消息内.
	CodeUpdateNotInMessage = 82102
)

func init() {
	errMsgs[CodeAppMismatch] = "the app of the update does not match the app of the message"
	errMsgs[CodeTaskIDNotFound] = "task_id not exist"
	errMsgs[CodeInvalidResponseCode] = "invalid response_code, maybe it has expired or been used"
	errMsgs[CodeUpdateNoTarget] = "update target is empty"
	errMsgs[CodeUpdateNotInMessage] = "update target not in the message"
}

// Card is what one user sees of one template card now.
type Card struct {
	TaskID string `json:"task_id"`
	User   string `json:"user"`
	MsgID  string `json:"msgid"`
	// Body is the template_card object the user sees: the one sent, or the
	// one of the last whole-card update.
	Body json.RawMessage `json:"body"`
	// ReplaceName is set when the last update replaced the button text.
	ReplaceName string `json:"replace_name,omitempty"`
	// Updates counts the updates applied to this user's card.
	Updates   int       `json:"updates"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	Recalled  bool      `json:"recalled,omitempty"`
}

type cardKey struct {
	app    appKey
	taskID string
	user   string
}

type clickCode struct {
	app    appKey
	taskID string
	at     time.Time
}

type cardState struct {
	body        json.RawMessage
	replaceName string
	updates     int
	at          time.Time
}

// cardBook is the simulator's update state.
type cardBook struct {
	clicks map[string]*clickCode
	uses   map[string]int // every presentation of a code, valid or not
	used   map[string]bool
	state  map[cardKey]*cardState
}

func (s *Sim) cardsLocked() *cardBook {
	if s.cards.state == nil {
		s.cards = cardBook{clicks: map[string]*clickCode{}, uses: map[string]int{}, used: map[string]bool{}, state: map[cardKey]*cardState{}}
	}
	return &s.cards
}

// noteClickCodeLocked remembers the ResponseCode of a card click so that
// update_template_card accepts it once.
func (s *Sim) noteClickCodeLocked(corpID string, agentID int64, taskID, code string) {
	s.cardsLocked().clicks[code] = &clickCode{app: appKey{corp: corpKey(corpID), agent: agentID}, taskID: taskID, at: s.clock()}
}

// IssueClickCode returns a fresh response_code as a click on the card taskID
// by user would carry it, without firing a callback: tests store it where the
// dispatcher's callback handler would.
func (s *Sim) IssueClickCode(corpID string, agentID int64, taskID, user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := s.randIDLocked(43)
	s.noteClickCodeLocked(corpID, agentID, taskID, code)
	return code
}

// CodeUses returns how many update_template_card requests presented code.
func (s *Sim) CodeUses(code string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cardsLocked().uses[code]
}

// CardOf returns what user sees of the card taskID now (of any app), and
// false when no card with that task_id reached the user.
func (s *Sim) CardOf(user, taskID string) (Card, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m.taskID != taskID {
			continue
		}
		c := s.corpLocked(m.app.CorpID)
		u := c.norm(user)
		for _, d := range m.delivered {
			if d.User != u {
				continue
			}
			card := Card{TaskID: taskID, User: u, MsgID: m.id, Body: cardOfBody(m.body), Recalled: !d.RecalledAt.IsZero()}
			if st := s.cardsLocked().state[cardKey{app: m.app.key, taskID: taskID, user: u}]; st != nil {
				if st.body != nil {
					card.Body = st.body
				}
				card.ReplaceName, card.Updates, card.UpdatedAt = st.replaceName, st.updates, st.at
			}
			return card, true
		}
	}
	return Card{}, false
}

func cardOfBody(body []byte) json.RawMessage {
	var b struct {
		TemplateCard json.RawMessage `json:"template_card"`
	}
	_ = json.Unmarshal(body, &b)
	return b.TemplateCard
}

type updateBody struct {
	UserIDs      []string      `json:"userids"`
	PartyIDs     []json.Number `json:"partyids"`
	TagIDs       []json.Number `json:"tagids"`
	AtAll        int           `json:"atall"`
	AgentID      *json.Number  `json:"agentid"`
	ResponseCode string        `json:"response_code"`
	Button       *struct {
		ReplaceName string `json:"replace_name"`
	} `json:"button"`
	TemplateCard json.RawMessage `json:"template_card"`
}

type updateResp struct {
	ErrCode     int      `json:"errcode"`
	ErrMsg      string   `json:"errmsg"`
	InvalidUser []string `json:"invaliduser"`
}

// handleUpdate serves POST /cgi-bin/message/update_template_card (doc 94888).
//
// Checks, in order: access_token; body (40033, 40035); agentid (41011, 40056,
// 301002); response_code: unknown, already used or older than 72 h → 60140,
// of another app's message → 42015, its message has no task_id → 42016; no
// target → 82101; neither button nor template_card → 40058, a template_card
// without card_type → 42031; targets none of whom received the message →
// 82102 (others are listed in invaliduser). Then the code is used up and
// each target's card changes (see [Sim.CardOf]). A code counts as presented
// ([Sim.CodeUses]) once the request passed the token and body checks.
func (s *Sim) handleUpdate(r *http.Request, body []byte, rec *Request) reply {
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
	var b updateBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return errReply(rec, CodeInvalidParam)
	}
	book := s.cardsLocked()
	if b.ResponseCode != "" {
		book.uses[b.ResponseCode]++
	}
	if b.AgentID == nil {
		return errReply(rec, CodeMissingAgentID)
	}
	agent, err := b.AgentID.Int64()
	if err != nil {
		return errReply(rec, CodeInvalidAgentID)
	}
	if agent != a.AgentID {
		if s.apps[appKey{corp: a.key.corp, agent: agent}] != nil {
			return errReply(rec, CodeAgentMismatch)
		}
		return errReply(rec, CodeInvalidAgentID)
	}
	// The code: a send response's or a click's.
	var m *message
	var issued time.Time
	var owner appKey
	if cc := book.clicks[b.ResponseCode]; cc != nil && b.ResponseCode != "" {
		owner, issued = cc.app, cc.at
		for _, x := range s.msgs {
			if x.app.key == cc.app && x.taskID == cc.taskID && cc.taskID != "" && (m == nil || x.at.Before(m.at)) {
				m = x
			}
		}
		if m == nil && owner == a.key {
			return errReply(rec, CodeTaskIDNotFound)
		}
	} else if b.ResponseCode != "" {
		for _, x := range s.msgs {
			if x.responseCode == b.ResponseCode {
				m, owner, issued = x, x.app.key, x.at
				break
			}
		}
		if m == nil {
			return errReply(rec, CodeInvalidResponseCode)
		}
	} else {
		return errReply(rec, CodeInvalidResponseCode)
	}
	if book.used[b.ResponseCode] || now.Sub(issued) > ResponseCodeTTL {
		return errReply(rec, CodeInvalidResponseCode)
	}
	if owner != a.key {
		return errReply(rec, CodeAppMismatch)
	}
	if m.taskID == "" {
		return errReply(rec, CodeTaskIDNotFound)
	}
	rec.MsgID = m.id
	if len(b.UserIDs) == 0 && len(b.PartyIDs) == 0 && len(b.TagIDs) == 0 && b.AtAll == 0 {
		return errReply(rec, CodeUpdateNoTarget)
	}
	if b.Button == nil && len(b.TemplateCard) == 0 {
		return errReply(rec, CodeInvalidRequestParam)
	}
	if len(b.TemplateCard) > 0 {
		var ct struct {
			CardType string `json:"card_type"`
		}
		if json.Unmarshal(b.TemplateCard, &ct) != nil || ct.CardType == "" {
			return errReply(rec, CodeInvalidCardType)
		}
	}
	c := s.corpLocked(a.CorpID)
	var targets, invalid []string
	add := func(u string) {
		if slices.Contains(m.recipients, u) && !slices.Contains(targets, u) {
			targets = append(targets, u)
		}
	}
	if b.AtAll == 1 {
		for _, u := range m.recipients {
			add(u)
		}
	}
	for _, id := range b.UserIDs {
		u := c.norm(id)
		if slices.Contains(m.recipients, u) {
			add(u)
		} else {
			invalid = append(invalid, u)
		}
	}
	seen := map[string]bool{}
	for _, p := range b.PartyIDs {
		c.expandDept(p.String(), seen, add)
	}
	for _, t := range b.TagIDs {
		if tg := c.tags[t.String()]; tg != nil {
			for _, u := range tg.users {
				add(u)
			}
			for _, d := range tg.depts {
				c.expandDept(d, seen, add)
			}
		}
	}
	if len(targets) == 0 {
		return errReply(rec, CodeUpdateNotInMessage)
	}
	book.used[b.ResponseCode] = true
	for _, u := range targets {
		k := cardKey{app: a.key, taskID: m.taskID, user: u}
		st := book.state[k]
		if st == nil {
			st = &cardState{}
			book.state[k] = st
		}
		if b.Button != nil {
			st.replaceName = b.Button.ReplaceName
		} else {
			st.body, st.replaceName = append(json.RawMessage(nil), b.TemplateCard...), ""
		}
		st.updates++
		st.at = now
	}
	s.notifyLocked()
	rec.ErrCode = CodeOK
	if invalid == nil {
		invalid = []string{}
	}
	return reply{status: http.StatusOK, v: updateResp{ErrCode: CodeOK, ErrMsg: errMsg(CodeOK), InvalidUser: invalid}}
}

// routeCards serves GET /sim/cards?user=U&task_id=T: what U sees of card T
// now (404 when the card never reached U).
func (s *Sim) routeCards() {
	s.mux.HandleFunc("/cgi-bin/message/update_template_card", func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, EndpointUpdate, s.handleUpdate)
	})
	s.mux.HandleFunc("GET /sim/cards", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		c, ok := s.CardOf(q.Get("user"), q.Get("task_id"))
		if !ok {
			simError(w, http.StatusNotFound, "no such card for this user")
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
}
