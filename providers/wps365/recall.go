package wps365

import (
	"context"
	"net/url"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Recall takes a message back: POST /v7/messages/{message_id}/recall with
// the body {} (the request body of the endpoint is not documented; the
// message is named by the path), KSO-1 signed, token refreshed once like
// Send. The message is req.ProviderMessageID, or else req.Sent's. No
// recall time limit is documented ([providers.Capabilities] RecallWindow 0,
// so no refusal is read as providers.ErrRecallExpired); a refusal is
// classified like any other, an unknown message wraps [ErrMessageGone].
func (c *Client) Recall(ctx context.Context, req *providers.RecallRequest) error {
	if req == nil {
		return providers.Invalid("provider_message_id", "required: the message_id of the message to recall")
	}
	id := req.ProviderMessageID
	if id == "" && req.Sent != nil {
		id = req.Sent.ProviderMessageID
	}
	if id == "" {
		return providers.Invalid("provider_message_id", "required: the message_id of the message to recall")
	}
	_, err := c.call(ctx, opRecall, "/v7/messages/"+url.PathEscape(id)+"/recall", []byte("{}"))
	return err
}
