package wecom

import (
	"context"

	"github.com/msgdispatch/msgdispatch/providers"
)

// recallRequest is the body of message/recall (specs/wecom.md §4).
type recallRequest struct {
	MsgID string `json:"msgid"`
}

// Recall takes back a message of a self-built app sent within [RecallWindow]
// (24h): POST
// {base}/cgi-bin/message/recall with {"msgid":…}, refreshing the token once like
// Send. An empty ProviderMessageID is a *providers.ValidationError; 42052 (msgid
// expired) and other errcodes are classified by errcodeTable (42052 is permanent).
func (c *Client) Recall(ctx context.Context, req *providers.RecallRequest) error {
	if req == nil || req.ProviderMessageID == "" {
		return providers.Invalid("provider_message_id", "required: the msgid of the message to recall")
	}
	if c.cfg.MultiTenant() {
		// providers.RecallRequest does not name the tenant whose token to use.
		return &providers.Error{Provider: ProviderName, Op: opRecall, Class: providers.ClassPermanent,
			Message: "recall is not supported yet for apps of mode " + c.cfg.EffectiveMode() + ": the request does not name its tenant"}
	}
	body, err := encodeJSON(recallRequest{MsgID: req.ProviderMessageID})
	if err != nil {
		return providers.Invalid("provider_message_id", "%v", err)
	}
	_, st, err := c.call(ctx, "", opRecall, pathRecall, body)
	if err != nil {
		return err
	}
	if code := st.code(); code != 0 {
		return codeError(opRecall, code, st.ErrMsg)
	}
	return nil
}
