package wps365

import (
	"bytes"
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

// replyPart is the stored body of a reply part. The reply API names its
// target in the path, and a Part has no field for a path, so the part body
// carries the target next to the exact request body, which Send posts
// byte for byte:
//
//	{"reply_to":{"chat":…,"message_id":…},"request":{"type":…,"mentions":[…],"content":{…}}}
//
// A create or batch_create body never has the key "reply_to".
type replyPart struct {
	ReplyTo providers.ReplyTo `json:"reply_to"`
	Request json.RawMessage   `json:"request"`
}

// replyPrefix starts the body of every reply part.
var replyPrefix = []byte(`{"reply_to":`)

// prepareReply renders msg (with ReplyTo) as one part to the chat
// reply_to.chat; it is never updatable.
func (c *Client) prepareReply(msg *providers.Message) ([]providers.Part, error) {
	ct, err := c.cfg.validateReply(msg)
	if err != nil {
		return nil, err
	}
	req, err := encodeJSON(replyBody{Type: ct.Type, Mentions: ct.Mentions, Content: ct.Content})
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	target, err := encodeJSON(providers.ReplyTo{Chat: msg.ReplyTo.Chat, MessageID: msg.ReplyTo.MessageID})
	if err != nil {
		return nil, providers.Invalid("reply_to", "%v", err)
	}
	body := make([]byte, 0, len(replyPrefix)+len(target)+len(req)+12)
	body = append(append(append(append(append(body, replyPrefix...), target...), `,"request":`...), req...), '}')
	return []providers.Part{{Index: 0, Tenant: msg.Tenant, To: providers.Recipients{Chats: []string{msg.ReplyTo.Chat}},
		NotUpdatable: true, Body: body}}, nil
}

// parseReplyPart returns the target and the exact request body of a reply
// part; ok is false for any other body.
func parseReplyPart(body []byte) (path string, request []byte, ok bool) {
	if !bytes.HasPrefix(body, replyPrefix) {
		return "", nil, false
	}
	var p replyPart
	if json.Unmarshal(body, &p) != nil || p.ReplyTo.Chat == "" || p.ReplyTo.MessageID == "" || len(p.Request) == 0 {
		return "", nil, false
	}
	return "/v7/chats/" + url.PathEscape(p.ReplyTo.Chat) + "/messages/" + url.PathEscape(p.ReplyTo.MessageID) + "/reply", p.Request, true
}
