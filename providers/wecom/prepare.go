package wecom

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Prepare validates msg (see [Validate]), splits its recipients into parts and
// renders each part's message/send body once.
//
// Splitting: users go in chunks of [MaxUsersPerPart], departments and tags in
// chunks of [MaxGroupsPerPart] each, and part i carries users chunk i, departments
// chunk i and tags chunk i (2500 users and 150 departments make 3 parts: 1000
// users + 100 departments, 1000 users + 50 departments, 500 users). A message to
// all is one part with touser "@all". Part.To is the part's subset.
//
// Body: fields in the order touser, toparty, totag ("|"-joined, each omitted when
// empty), msgtype, agentid, the content object (text and markdown as
// {"content":…}; a card as "template_card"; the body of a typed kind such as
// [KindNews] under its msgtype; a raw body's content object under its
// msgtype), safe and enable_id_trans (raw bodies only, omitted when 0),
// enable_duplicate_check 1 and duplicate_check_interval (the configured interval
// in seconds). For a raw body that itself carries touser, toparty, totag, agentid
// or the duplicate check fields, the client's values win. JSON is compact,
// without HTML escaping; card, typed and raw content keep their key order and
// number literals, with their strings re-encoded the same way (so "\u003c" escapes from
// the producer's encoder become "<"). The bytes depend only on msg, the part and
// the config: Prepare twice and get the same bodies.
//
// Template cards (kind card) get a task_id per part, since WeCom refuses a
// task_id its app used before: a card without one gets
// "md_<opts.MessageID>_g<opts.Generation>_p<part index>" where WeCom requires
// one (interaction cards and cards with action_menu; a message id longer than
// 64 bytes or with characters outside [0-9A-Za-z_@-] is replaced by
// "mdh_" and 40 hex digits of its SHA-256); a card's own task_id is kept as is
// for a one-part message of generation 0 and otherwise suffixed with
// "_p<part index>" (generation 0) or "_g<generation>_p<part index>", cut and
// tagged with 8 hex digits of its SHA-256 if the result would pass 128 bytes.
// The task_id is replaced where the card has it and added as the card's last
// field otherwise. A card that needs a generated task_id cannot be prepared
// without opts.MessageID. Raw bodies are sent as written.
//
// A multi-tenant app (mode third_party or custom) renders the agentid of
// msg.Tenant, read from the tenant store, and every part carries msg.Tenant;
// a missing or unknown tenant is a *providers.ValidationError on "tenant", a
// disabled one a ClassAppDisabled *providers.Error with Tenant set.
func (c *Client) Prepare(ctx context.Context, msg *providers.Message, opts providers.PrepareOptions) ([]providers.Part, error) {
	if msg == nil {
		return nil, providers.Invalid("message", "is nil")
	}
	if err := validateRecipients(msg.To); err != nil {
		return nil, err
	}
	ct, err := messageContent(msg)
	if err != nil {
		return nil, err
	}
	rc, err := c.forTenant(ctx, msg) // a multi-tenant app renders its tenant's agentid
	if err != nil {
		return nil, err
	}
	groups := splitRecipients(msg.To)
	parts := make([]providers.Part, 0, len(groups))
	for i, to := range groups {
		pc, err := ct.forPart(opts, i, len(groups))
		if err != nil {
			return nil, err
		}
		body, err := rc.render(to, pc)
		if err != nil {
			return nil, providers.Invalid("body", "part %d: %v", i, err)
		}
		if len(body) > MaxBodyBytes {
			return nil, providers.Invalid("body", "part %d renders to %d bytes: WeCom takes at most %d", i, len(body), MaxBodyBytes)
		}
		ref := ""
		if ct.msgtype == "template_card" { // only a card has a task_id (decoding the body costs)
			ref = CardTaskID(body)
		}
		parts = append(parts, providers.Part{Index: i, Tenant: msg.Tenant, To: to, Body: body, Ref: ref})
	}
	return parts, nil
}

// render is the message/send body of one part.
func (c *Client) render(to providers.Recipients, ct *content) ([]byte, error) {
	req := sendRequest{
		ToUser:                 strings.Join(to.Users, "|"),
		ToParty:                strings.Join(to.Depts, "|"),
		ToTag:                  strings.Join(to.Tags, "|"),
		MsgType:                ct.msgtype,
		AgentID:                c.cfg.AgentID,
		Safe:                   ct.safe,
		EnableIDTrans:          ct.enableIDTrans,
		EnableDuplicateCheck:   1,
		DuplicateCheckInterval: int64(c.cfg.DuplicateCheckInterval / time.Second),
	}
	if to.All {
		req.ToUser = "@all"
	}
	*req.contentField(ct.msgtype) = ct.body
	return encodeJSON(&req)
}

// splitRecipients splits validated recipients into per-request subsets.
func splitRecipients(to providers.Recipients) []providers.Recipients {
	if to.All {
		return []providers.Recipients{{All: true}}
	}
	n := max(chunks(len(to.Users), MaxUsersPerPart), chunks(len(to.Depts), MaxGroupsPerPart), chunks(len(to.Tags), MaxGroupsPerPart))
	out := make([]providers.Recipients, n)
	for i := range out {
		out[i] = providers.Recipients{
			Users: chunk(to.Users, i, MaxUsersPerPart),
			Depts: chunk(to.Depts, i, MaxGroupsPerPart),
			Tags:  chunk(to.Tags, i, MaxGroupsPerPart),
		}
	}
	return out
}

func chunks(n, size int) int { return (n + size - 1) / size }

// chunk is the i-th chunk of ids (a copy), or nil past the end.
func chunk(ids []string, i, size int) []string {
	lo := i * size
	if lo >= len(ids) {
		return nil
	}
	return slices.Clone(ids[lo:min(lo+size, len(ids))])
}
