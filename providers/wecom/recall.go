package wecom

import (
	"context"
	"fmt"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// recallRequest is the body of message/recall (WeCom's API documentation).
type recallRequest struct {
	MsgID string `json:"msgid"`
}

// Recall takes back a message sent within [RecallWindow] (24h): POST
// {base}/cgi-bin/message/recall with {"msgid":…}, refreshing the token once like
// Send. A multi-tenant app recalls with the token of req.Tenant (the tenant the
// message was sent for), obtained like Send's; a multi-tenant request without
// Tenant is a *providers.ValidationError on "tenant", as is an empty
// ProviderMessageID on "provider_message_id". 42052 (msgid expired) and other
// errcodes are classified by errcodeTable (42052 is permanent); tenant-dead
// errcodes carry providers.Error.Tenant like Send's. A message whose
// req.SentAt is older than RecallWindow is refused locally with the same
// 42052, without a request; both wrap providers.ErrRecallExpired.
func (c *Client) Recall(ctx context.Context, req *providers.RecallRequest) error {
	if req == nil || req.ProviderMessageID == "" {
		return providers.Invalid("provider_message_id", "required: the msgid of the message to recall")
	}
	if age := c.now().Sub(req.SentAt); !req.SentAt.IsZero() && age > RecallWindow {
		e := codeError(opRecall, codeRecallExpired, fmt.Sprintf("sent %s ago: WeCom recalls only messages sent within %s (checked before calling)", age.Round(time.Second), RecallWindow))
		return c.scope(req.Tenant, e)
	}
	tenant := ""
	if c.cfg.MultiTenant() {
		if req.Tenant == "" {
			return providers.Invalid("tenant", "required: an app of mode %s recalls a message of one tenant (the authorising corp id it was sent for)", c.cfg.EffectiveMode())
		}
		tenant = req.Tenant
	}
	body, err := encodeJSON(recallRequest{MsgID: req.ProviderMessageID})
	if err != nil {
		return providers.Invalid("provider_message_id", "%v", err)
	}
	_, st, err := c.call(ctx, tenant, opRecall, pathRecall, body)
	if err != nil {
		return err
	}
	if code := st.code(); code != 0 {
		return c.scope(tenant, codeError(opRecall, code, st.ErrMsg))
	}
	return nil
}
