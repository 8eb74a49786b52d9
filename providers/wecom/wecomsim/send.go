package wecomsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// message is a message/send request WeCom accepted (errcode 0).
type message struct {
	id           string
	app          *app
	at           time.Time
	msgType      string
	summary      string
	body         json.RawMessage
	taskID       string
	responseCode string
	delivered    []*Delivery
	dropped      []string
	recipients   []string // every resolved member: delivered and dropped
	invalidUsers []string
	invalidParty []string
	invalidTag   []string
	suppressed   int
	recalledAt   time.Time
	resp         sendResp // the answer, replayed to suppressed duplicates
}

// sendResp is the answer of message/send (doc 90236 §返回结果).
type sendResp struct {
	ErrCode      int    `json:"errcode"`
	ErrMsg       string `json:"errmsg"`
	InvalidUser  any    `json:"invaliduser,omitempty"`
	InvalidParty any    `json:"invalidparty,omitempty"`
	InvalidTag   any    `json:"invalidtag,omitempty"`
	// UnlicensedUser lists members without 基础接口许可 (third-party tenants).
	UnlicensedUser any    `json:"unlicenseduser,omitempty"`
	MsgID          string `json:"msgid,omitempty"`
	ResponseCode   string `json:"response_code,omitempty"`
}

// idList renders an invalid* list in the configured shape: "a|b" (omitted when
// empty) or a JSON array (always present).
func (s *Sim) idList(ids []string) any {
	if s.opts.ArrayShapedInvalid {
		if ids == nil {
			ids = []string{}
		}
		return ids
	}
	if len(ids) == 0 {
		return nil
	}
	return strings.Join(ids, "|")
}

// handleSend serves POST /cgi-bin/message/send?access_token=TOKEN.
//
// Checks, in order: access_token (41001, 40014, 42001); raw body (40033 for a
// \uXXXX escape or invalid UTF-8, 40035 for invalid JSON or a wrongly typed
// field); agentid (41011 missing, 40056 not an integer or no such app, 301002 an
// app other than the token's); duplicate check (a byte-identical body of the same
// app within its interval is answered with the original msgid and not
// delivered); msgtype (40008); recipient counts (40032, 82002, 82003, 82001);
// content (44004, 45002, …); template_card task_id reuse (42014); recipients
// (81013 when every one is invalid). Then each member is delivered to, or
// silently dropped when over a per-member or daily limit.
func (s *Sim) handleSend(r *http.Request, body []byte, rec *Request) reply {
	req := parseSend(body)

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	a, code := s.authLocked(r, now, rec)
	if code != CodeOK {
		return errReply(rec, code)
	}
	if req.parseErr != CodeOK {
		return errReply(rec, req.parseErr)
	}
	if req.agentErr != CodeOK {
		return errReply(rec, req.agentErr)
	}
	if req.agentID != a.AgentID {
		if s.apps[appKey{corp: a.key.corp, agent: req.agentID}] != nil {
			return errReply(rec, CodeAgentMismatch)
		}
		return errReply(rec, CodeInvalidAgentID)
	}
	if req.dupCheck && !s.opts.IgnoreDuplicateCheck {
		if m := s.duplicateLocked(a, body, now); m != nil {
			return s.suppressLocked(m, now, rec)
		}
	}
	if req.contentErr != CodeOK {
		return errReply(rec, req.contentErr)
	}
	if req.taskID != "" {
		if _, used := a.taskIDs[req.taskID]; used {
			return errReply(rec, CodeInvalidTaskID)
		}
	}

	c := s.corpLocked(a.CorpID)
	members, valid, invUsers, invParty, invTag := resolve(c, req)
	if valid == 0 {
		rec.ErrCode = CodeAllInvalid
		return reply{status: http.StatusOK, v: sendResp{
			ErrCode: CodeAllInvalid, ErrMsg: errMsg(CodeAllInvalid),
			InvalidUser: s.idList(invUsers), InvalidParty: s.idList(invParty), InvalidTag: s.idList(invTag),
		}}
	}

	m := &message{
		app: a, at: now, msgType: req.b.MsgType, summary: req.summary, body: body, taskID: req.taskID,
		recipients: members, invalidUsers: invUsers, invalidParty: invParty, invalidTag: invTag,
	}
	for m.id == "" || s.msgs[m.id] != nil {
		m.id = s.randIDLocked(40)
	}
	if req.interactive {
		m.responseCode = s.randIDLocked(43)
	}
	var unlicensed []string
	for _, u := range members {
		if a.unlicensed[u] {
			unlicensed = append(unlicensed, u)
			continue
		}
		ok, reason, lim := s.admitLocked(a, u, now)
		if !ok {
			m.dropped = append(m.dropped, u)
			s.rec.drops = append(s.rec.drops, Drop{
				At: now, CorpID: a.CorpID, AgentID: a.AgentID, User: u, MsgID: m.id,
				MsgType: m.msgType, Reason: reason, Limit: lim,
			})
			s.rec.counter(u).Dropped++
			continue
		}
		s.rec.seq++
		d := &Delivery{
			Seq: s.rec.seq, At: now, CorpID: a.CorpID, AgentID: a.AgentID, User: u, MsgID: m.id,
			MsgType: m.msgType, Content: m.summary, Body: m.body,
		}
		m.delivered = append(m.delivered, d)
		s.rec.deliveries = append(s.rec.deliveries, d)
		s.rec.byUser[u] = append(s.rec.byUser[u], d)
		s.rec.counter(u).Delivered++
	}
	if req.taskID != "" {
		a.taskIDs[req.taskID] = struct{}{}
	}
	m.resp = sendResp{
		ErrCode: CodeOK, ErrMsg: errMsg(CodeOK),
		InvalidUser: s.idList(invUsers), InvalidParty: s.idList(invParty), InvalidTag: s.idList(invTag),
		MsgID: m.id, ResponseCode: m.responseCode,
	}
	if len(unlicensed) > 0 {
		m.resp.UnlicensedUser = strings.Join(unlicensed, "|")
	}
	s.msgs[m.id] = m
	if req.dupCheck && !s.opts.IgnoreDuplicateCheck {
		s.rememberLocked(a, body, m, req.dupInterval)
	}
	s.notifyLocked()
	rec.ErrCode = CodeOK
	rec.MsgID = m.id
	return reply{status: http.StatusOK, v: m.resp}
}

// resolve expands the request's targets to members of c (each once, in order:
// touser, toparty, totag) and collects the targets that do not exist. valid
// counts the targets that do exist (@all is valid when the corp has members).
// Userids are matched and reported lower-cased.
func resolve(c *corp, req *sendReq) (members []string, valid int, invUsers, invParty, invTag []string) {
	seen := map[string]bool{}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			members = append(members, u)
		}
	}
	if req.all {
		for _, u := range c.order {
			add(u)
		}
		return members, len(members), nil, nil, nil
	}
	invSeen := map[string]bool{}
	for _, id := range req.users {
		u := c.norm(id)
		if _, ok := c.users[u]; ok {
			valid++
			add(u)
		} else if !invSeen[u] {
			invSeen[u] = true
			invUsers = append(invUsers, u)
		}
	}
	deptSeen := map[string]bool{}
	for _, id := range req.parties {
		if c.depts[id] == nil {
			invParty = append(invParty, id)
			continue
		}
		valid++
		c.expandDept(id, deptSeen, add)
	}
	for _, id := range req.tags {
		t := c.tags[id]
		if t == nil {
			invTag = append(invTag, id)
			continue
		}
		valid++
		for _, u := range t.users {
			add(u)
		}
		for _, d := range t.depts {
			c.expandDept(d, deptSeen, add)
		}
	}
	return members, valid, invUsers, invParty, invTag
}
