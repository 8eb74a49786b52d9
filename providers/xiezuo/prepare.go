package xiezuo

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Prepare validates msg (see [Validate]) and renders one part per recipient
// kind, in the order users, depts, chats, all: the send API takes one target
// kind per call ("to_users、to_depts、to_companies 三选一"), all recipients of
// the app's one company, and documents no count limit. Part.To is the part's
// subset.
//
// Each body is, in this field order: to_users {company_id, company_uids} |
// to_depts {company_id, dept_ids} | to_chats [ids] | to_companies
// [company_id] (for all), app_key, biz_type (the raw body's, else the app's;
// omitted when empty), ctx_id ([CtxID] of opts.MessageID, the part index and
// opts.Generation), company_id and company_uid (the producer), utype (1 for a
// card, which may be updated; 0 otherwise), msg_type and content. The bytes
// depend only on msg, opts and the config, so a retried part re-sends the
// same ctx_id. Prepare needs opts.MessageID.
//
// Part.Ref is the part's ctx_id, which card callbacks carry and
// [Client.Update] addresses; Part.NotUpdatable is set on a part that is not a
// card (utype 0: WPS will never update it).
func (c *Client) Prepare(ctx context.Context, msg *providers.Message, opts providers.PrepareOptions) ([]providers.Part, error) {
	if msg == nil {
		return nil, providers.Invalid("message", "is nil")
	}
	ct, err := validate(msg)
	if err != nil {
		return nil, err
	}
	if opts.MessageID == "" {
		return nil, &providers.Error{Provider: ProviderName, Op: opPrepare, Class: providers.ClassPermanent, Message: "no message id: ctx_id is derived from it"}
	}
	var parts []providers.Part
	for _, to := range splitRecipients(msg.To) {
		i := len(parts)
		ctxID := CtxID(opts.MessageID, i, opts.Generation)
		body, err := c.render(to, ct, ctxID)
		if err != nil {
			return nil, providers.Invalid("body", "part %d: %v", i, err)
		}
		if len(body) > MaxBodyBytes {
			return nil, providers.Invalid("body", "part %d renders to %d bytes: at most %d", i, len(body), MaxBodyBytes)
		}
		parts = append(parts, providers.Part{Index: i, Tenant: msg.Tenant, To: to, Ref: ctxID, NotUpdatable: !ct.card, Body: body})
	}
	return parts, nil
}

// splitRecipients is one subset per recipient kind present.
func splitRecipients(to providers.Recipients) []providers.Recipients {
	var out []providers.Recipients
	if len(to.Users) > 0 {
		out = append(out, providers.Recipients{Users: slices.Clone(to.Users)})
	}
	if len(to.Depts) > 0 {
		out = append(out, providers.Recipients{Depts: slices.Clone(to.Depts)})
	}
	if len(to.Chats) > 0 {
		out = append(out, providers.Recipients{Chats: slices.Clone(to.Chats)})
	}
	if to.All {
		out = append(out, providers.Recipients{All: true})
	}
	return out
}

// render is the send body of one part.
func (c *Client) render(to providers.Recipients, ct *content, ctxID string) ([]byte, error) {
	r := sendRequest{
		AppKey:     c.cfg.AppKey,
		BizType:    c.cfg.BizType,
		CtxID:      ctxID,
		CompanyID:  c.cfg.CompanyID,
		CompanyUID: c.cfg.CompanyUID,
		MsgType:    ct.msgType,
		Content:    ct.body,
	}
	if ct.bizType != "" {
		r.BizType = ct.bizType
	}
	if ct.card {
		r.UType = 1
	}
	switch {
	case len(to.Users) > 0:
		r.ToUsers = &usersTarget{CompanyID: c.cfg.CompanyID, CompanyUIDs: to.Users}
	case len(to.Depts) > 0:
		r.ToDepts = &deptsTarget{CompanyID: c.cfg.CompanyID, DeptIDs: to.Depts}
	case len(to.Chats) > 0:
		r.ToChats = to.Chats
	case to.All:
		r.ToCompanies = []string{c.cfg.CompanyID}
	}
	return encodeJSON(&r)
}

// BodyCtxID returns the ctx_id of a rendered send body, "" when it has none.
func BodyCtxID(body []byte) string {
	id, _ := bodyRef(body)
	return id
}

// bodyRef returns the ctx_id of a rendered send body and whether it was sent
// updatable (utype 1).
func bodyRef(body []byte) (ctxID string, updatable bool) {
	var b struct {
		CtxID string `json:"ctx_id"`
		UType int    `json:"utype"`
	}
	_ = json.Unmarshal(body, &b)
	return b.CtxID, b.UType == 1
}
