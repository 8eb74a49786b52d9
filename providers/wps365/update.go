package wps365

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/msgdispatch/msgdispatch/providers"
)

// updateBody is the body of /v7/messages/{id}/update (§4.3).
type updateBody struct {
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// ValidateUpdate checks new content for a sent card: kind card with the
// whole new card in body (or raw of type card). WPS updates cards only,
// and replaces the whole card; anything else is a
// *providers.ValidationError on "kind".
func ValidateUpdate(kind providers.Kind, text string, body json.RawMessage) error {
	_, err := updateContent(kind, text, body)
	return err
}

func updateContent(kind providers.Kind, text string, body json.RawMessage) (*content, error) {
	if kind != providers.KindCard && kind != providers.KindRaw {
		return nil, providers.Invalid("kind", "WPS 365 updates cards only (kind card with the whole new card), not %q", kind)
	}
	ct, err := renderContent(kind, text, body, true)
	if err != nil {
		return nil, err
	}
	if ct.Type != "card" {
		return nil, providers.Invalid("body.type", "WPS 365 updates cards only, not %q", ct.Type)
	}
	return ct, nil
}

// Update replaces the whole card of a message sent with messages/create:
// POST /v7/messages/{message_id}/update with {"type":"card","content":{"card":…}}
// (config.shared_card set to true unless the card says), KSO-1 signed, token
// refreshed once like Send. req.ProviderMessageID is required, req.Kind is
// card. WPS refuses a message from batch_create or a card that is not
// shared with "msg not updatable": that comes back as a permanent
// *providers.Error wrapping [ErrNotUpdatable]; an unknown message wraps
// [ErrMessageGone].
func (c *Client) Update(ctx context.Context, req *providers.UpdateRequest) (*providers.Result, error) {
	if req == nil || req.ProviderMessageID == "" {
		return nil, providers.Invalid("provider_message_id", "required: the message_id of the card to update")
	}
	ct, err := updateContent(req.Kind, req.Text, req.Body)
	if err != nil {
		return nil, err
	}
	body, err := encodeJSON(updateBody{Type: ct.Type, Content: ct.Content})
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	if _, err := c.call(ctx, opUpdate, "/v7/messages/"+url.PathEscape(req.ProviderMessageID)+"/update", body); err != nil {
		return nil, err
	}
	return &providers.Result{ProviderMessageID: req.ProviderMessageID}, nil
}
