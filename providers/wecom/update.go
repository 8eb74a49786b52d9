package wecom

import (
	"context"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/msgdispatch/msgdispatch/providers"
)

// pathUpdate is the path of update_template_card (WeCom's API documentation).
const pathUpdate = "/cgi-bin/message/update_template_card"

// maxReplaceNameBytes bounds button.replace_name (WeCom documents no limit;
// a button's text is short).
const maxReplaceNameBytes = 128

// updateRequest is the body of update_template_card.
type updateRequest struct {
	UserIDs      []string        `json:"userids,omitempty"`
	PartyIDs     []int64         `json:"partyids,omitempty"`
	TagIDs       []int64         `json:"tagids,omitempty"`
	AtAll        int             `json:"atall,omitempty"`
	AgentID      int64           `json:"agentid"`
	ResponseCode string          `json:"response_code"`
	Button       *updateButton   `json:"button,omitempty"`
	TemplateCard json.RawMessage `json:"template_card,omitempty"`
}

type updateButton struct {
	ReplaceName string `json:"replace_name"`
}

type updateResponse struct {
	InvalidUser IDList `json:"invaliduser"`
}

// ValidateUpdate checks new content for a sent card: kind
// [KindButton] with the new button text in text, or kind card with
// a whole template_card object in body. Other kinds cannot be updated in
// WeCom (only template cards can), which is a *providers.ValidationError on
// "kind".
func ValidateUpdate(kind providers.Kind, text string, body json.RawMessage) error {
	switch kind {
	case KindButton:
		if len(body) > 0 {
			return providers.Invalid("body", "must be empty for kind button (the new button text is in text)")
		}
		if text == "" {
			return providers.Invalid("text", "required: the new text of the button (button.replace_name)")
		}
		if len(text) > maxReplaceNameBytes || !utf8.ValidString(text) {
			return providers.Invalid("text", "must be valid UTF-8 of at most %d bytes", maxReplaceNameBytes)
		}
		return nil
	case providers.KindCard:
		_, err := messageContent(&providers.Message{Kind: kind, Text: text, Body: body})
		return err
	}
	return providers.Invalid("kind", "WeCom can update only template cards: kind card (a whole new card) or button (new button text), not %q", kind)
}

// ValidateUpdateFor checks new content for msg, a message of this app, before
// anything is enqueued or consumed: msg must be an updatable card — kind card
// whose template_card returns a response_code (button, vote and
// multiple-choice interaction cards, and cards with action_menu) — and the
// content valid by [ValidateUpdate]. Anything else is a
// *providers.ValidationError on "kind": WeCom has no way to apply it.
func ValidateUpdateFor(msg *providers.Message, kind providers.Kind, text string, body json.RawMessage) error {
	if msg.Kind != providers.KindCard {
		return providers.Invalid("kind", "the message is of kind %s: WeCom updates only template cards that return a response_code "+
			"(button, vote and multiple-choice interaction cards, cards with action_menu), sent as kind card", msg.Kind)
	}
	if c, err := messageContent(msg); err != nil || c.card == nil || !c.card.needsTaskID {
		return providers.Invalid("kind", "the message's card returns no response_code, so WeCom cannot update it: "+
			"only button, vote and multiple-choice interaction cards and cards with action_menu can be updated")
	}
	return ValidateUpdate(kind, text, body)
}

// CardUpdate is one update_template_card call: new content for the users To
// of a card, with a single-use response code.
type CardUpdate struct {
	// Tenant is the tenant the card was sent for; empty for a self-built app.
	Tenant string
	// ResponseCode is the single-use update capability. Required.
	ResponseCode string
	// To is whose copy to update.
	To providers.Recipients
	// Kind and Text or Body are the new content: KindButton with the new
	// button text, or KindCard with a whole template_card.
	Kind providers.Kind
	Text string
	Body json.RawMessage
}

// UpdateCard calls update_template_card (WeCom's API documentation) with req.ResponseCode
// for req.To (≤ 1000 users, ≤ 100 departments, ≤ 100 tags, or all) in one of
// its two forms: kind [KindButton] replaces the clicked button's
// text (button.replace_name); kind card replaces the whole card
// (template_card). The token is refreshed once like Send.
//
// A response_code is a single-use capability valid 72 h: WeCom answers 60140
// for a used or expired one, 42015 for a code of another app, 82101 for no
// targets, 82102 for targets not in the message; all are permanent. Users
// WeCom lists in invaliduser come back in Result.Invalid.
//
// A multi-tenant app updates per tenant: req.Tenant (the tenant the card was
// sent for) gives the agentid, from the tenant store, and the access token,
// obtained like Send's. A multi-tenant request without Tenant, or with a
// tenant the store does not know, is a *providers.ValidationError on
// "tenant"; a disabled tenant and the tenant-dead errcodes are
// ClassAppDisabled with providers.Error.Tenant set, like Send's.
func (c *Client) UpdateCard(ctx context.Context, req *CardUpdate) (*providers.Result, error) {
	if req == nil || req.ResponseCode == "" {
		return nil, providers.Invalid("response_code", "required: WeCom updates a card only with a response_code")
	}
	if err := ValidateUpdate(req.Kind, req.Text, req.Body); err != nil {
		return nil, err
	}
	tenant := ""
	if c.cfg.MultiTenant() {
		tc, err := c.tenantClient(ctx, opUpdate, req.Tenant)
		if err != nil {
			return nil, err
		}
		c, tenant = tc, req.Tenant
	}
	to := req.To
	switch {
	case to.Empty():
		return nil, providers.Invalid("to", "no recipients: name the users whose card to update (82101)")
	case len(to.Users) > MaxUsersPerPart:
		return nil, providers.Invalid("to.users", "%d users: update_template_card takes at most %d", len(to.Users), MaxUsersPerPart)
	case len(to.Depts) > MaxGroupsPerPart || len(to.Tags) > MaxGroupsPerPart:
		return nil, providers.Invalid("to", "at most %d departments and %d tags per update", MaxGroupsPerPart, MaxGroupsPerPart)
	case len(to.Chats) > 0:
		return nil, providers.Invalid("to.chats", "update_template_card cannot address chats")
	}
	r := updateRequest{UserIDs: to.Users, AgentID: c.cfg.AgentID, ResponseCode: req.ResponseCode}
	if to.All {
		r.AtAll = 1
	}
	for i, d := range to.Depts {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return nil, providers.Invalid("to.depts["+strconv.Itoa(i)+"]", "not a number")
		}
		r.PartyIDs = append(r.PartyIDs, n)
	}
	for i, t := range to.Tags {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return nil, providers.Invalid("to.tags["+strconv.Itoa(i)+"]", "not a number")
		}
		r.TagIDs = append(r.TagIDs, n)
	}
	if req.Kind == KindButton {
		r.Button = &updateButton{ReplaceName: req.Text}
	} else {
		b, err := normalizeJSON(req.Body)
		if err != nil {
			return nil, providers.Invalid("body", "%v", err)
		}
		r.TemplateCard = b
	}
	body, err := encodeJSON(&r)
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	data, st, err := c.call(ctx, tenant, opUpdate, pathUpdate, body)
	if err != nil {
		return nil, err
	}
	if code := st.code(); code != 0 {
		return nil, c.scope(tenant, codeError(opUpdate, code, st.ErrMsg))
	}
	var resp updateResponse
	_ = json.Unmarshal(data, &resp)
	return &providers.Result{State: codeState(req.ResponseCode), Invalid: providers.Recipients{Users: originalCase(resp.InvalidUser, to.Users)}}, nil
}

// CardTaskID returns the task_id of a rendered message/send body of a
// template card, "" for other bodies.
func CardTaskID(body []byte) string {
	var b struct {
		TemplateCard struct {
			TaskID string `json:"task_id"`
		} `json:"template_card"`
	}
	_ = json.Unmarshal(body, &b)
	return b.TemplateCard.TaskID
}
