package wps365

import (
	"context"
	"encoding/json"
	"errors"
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

// Update replaces the whole card of one part (providers.Provider): POST
// /v7/messages/{message_id}/update with {"type":"card","content":{"card":…}}
// (config.shared_card set to true unless the card says), KSO-1 signed,
// token refreshed once like Send. An updatable part is one create to one
// receiver, so one call serves all req.Users, who are all updated or all
// left as they were.
//
// Content that is not a whole card is refused before any request
// (*providers.ValidationError on "kind"). A part that can never be updated
// — Part.NotUpdatable (a batch_create part, a card that is not shared,
// other content, a reply), no recorded message id, or one WPS answers "msg
// not updatable" for or no longer knows (404: deleted or recalled) — leaves
// every user unreachable with the reason, and no error. Any other failure
// is returned as the *providers.Error of the call, which applied nothing
// (its class says whether to retry).
func (c *Client) Update(ctx context.Context, req *providers.UpdateRequest) (*providers.UpdateResult, error) {
	if req == nil || req.Part == nil {
		return nil, providers.Invalid("part", "required: the part to update")
	}
	ct, err := updateContent(req.Content.Kind, req.Content.Text, req.Content.Body)
	if err != nil {
		return nil, err
	}
	out := &providers.UpdateResult{}
	unreachable := func(reason string) (*providers.UpdateResult, error) {
		for _, u := range req.Users {
			out.Unreach(u, reason)
		}
		return out, nil
	}
	if req.Part.NotUpdatable {
		return unreachable(notUpdatableReason(req.Part))
	}
	id := ""
	if req.Sent != nil {
		id = req.Sent.ProviderMessageID
	}
	if id == "" {
		return unreachable("not updatable: WPS 365 returned no message_id for this part")
	}
	body, err := encodeJSON(updateBody{Type: ct.Type, Content: ct.Content})
	if err != nil {
		return nil, providers.Invalid("content.body", "%v", err)
	}
	_, err = c.call(ctx, opUpdate, "/v7/messages/"+url.PathEscape(id)+"/update", body)
	switch {
	case err == nil:
		out.Updated = append(out.Updated, req.Users...)
		return out, nil
	case errors.Is(err, ErrNotUpdatable):
		return unreachable("not updatable: WPS 365 refused the update: " + err.Error())
	case errors.Is(err, ErrMessageGone):
		return unreachable("not updatable: WPS 365 no longer knows the message (deleted or recalled): " + err.Error())
	}
	return nil, err
}

// notUpdatableReason says why a part marked NotUpdatable cannot be updated.
func notUpdatableReason(p *providers.Part) string {
	switch {
	case p.Target != "":
		return reasonNotCard + "; this part is a reply"
	case isBatch(p.Body):
		return reasonBatch
	}
	var s partShape
	if json.Unmarshal(p.Body, &s) == nil && s.Type == "card" {
		return reasonNotShared
	}
	return reasonNotCard
}
