package wps365sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"
)

// Documented limits the simulator enforces (the WPS open-platform documentation).
const (
	maxTextChars      = 5000
	maxCardComponents = 20
	maxCardChars      = 15000
	maxMentions       = 100
	maxBatchUsers     = 200
	maxBatchDepts     = 50
	maxBatchCompanies = 1
)

var (
	createTypes = map[string]bool{"text": true, "rich_text": true, "image": true, "file": true, "audio": true, "video": true, "card": true}
	replyTypes  = map[string]bool{"text": true, "rich_text": true, "image": true}
	atRe        = regexp.MustCompile(`<at id=["']?([^"'>\s]+)["']?>`)
)

type message struct {
	id, appID, typ string
	content        json.RawMessage
	mentions       json.RawMessage
	via            string
	chatID         string
	replyTo        string
	users          []string
	shared         bool
	recalled       bool
	updates        int
	sentAt         time.Time
}

func (m *message) view() Message {
	return Message{
		ID: m.id, Type: m.typ, Content: slices.Clone(m.content), Mentions: slices.Clone(m.mentions), Via: m.via,
		ChatID: m.chatID, ReplyTo: m.replyTo, Users: slices.Clone(m.users), Shared: m.shared,
		Updatable: m.via == EndpointCreate && m.typ == "card" && m.shared, Recalled: m.recalled, Updates: m.updates, SentAt: m.sentAt,
	}
}

// msgBody is the part of a request body every message endpoint shares.
type msgBody struct {
	Type     string                     `json:"type"`
	Content  map[string]json.RawMessage `json:"content"`
	Mentions []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Identity *struct {
			ID string `json:"id"`
		} `json:"identity"`
	} `json:"mentions"`
	Receiver *struct {
		ReceiverID string `json:"receiver_id"`
		Type       string `json:"type"`
		PartnerID  string `json:"partner_id"`
	} `json:"receiver"`
	Receivers []struct {
		Type        string   `json:"type"`
		ReceiverIDs []string `json:"receiver_ids"`
		PartnerID   string   `json:"partner_id"`
	} `json:"receivers"`
}

func invalid(format string, args ...any) reply {
	return fail(http.StatusBadRequest, CodeInvalidParam, fmt.Sprintf(format, args...))
}

// checkContent applies the content rules of create, batch_create, reply and
// update; it returns the parsed body, whether a card is shared, or a refusal.
func checkContent(raw []byte, types map[string]bool) (*msgBody, bool, *reply) {
	var b msgBody
	if err := json.Unmarshal(raw, &b); err != nil {
		r := invalid("invalid request body: %v", err)
		return nil, false, &r
	}
	if !types[b.Type] {
		r := invalid("invalid open_v7_message_type: %q", b.Type)
		return nil, false, &r
	}
	inner, found := b.Content[b.Type]
	if !found {
		r := invalid("content.%s is required for type %s", b.Type, b.Type)
		return nil, false, &r
	}
	if len(b.Mentions) > maxMentions {
		r := invalid("mentions exceed %d", maxMentions)
		return nil, false, &r
	}
	ids := map[string]bool{}
	for _, m := range b.Mentions {
		if m.Type != "all" && m.Type != "user" || m.Type == "user" && (m.Identity == nil || m.Identity.ID == "") {
			r := invalid("invalid mention %q", m.ID)
			return nil, false, &r
		}
		ids[m.ID] = true
	}
	shared := false
	switch b.Type {
	case "text":
		var t struct{ Content, Type string }
		_ = json.Unmarshal(inner, &t)
		if t.Type != "plain" && t.Type != "markdown" {
			r := invalid("content.text.type must be plain or markdown")
			return nil, false, &r
		}
		if t.Content == "" || utf8.RuneCountInString(t.Content) > maxTextChars {
			r := invalid("content.text.content must be 1..%d characters", maxTextChars)
			return nil, false, &r
		}
		for _, m := range atRe.FindAllStringSubmatch(t.Content, -1) {
			if !ids[m[1]] {
				r := invalid("at id %s has no mention", m[1])
				return nil, false, &r
			}
		}
	case "card":
		var c struct {
			Config struct {
				SharedCard *bool `json:"shared_card"`
			} `json:"config"`
			I18nItems []struct {
				Value struct {
					Elements []json.RawMessage `json:"elements"`
				} `json:"value"`
			} `json:"i18n_items"`
		}
		if err := json.Unmarshal(inner, &c); err != nil || len(c.I18nItems) == 0 {
			r := invalid("invalid card: i18n_items required")
			return nil, false, &r
		}
		for _, it := range c.I18nItems {
			if len(it.Value.Elements) > maxCardComponents {
				r := invalid("card components exceed %d", maxCardComponents)
				return nil, false, &r
			}
		}
		if utf8.RuneCount(inner) > maxCardChars {
			r := invalid("card exceeds %d characters", maxCardChars)
			return nil, false, &r
		}
		shared = c.Config.SharedCard == nil || *c.Config.SharedCard
	case "image":
		var im struct {
			StorageKey string `json:"storage_key"`
		}
		if json.Unmarshal(inner, &im) != nil || im.StorageKey == "" {
			r := invalid("content.image.storage_key is required")
			return nil, false, &r
		}
	}
	return &b, shared, nil
}

func (s *Sim) newMessageLocked(c *call, b *msgBody, via string, shared bool) *message {
	m := &message{
		id: "wps365sim-msg-" + s.randHexLocked(12), appID: c.app.id, typ: b.Type,
		content: b.Content[b.Type], via: via, shared: shared, sentAt: c.now,
	}
	m.content, _ = json.Marshal(map[string]json.RawMessage{b.Type: b.Content[b.Type]})
	if len(b.Mentions) > 0 {
		var raw struct {
			Mentions json.RawMessage `json:"mentions"`
		}
		_ = json.Unmarshal(c.body, &raw)
		m.mentions = raw.Mentions
	}
	s.msgs[m.id] = m
	s.order = append(s.order, m.id)
	return m
}

// handleCreate serves messages/create: exactly one receiver.
func (s *Sim) handleCreate(c *call) reply {
	b, shared, bad := checkContent(c.body, createTypes)
	if bad != nil {
		return *bad
	}
	if b.Receiver == nil || len(b.Receivers) > 0 {
		return invalid("receiver is required (exactly one)")
	}
	var users []string
	chatID := ""
	switch rc := b.Receiver; rc.Type {
	case "user":
		if !s.users[rc.ReceiverID] {
			return fail(http.StatusBadRequest, CodeInvalidReceiver, "receiver not in the app's visible range")
		}
		users = []string{rc.ReceiverID}
	case "enterprise_partner_user":
		if !s.partners[rc.PartnerID][rc.ReceiverID] {
			return fail(http.StatusBadRequest, CodeInvalidReceiver, "partner user not found")
		}
		users = []string{"partner:" + rc.PartnerID + ":" + rc.ReceiverID}
	case "chat":
		ch := s.chats[rc.ReceiverID]
		if ch == nil {
			return fail(http.StatusNotFound, CodeNotFound, "chat not found")
		}
		if !ch.botIn {
			return fail(http.StatusBadRequest, CodeInvalidReceiver, "bot is not in the chat")
		}
		users, chatID = slices.Clone(ch.members), rc.ReceiverID
	default:
		return invalid("invalid receiver type %q", rc.Type)
	}
	m := s.newMessageLocked(c, b, EndpointCreate, shared)
	m.users, m.chatID = s.auditLocked(c, users), chatID
	return ok(map[string]any{"message_id": m.id})
}

// handleBatch serves messages/batch_create: receivers of users (≤ 200),
// depts (≤ 50), company (≤ 1), partner users. Unknown receivers come back
// in invalid_receivers. The message is accepted at once; WPS's delivery
// delay is not modelled.
func (s *Sim) handleBatch(c *call) reply {
	b, shared, bad := checkContent(c.body, createTypes)
	if bad != nil {
		return *bad
	}
	if b.Receiver != nil || len(b.Receivers) == 0 {
		return invalid("receivers is required")
	}
	count := map[string]int{}
	for _, r := range b.Receivers {
		count[r.Type] += len(r.ReceiverIDs)
	}
	switch {
	case count["user"]+count["enterprise_partner_user"] > maxBatchUsers:
		return invalid("receivers: users exceed %d", maxBatchUsers)
	case count["dept"] > maxBatchDepts:
		return invalid("receivers: depts exceed %d", maxBatchDepts)
	case count["company"] > maxBatchCompanies:
		return invalid("receivers: companies exceed %d", maxBatchCompanies)
	}
	var users []string
	invalidRs := []map[string]any{}
	addUser := func(u string) {
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	for _, r := range b.Receivers {
		var bad []string
		for _, id := range r.ReceiverIDs {
			switch r.Type {
			case "user":
				if s.users[id] {
					addUser(id)
					continue
				}
			case "dept":
				if ms, found := s.depts[id]; found {
					for _, u := range ms {
						addUser(u)
					}
					continue
				}
			case "company":
				if id == c.app.company {
					for u := range s.users {
						addUser(u)
					}
					continue
				}
			case "enterprise_partner_user":
				if s.partners[r.PartnerID][id] {
					addUser("partner:" + r.PartnerID + ":" + id)
					continue
				}
			default:
				return invalid("invalid receiver type %q", r.Type)
			}
			bad = append(bad, id)
		}
		if len(bad) > 0 {
			e := map[string]any{"type": r.Type, "receiver_ids": bad}
			if r.PartnerID != "" {
				e["partner_id"] = r.PartnerID
			}
			invalidRs = append(invalidRs, e)
		}
	}
	slices.Sort(users)
	m := s.newMessageLocked(c, b, EndpointBatchCreate, shared)
	m.users = s.auditLocked(c, users)
	return ok(map[string]any{"message_id": m.id, "invalid_receivers": invalidRs})
}

// handleReply serves chats/{chat}/messages/{id}/reply: text, rich_text,
// image; the bot must be in the chat and the message answered must be in it.
func (s *Sim) handleReply(c *call) reply {
	chatID, replyTo := c.r.PathValue("chat"), c.r.PathValue("id")
	b, _, bad := checkContent(c.body, replyTypes)
	if bad != nil {
		if b == nil {
			var t struct{ Type string }
			_ = json.Unmarshal(c.body, &t)
			if createTypes[t.Type] {
				return invalid("reply supports text, rich_text and image only, not %q", t.Type)
			}
		}
		return *bad
	}
	if b.Receiver != nil || len(b.Receivers) > 0 {
		return invalid("reply takes no receiver")
	}
	ch := s.chats[chatID]
	if ch == nil {
		return fail(http.StatusNotFound, CodeNotFound, "chat not found")
	}
	if !ch.botIn {
		return fail(http.StatusBadRequest, CodeInvalidReceiver, "bot is not in the chat")
	}
	if orig := s.msgs[replyTo]; orig == nil || orig.chatID != chatID {
		return fail(http.StatusNotFound, CodeNotFound, "message not found in chat")
	}
	m := s.newMessageLocked(c, b, EndpointReply, false)
	m.users, m.chatID, m.replyTo = s.auditLocked(c, slices.Clone(ch.members)), chatID, replyTo
	var raw struct {
		Mentions json.RawMessage `json:"mentions"`
	}
	_ = json.Unmarshal(c.body, &raw)
	return ok(map[string]any{"message_id": m.id, "type": m.typ, "content": b.Content[b.Type], "mentions": raw.Mentions})
}

// handleUpdate serves messages/{id}/update: the whole card of a shared card
// sent with messages/create is replaced; anything else is "msg not updatable".
func (s *Sim) handleUpdate(c *call) reply {
	m := s.msgs[c.r.PathValue("id")]
	if m == nil || m.appID != c.app.id || m.recalled {
		return fail(http.StatusNotFound, CodeNotFound, "message not found")
	}
	b, shared, bad := checkContent(c.body, map[string]bool{"card": true})
	if bad != nil {
		return *bad
	}
	if m.via != EndpointCreate || m.typ != "card" || !m.shared {
		return fail(http.StatusBadRequest, CodeNotUpdatable, "msg not updatable")
	}
	m.content, _ = json.Marshal(map[string]json.RawMessage{"card": b.Content["card"]})
	m.shared = shared
	m.updates++
	return ok(map[string]any{})
}

// handleRecall serves messages/{id}/recall.
func (s *Sim) handleRecall(c *call) reply {
	m := s.msgs[c.r.PathValue("id")]
	if m == nil || m.appID != c.app.id {
		return fail(http.StatusNotFound, CodeNotFound, "message not found")
	}
	if m.recalled {
		return invalid("message already recalled")
	}
	if w := s.opts.RecallWindow; w > 0 && c.now.Sub(m.sentAt) > w {
		return fail(http.StatusBadRequest, CodeRecallExpired, "recall time limit exceeded")
	}
	m.recalled = true
	return ok(map[string]any{})
}

// PostUserMessage posts a message from user into chatID, as a person would,
// and returns its id (for a reply to answer).
func (s *Sim) PostUserMessage(chatID, user, text string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chats[chatID]
	if ch == nil {
		return "", fmt.Errorf("wps365sim: no chat %s", chatID)
	}
	content, _ := json.Marshal(map[string]any{"text": map[string]string{"content": text, "type": "plain"}})
	m := &message{id: "wps365sim-umsg-" + s.randHexLocked(12), typ: "text", content: content, via: "user:" + user,
		chatID: chatID, users: slices.Clone(ch.members), sentAt: s.clock()}
	s.msgs[m.id] = m
	s.order = append(s.order, m.id)
	return m.id, nil
}
