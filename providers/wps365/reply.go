package wps365

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/msgdispatch/msgdispatch/providers"
)

// replyBody is the body of /v7/chats/{chat_id}/messages/{message_id}/reply
// (§4.4): type, mentions, content — no receiver.
type replyBody struct {
	Type     string          `json:"type"`
	Mentions []Mention       `json:"mentions,omitempty"`
	Content  json.RawMessage `json:"content"`
}

// replyTarget is the Part.Target of a reply part: the chat id and the
// message id answered, each path-escaped, joined by "/"
// ("chat_8d3f/msg_a1b2"). The request goes to
// /v7/chats/{chat_id}/messages/{message_id}/reply ([replyPath]).
func replyTarget(rt *providers.ReplyTo) string {
	return url.PathEscape(rt.Chat) + "/" + url.PathEscape(rt.MessageID)
}

// replyPath returns the API path of a reply part's Target; ok is false for
// a Target that is not a chat id and a message id.
func replyPath(target string) (path string, ok bool) {
	chat, msg, found := strings.Cut(target, "/")
	if !found || chat == "" || msg == "" || strings.Contains(msg, "/") {
		return "", false
	}
	if _, err := url.PathUnescape(chat); err != nil {
		return "", false
	}
	if _, err := url.PathUnescape(msg); err != nil {
		return "", false
	}
	return "/v7/chats/" + chat + "/messages/" + msg + "/reply", true
}

// prepareReply renders msg (with ReplyTo) as one part to the chat
// reply_to.chat: its Body is the exact reply request body and its Target
// the chat and message answered. It is never updatable.
func (c *Client) prepareReply(msg *providers.Message) ([]providers.Part, error) {
	ct, err := c.cfg.validateReply(msg)
	if err != nil {
		return nil, err
	}
	body, err := encodeJSON(replyBody{Type: ct.Type, Mentions: ct.Mentions, Content: ct.Content})
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	return []providers.Part{{Index: 0, Tenant: msg.Tenant, To: providers.Recipients{Chats: []string{msg.ReplyTo.Chat}},
		NotUpdatable: true, Target: replyTarget(msg.ReplyTo), Body: body}}, nil
}
