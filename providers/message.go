package providers

import (
	"encoding/json"
)

// Kind says how [Message.Text] or [Message.Body] is to be read.
type Kind string

const (
	// KindText is plain text in Message.Text.
	KindText Kind = "text"
	// KindMarkdown is the provider's markdown dialect in Message.Text.
	KindMarkdown Kind = "markdown"
	// KindCard is a provider-native interactive card object in Message.Body
	// (WeCom: the value of "template_card").
	KindCard Kind = "card"
	// KindRaw is any message the provider accepts, as a provider-native JSON object
	// in Message.Body (WeCom: an object with "msgtype" and the matching content key).
	KindRaw Kind = "raw"
)

// Message is one message to a set of recipients of one configured app. It carries no
// credentials: a Message is safe to store in a task payload and show on a dashboard.
type Message struct {
	// App is the configured app name (a key of the config's apps block). Required.
	App string `json:"app"`
	// Tenant is the tenant (auth corp id) of a multi-tenant app; empty for a
	// self-built app, which has exactly one tenant.
	Tenant string `json:"tenant,omitempty"`
	// To is who receives the message. At least one recipient is required.
	To Recipients `json:"to"`
	// Kind says which of Text or Body holds the content. Required.
	Kind Kind `json:"kind"`
	// Text is the content of KindText and KindMarkdown messages.
	Text string `json:"text,omitempty"`
	// Body is the provider-native JSON of KindCard and KindRaw messages.
	Body json.RawMessage `json:"body,omitempty"`
	// ReplyTo makes the message a reply to a message in a chat (a provider
	// whose Capabilities.Reply is set). A reply is a job of its own: records,
	// quotas and cancel treat it like a send.
	ReplyTo *ReplyTo `json:"reply_to,omitempty"`
}

// ReplyTo names the chat message a reply answers.
type ReplyTo struct {
	// Chat is the chat id. Required.
	Chat string `json:"chat"`
	// MessageID is the provider's id of the message answered. Required.
	MessageID string `json:"message_id"`
}

// Recipients are the targets of a message. Users are member ids; Depts, Tags and
// Chats are group targets whose members the dispatcher does not know.
type Recipients struct {
	Users []string `json:"users,omitempty"`
	Depts []string `json:"depts,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	Chats []string `json:"chats,omitempty"`
	// All sends to every member who can see the app (WeCom "@all").
	All bool `json:"all,omitempty"`
}

// Count is the number of targets named: users plus groups, "all" counting as one.
func (r Recipients) Count() int {
	n := len(r.Users) + len(r.Depts) + len(r.Tags) + len(r.Chats)
	if r.All {
		n++
	}
	return n
}

// Empty reports whether r names no target at all.
func (r Recipients) Empty() bool { return r.Count() == 0 }
