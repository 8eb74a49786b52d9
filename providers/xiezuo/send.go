package xiezuo

import (
	"context"
	"encoding/json"

	"github.com/msgdispatch/msgdispatch/providers"
)

// sendResponse is the send answer: {"result":0,"message_id":"…"}.
type sendResponse struct {
	MessageID string `json:"message_id"`
}

// SendResult is what WPS said about an accepted part.
type SendResult struct {
	// CtxID is the part's ctx_id: the reference Update and callbacks use.
	CtxID string
	// MessageID is WPS's message id; empty when message audit (消息审核)
	// held the message, which is not an error.
	MessageID string
}

// Send sends one prepared part (see [Client.SendPart]) and returns a Result
// whose ProviderMessageID is the part's ctx_id (its Ref) — the reference
// [Client.Update] addresses and card callbacks carry — and whose State is
// {"message_id":"…"}, WPS's own message id, kept for people (nothing needs it
// back); State is empty when message audit held the message.
func (c *Client) Send(ctx context.Context, part *providers.Part) (*providers.Result, error) {
	r, err := c.SendPart(ctx, part)
	if err != nil {
		return nil, err
	}
	out := &providers.Result{ProviderMessageID: r.CtxID}
	if r.MessageID != "" {
		out.State, _ = encodeJSON(sentState{MessageID: r.MessageID}) // a struct of one string always encodes
	}
	return out, nil
}

// sentState is the Result.State of a sent part.
type sentState struct {
	MessageID string `json:"message_id"`
}

// SendPart POSTs part.Body, byte for byte, signed, to
// {base}{send_path}?company_token=…. If WPS says the token is bad (HTTP 401,
// or a token complaint in msg) it invalidates that token, fetches a new one
// and re-sends the same bytes once. Failures are *providers.Error with Op
// "messages/send" (or "company_token"): 5xx, timeouts and lost answers are
// ClassUnknownOutcome (WPS documents no duplicate suppression, so the caller
// must not re-send blindly), 429 ClassThrottled, refused signature or app
// ClassAppDisabled, refused content or recipients ClassPermanent.
func (c *Client) SendPart(ctx context.Context, part *providers.Part) (*SendResult, error) {
	if part == nil || len(part.Body) == 0 {
		return nil, &providers.Error{Provider: ProviderName, Op: opSend, Class: providers.ClassPermanent, Message: "empty part: nothing to send"}
	}
	data, err := c.call(ctx, opSend, "POST", c.cfg.SendPath, part.Body)
	if err != nil {
		return nil, err
	}
	var r sendResponse
	_ = json.Unmarshal(data, &r) // result 0 was decoded from data; message_id may be "" under audit
	return &SendResult{CtxID: BodyCtxID(part.Body), MessageID: r.MessageID}, nil
}
