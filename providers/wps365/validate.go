package wps365

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/msgdispatch/msgdispatch/providers"
)

// ValidateMessage checks msg by WPS 365's rules without credentials or I/O
// (providers.AppConfig): content (see the Kind constants; ≤ 5000
// characters of text, cards ≤ 20 components per language and ≤ 15000
// characters, ≤ 100 mentions each matching an <at id=…>), and recipients:
// users (plain ids, or partner users as "partner:{partner_id}:{user_id}"),
// depts, chats, and All (needs company_id); no tags.
//
// A message with ReplyTo is a reply (the WPS open-platform documentation): text,
// markdown, rich_text or image only, to the chat reply_to.chat.
//
// Errors are *providers.ValidationError naming the field ("to.users[3]",
// "text", "body.i18n_items[0].value.elements", "reply_to.chat", "kind").
func (c Config) ValidateMessage(msg *providers.Message) error {
	if msg == nil {
		return providers.Invalid("message", "required")
	}
	if msg.ReplyTo != nil {
		_, err := c.validateReply(msg)
		return err
	}
	if err := c.validateRecipients(msg.To); err != nil {
		return err
	}
	_, err := renderContent(msg.Kind, msg.Text, msg.Body, true)
	return err
}

func (c Config) validateRecipients(to providers.Recipients) error {
	if to.Empty() {
		return providers.Invalid("to", "required: at least one user, dept, chat, or all")
	}
	if len(to.Tags) > 0 {
		return providers.Invalid("to.tags", "WPS 365 has no tags")
	}
	if to.All && c.CompanyID == "" {
		return providers.Invalid("to.all", "needs company_id in the wps365 config")
	}
	for _, g := range []struct {
		field string
		ids   []string
	}{{"to.users", to.Users}, {"to.depts", to.Depts}, {"to.chats", to.Chats}} { // in this order: the first bad field is named
		field := g.field
		for i, id := range g.ids {
			if strings.TrimSpace(id) == "" {
				return providers.Invalid(field+"["+strconv.Itoa(i)+"]", "empty id")
			}
			if !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
				return providers.Invalid(field+"["+strconv.Itoa(i)+"]", "id %q is not UTF-8 text without control characters", id)
			}
			if field == "to.users" && strings.HasPrefix(id, PartnerUserPrefix) {
				if _, _, ok := ParsePartnerUser(id); !ok {
					return providers.Invalid(field+"["+strconv.Itoa(i)+"]", "a partner user is partner:{partner_id}:{user_id}")
				}
			}
		}
	}
	return nil
}

// validateReply checks a reply by the reply API's rules (the WPS open-platform documentation
// §4.4) and renders its content: reply_to.chat and reply_to.message_id
// set; To empty or naming only that chat; content of type text (kinds text
// and markdown), rich_text or image (kinds rich_text, image, or raw of
// those types), ≤ 5000 characters, ≤ 100 mentions each matching an <at
// id=…> of the text.
func (c Config) validateReply(msg *providers.Message) (*content, error) {
	rt := msg.ReplyTo
	switch {
	case strings.TrimSpace(rt.Chat) == "":
		return nil, providers.Invalid("reply_to.chat", "required: the chat of the message answered")
	case strings.TrimSpace(rt.MessageID) == "":
		return nil, providers.Invalid("reply_to.message_id", "required: the message_id answered")
	}
	to := msg.To
	if len(to.Users)+len(to.Depts)+len(to.Tags) > 0 || to.All || len(to.Chats) > 1 || (len(to.Chats) == 1 && to.Chats[0] != rt.Chat) {
		return nil, providers.Invalid("to", "a reply goes to its chat only: leave to empty or name reply_to.chat (%s)", rt.Chat)
	}
	switch msg.Kind {
	case providers.KindText, providers.KindMarkdown, KindRichText, KindImage, providers.KindRaw:
	default:
		return nil, providers.Invalid("kind", "a reply is text, markdown, rich_text or image, not %q", msg.Kind)
	}
	ct, err := renderContent(msg.Kind, msg.Text, msg.Body, false)
	if err != nil {
		return nil, err
	}
	if !replyTypes[ct.Type] {
		return nil, providers.Invalid("body.type", "a reply is text, rich_text or image, not %q", ct.Type)
	}
	return ct, nil
}

// Reasons a message cannot be updated, shared by ValidateUpdate and Update.
const (
	reasonNotCard = "not updatable: WPS 365 updates only cards sent with messages/create " +
		"(send kind card to users or chats)"
	reasonBatch = "not updatable: the part was sent with messages/batch_create (depts or the whole company), " +
		"which WPS 365 cannot update"
	reasonNotShared = "not updatable: the card is not a shared card (config.shared_card false); " +
		`WPS 365 answers "msg not updatable"`
)

// ValidateUpdate checks new content c for the message sent as msg, at
// enqueue (providers.AppConfig): the content must be a whole card (kind
// card, or raw of type card; "kind" otherwise), and msg a card (kind card)
// that is shared and goes to at least one user or chat — the parts sent to
// depts or the whole company use messages/batch_create and cannot be
// updated. A refusal is a *providers.ValidationError naming the field.
func (c Config) ValidateUpdate(msg *providers.Message, ct *providers.Content) error {
	if ct == nil {
		return providers.Invalid("content", "required")
	}
	if err := ValidateUpdate(ct.Kind, ct.Text, ct.Body); err != nil {
		return err
	}
	if msg == nil {
		return providers.Invalid("message", "required")
	}
	if msg.Kind != providers.KindCard || msg.ReplyTo != nil {
		return providers.Invalid("kind", "the message is of kind %s: %s", msg.Kind, reasonNotCard)
	}
	sent, err := renderContent(msg.Kind, msg.Text, msg.Body, true)
	if err != nil {
		return err
	}
	if !sent.Shared {
		return providers.Invalid("body.config.shared_card", "%s", reasonNotShared)
	}
	if len(msg.To.Users) == 0 && len(msg.To.Chats) == 0 {
		return providers.Invalid("to", "%s", reasonBatch)
	}
	return nil
}
