package wps365

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/msgdispatch/msgdispatch/providers"
)

// replyBody is the body of /v7/chats/{chat_id}/messages/{message_id}/reply
// (§4.4): type, mentions, content — no receiver.
type replyBody struct {
	Type     string          `json:"type"`
	Mentions []Mention       `json:"mentions,omitempty"`
	Content  json.RawMessage `json:"content"`
}

// ValidateReply checks a reply by the reply API's rules, without I/O: chat
// and message ids, and content of type text (kinds text and markdown),
// rich_text or image (kinds rich_text, image, or raw of those types), ≤ 5000
// characters, ≤ 100 mentions each matching an <at id=…> of the text.
// Errors are *providers.ValidationError naming the field ("chat_id",
// "reply_to", "kind", "text", "body.mentions[0].identity.id").
func ValidateReply(req *providers.ReplyRequest) error {
	_, err := replyRequestBody(req)
	return err
}

func replyRequestBody(req *providers.ReplyRequest) ([]byte, error) {
	switch {
	case req == nil:
		return nil, providers.Invalid("reply", "required")
	case req.ChatID == "":
		return nil, providers.Invalid("chat_id", "required: the chat of the message answered")
	case req.ReplyTo == "":
		return nil, providers.Invalid("reply_to", "required: the message_id answered")
	}
	switch req.Kind {
	case providers.KindText, providers.KindMarkdown, KindRichText, KindImage, providers.KindRaw:
	default:
		return nil, providers.Invalid("kind", "a reply is text, markdown, rich_text or image, not %q", req.Kind)
	}
	ct, err := renderContent(req.Kind, req.Text, req.Body, false)
	if err != nil {
		return nil, err
	}
	if !replyTypes[ct.Type] {
		return nil, providers.Invalid("body.type", "a reply is text, rich_text or image, not %q", ct.Type)
	}
	b, err := encodeJSON(replyBody{Type: ct.Type, Mentions: ct.Mentions, Content: ct.Content})
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	return b, nil
}

// Reply answers a chat message: POST
// /v7/chats/{chat_id}/messages/{message_id}/reply with {type, mentions,
// content}, KSO-1 signed, token refreshed once like Send. The Result's
// ProviderMessageID is data.message_id of the reply. Content is checked by
// [ValidateReply] first.
func (c *Client) Reply(ctx context.Context, req *providers.ReplyRequest) (*providers.Result, error) {
	body, err := replyRequestBody(req)
	if err != nil {
		return nil, err
	}
	path := "/v7/chats/" + url.PathEscape(req.ChatID) + "/messages/" + url.PathEscape(req.ReplyTo) + "/reply"
	data, err := c.call(ctx, opReply, path, body)
	if err != nil {
		return nil, err
	}
	var d createData
	_ = json.Unmarshal(data, &d)
	return &providers.Result{ProviderMessageID: d.MessageID}, nil
}
