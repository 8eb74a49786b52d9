package wps365

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/msgdispatch/msgdispatch/providers"
)

// PartnerUserPrefix marks a user of an associated organisation (关联组织) in
// Recipients.Users: "partner:{partner_id}:{user_id}" is sent as a receiver
// of type enterprise_partner_user.
const PartnerUserPrefix = "partner:"

// Receiver types of messages/create and messages/batch_create.
const (
	ReceiverUser        = "user"
	ReceiverChat        = "chat"
	ReceiverPartnerUser = "enterprise_partner_user"
	ReceiverDept        = "dept"
	ReceiverCompany     = "company"
)

// receiver is the receiver object of messages/create.
type receiver struct {
	ReceiverID string `json:"receiver_id"`
	Type       string `json:"type"`
	PartnerID  string `json:"partner_id,omitempty"`
}

// batchReceiver is one entry of receivers[] of messages/batch_create.
type batchReceiver struct {
	Type        string   `json:"type"`
	ReceiverIDs []string `json:"receiver_ids"`
	PartnerID   string   `json:"partner_id,omitempty"`
}

// ParsePartnerUser splits "partner:{partner_id}:{user_id}"; ok is false for
// any other id.
func ParsePartnerUser(id string) (partnerID, userID string, ok bool) {
	rest, found := strings.CutPrefix(id, PartnerUserPrefix)
	if !found {
		return "", "", false
	}
	partnerID, userID, ok = strings.Cut(rest, ":")
	return partnerID, userID, ok && partnerID != "" && userID != ""
}

// Validate is [Config.ValidateMessage] with the client's config.
func (c *Client) Validate(msg *providers.Message) error { return c.cfg.ValidateMessage(msg) }

// Prepare validates msg and renders its parts, each the exact body of one
// request:
//
//   - A card (kind card, or raw of type card) may be updated later, and
//     only a messages/create message can be: it goes to each user, partner
//     user and chat in a part of its own (one create each), with
//     config.shared_card: true unless the card says otherwise. Only its
//     depts and All go through messages/batch_create, and those parts are
//     not updatable.
//   - Any other content cannot be updated: chats and partner users get one
//     create each; users (when more than one, or with depts or All), depts
//     and All are packed into batch_create parts of at most 200 users, 50
//     depts and the company.
//
// A message with ReplyTo is one reply part instead (see [Client.Send]).
//
// Part.NotUpdatable is set on every part but the creates of a shared card:
// batch parts, non-shared cards, non-card content and replies can never be
// updated ([PartUpdatable] says the same from the body). Part.Ref stays
// empty: callbacks carry an app_ctx_id, but the v7 card structure
// (the WPS open-platform documentation) documents no field to set one in, so the provider has
// no reference of its own to give. The content is rendered once and every
// part's body is the shared prefix and suffix around its receiver, so the
// cost per part does not grow with the number of parts.
func (c *Client) Prepare(ctx context.Context, msg *providers.Message, opts providers.PrepareOptions) ([]providers.Part, error) {
	if msg == nil {
		return nil, providers.Invalid("message", "required")
	}
	if msg.ReplyTo != nil {
		return c.prepareReply(msg)
	}
	if err := c.cfg.validateRecipients(msg.To); err != nil {
		return nil, err
	}
	ct, err := renderContent(msg.Kind, msg.Text, msg.Body, true)
	if err != nil {
		return nil, err
	}
	pre, suf, err := bodyFrame(ct, `"receiver":`)
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	to := msg.To
	var parts []providers.Part
	add := func(body []byte, rcpt providers.Recipients, updatable bool) {
		parts = append(parts, providers.Part{Index: len(parts), Tenant: msg.Tenant, To: rcpt, Body: body, NotUpdatable: !updatable})
	}
	// Only a shared card sent with messages/create can be updated.
	createUpdatable := ct.Type == "card" && ct.Shared
	single := func(r receiver, rcpt providers.Recipients) error {
		rb, err := encodeJSON(r)
		if err != nil {
			return err
		}
		b := make([]byte, 0, len(pre)+len(rb)+len(suf))
		b = append(append(append(b, pre...), rb...), suf...)
		add(b, rcpt, createUpdatable)
		return nil
	}
	var batchUsers []string
	oneUser := len(to.Users) == 1 && len(to.Depts) == 0 && !to.All
	for _, u := range to.Users {
		if pid, uid, ok := ParsePartnerUser(u); ok {
			if err := single(receiver{ReceiverID: uid, Type: ReceiverPartnerUser, PartnerID: pid}, providers.Recipients{Users: []string{u}}); err != nil {
				return nil, providers.Invalid("to.users", "%v", err)
			}
			continue
		}
		if ct.Type == "card" || oneUser {
			if err := single(receiver{ReceiverID: u, Type: ReceiverUser}, providers.Recipients{Users: []string{u}}); err != nil {
				return nil, providers.Invalid("to.users", "%v", err)
			}
			continue
		}
		batchUsers = append(batchUsers, u)
	}
	for _, ch := range to.Chats {
		if err := single(receiver{ReceiverID: ch, Type: ReceiverChat}, providers.Recipients{Chats: []string{ch}}); err != nil {
			return nil, providers.Invalid("to.chats", "%v", err)
		}
	}
	if len(batchUsers) > 0 || len(to.Depts) > 0 || to.All {
		bpre, bsuf, err := bodyFrame(ct, `"receivers":`)
		if err != nil {
			return nil, providers.Invalid("body", "%v", err)
		}
		depts, all := to.Depts, to.All
		for len(batchUsers) > 0 || len(depts) > 0 || all {
			var rs []batchReceiver
			var rcpt providers.Recipients
			if n := min(len(batchUsers), MaxBatchUsers); n > 0 {
				rcpt.Users = batchUsers[:n:n]
				rs = append(rs, batchReceiver{Type: ReceiverUser, ReceiverIDs: rcpt.Users})
				batchUsers = batchUsers[n:]
			}
			if n := min(len(depts), MaxBatchDepts); n > 0 {
				rcpt.Depts = depts[:n:n]
				rs = append(rs, batchReceiver{Type: ReceiverDept, ReceiverIDs: rcpt.Depts})
				depts = depts[n:]
			}
			if all {
				rcpt.All = true
				rs = append(rs, batchReceiver{Type: ReceiverCompany, ReceiverIDs: []string{c.cfg.CompanyID}})
				all = false
			}
			rb, err := encodeJSON(rs)
			if err != nil {
				return nil, providers.Invalid("to", "%v", err)
			}
			add(append(append(append([]byte{}, bpre...), rb...), bsuf...), rcpt, false)
		}
	}
	return parts, nil
}

// bodyFrame renders the request body of ct around a receiver placeholder:
// {"type":…,<key><receiver>,"mentions":[…],"content":{…}} is
// prefix + receiver + suffix.
func bodyFrame(ct *content, key string) (prefix, suffix []byte, err error) {
	tb, err := encodeJSON(ct.Type)
	if err != nil {
		return nil, nil, err
	}
	var p, s bytes.Buffer
	p.WriteString(`{"type":`)
	p.Write(tb)
	p.WriteString(`,` + key)
	if len(ct.Mentions) > 0 {
		mb, err := encodeJSON(ct.Mentions)
		if err != nil {
			return nil, nil, err
		}
		s.WriteString(`,"mentions":`)
		s.Write(mb)
	}
	s.WriteString(`,"content":`)
	s.Write(ct.Content)
	s.WriteString(`}`)
	return p.Bytes(), s.Bytes(), nil
}

// partShape is what a part body says about its request.
type partShape struct {
	Type      string          `json:"type"`
	Receiver  json.RawMessage `json:"receiver"`
	Receivers json.RawMessage `json:"receivers"`
	Content   struct {
		Card *struct {
			Config struct {
				SharedCard *bool `json:"shared_card"`
			} `json:"config"`
		} `json:"card"`
	} `json:"content"`
}

// PartUpdatable reports whether the message a part creates can later be
// updated with [Client.Update]: a card sent with messages/create (one
// receiver) whose config.shared_card is not false. Batch parts
// (messages/batch_create: "receivers" in the body) and non-card parts are
// not updatable (WPS answers "msg not updatable", [ErrNotUpdatable]). It
// reads the body; Prepare sets the same answer, negated, as
// Part.NotUpdatable, which is what the core and [Client.Update] go by.
func PartUpdatable(p *providers.Part) bool {
	if p == nil {
		return false
	}
	return BodyUpdatable(p.Body)
}

// BodyUpdatable is [PartUpdatable] for a part body.
func BodyUpdatable(body []byte) bool {
	var s partShape
	if json.Unmarshal(body, &s) != nil {
		return false
	}
	if s.Type != "card" || len(s.Receiver) == 0 || len(s.Receivers) > 0 || s.Content.Card == nil {
		return false
	}
	return s.Content.Card.Config.SharedCard == nil || *s.Content.Card.Config.SharedCard
}

// isBatch reports whether a part body is a messages/batch_create request.
func isBatch(body []byte) bool {
	var s struct {
		Receivers json.RawMessage `json:"receivers"`
	}
	_ = json.Unmarshal(body, &s)
	return len(s.Receivers) > 0
}
