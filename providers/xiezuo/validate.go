package xiezuo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Message limits (the WPS open-platform documentation).
const (
	// MaxTextChars is the most characters (runes) of a text or markdown message.
	MaxTextChars = 5000
	// MaxCardChars is the most characters of a card, counted as the runes of
	// all its JSON string values (the document says "≤ 5000 characters per
	// card" without saying what is counted).
	MaxCardChars = 5000
	// MaxCardComponents is the most components of a card, counted as the
	// entries of its elements (and of each i18n locale's elements).
	MaxCardComponents = 20
	// MaxBodyBytes bounds a rendered request body (no limit is documented).
	MaxBodyBytes = 256 << 10
)

// v2 msg_type values (the WPS open-platform documentation).
const (
	// MsgTypeText is msg_type 1, text ({"type":1,"body":…}; markdown adds
	// "style":"markdown").
	MsgTypeText = 1
	// MsgTypeCard is msg_type 23, a message card.
	MsgTypeCard = 23
)

// rawKeys are the keys a raw body may hold; the recipients, app_key, ctx_id,
// company_id, company_uid and utype are set by the client.
var rawKeys = map[string]bool{"msg_type": true, "content": true, "biz_type": true}

// Validate checks msg by the WPS 协作 v2 send rules without I/O and returns a
// *providers.ValidationError naming the first bad field:
//
//   - reply_to: refused, WPS 协作 v2 has no reply API.
//   - to: users, depts and chats (ids non-empty) and all (sent as
//     to_companies with the app's company); tags are not supported.
//   - text, markdown: text non-empty, valid UTF-8, at most [MaxTextChars]
//     characters; body empty.
//   - card: body is the v2 card object (header, elements, …, the value of
//     content.content), at most [MaxCardComponents] elements per locale and
//     [MaxCardChars] characters.
//   - raw: body is {"msg_type": n, "content": {…}, "biz_type"?: "…"}; the
//     client adds recipients and ids; a card (msg_type 23) is checked as above.
func Validate(msg *providers.Message) error {
	_, err := validate(msg)
	return err
}

// validate is [Validate] returning the rendered content.
func validate(msg *providers.Message) (*content, error) {
	if msg == nil {
		return nil, providers.Invalid("message", "is nil")
	}
	if msg.ReplyTo != nil {
		return nil, providers.Invalid("reply_to", "WPS 协作 v2 has no reply API: send a new message to the chat (to.chats) instead")
	}
	if err := validateRecipients(msg.To); err != nil {
		return nil, err
	}
	return messageContent(msg)
}

// Validate is the package-level [Validate].
func (c *Client) Validate(msg *providers.Message) error { return Validate(msg) }

func validateRecipients(to providers.Recipients) error {
	if to.Empty() {
		return providers.Invalid("to", "no recipients: name users, depts, chats or all")
	}
	if len(to.Tags) > 0 {
		return providers.Invalid("to.tags", "WPS 协作 has no tags: send to users, depts, chats or all")
	}
	for _, l := range []struct {
		name string
		ids  []string
	}{{"to.users", to.Users}, {"to.depts", to.Depts}, {"to.chats", to.Chats}} {
		seen := map[string]bool{}
		for i, id := range l.ids {
			switch {
			case strings.TrimSpace(id) == "":
				return providers.Invalid(fmt.Sprintf("%s[%d]", l.name, i), "empty id")
			case seen[id]:
				return providers.Invalid(fmt.Sprintf("%s[%d]", l.name, i), "id %q repeated", id)
			case !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl):
				return providers.Invalid(fmt.Sprintf("%s[%d]", l.name, i), "id %q is not UTF-8 text without control characters", id)
			}
			seen[id] = true
		}
	}
	return nil
}

// content is a message's validated, rendered content.
type content struct {
	msgType int
	// body is the compact JSON of the "content" object of the send body.
	body    json.RawMessage
	bizType string
	card    bool
}

// messageContent validates msg's content and renders it once.
func messageContent(msg *providers.Message) (*content, error) {
	switch msg.Kind {
	case providers.KindText, providers.KindMarkdown:
		if len(msg.Body) > 0 {
			return nil, providers.Invalid("body", "must be empty for kind %s (the content is in text)", msg.Kind)
		}
		if err := checkText("text", msg.Text); err != nil {
			return nil, err
		}
		tc := textContent{Type: MsgTypeText, Body: msg.Text}
		if msg.Kind == providers.KindMarkdown {
			tc.Style = "markdown"
		}
		b, err := encodeJSON(tc)
		if err != nil {
			return nil, providers.Invalid("text", "%v", err)
		}
		return &content{msgType: MsgTypeText, body: b}, nil
	case providers.KindCard:
		if msg.Text != "" {
			return nil, providers.Invalid("text", "must be empty for kind card (the card is in body)")
		}
		card, err := checkCard("body", msg.Body)
		if err != nil {
			return nil, err
		}
		b, err := encodeJSON(cardContent{Type: MsgTypeCard, Content: card})
		if err != nil {
			return nil, providers.Invalid("body", "%v", err)
		}
		return &content{msgType: MsgTypeCard, body: b, card: true}, nil
	case providers.KindRaw:
		if msg.Text != "" {
			return nil, providers.Invalid("text", "must be empty for kind raw (the message is in body)")
		}
		return rawContent(msg.Body)
	case "":
		return nil, providers.Invalid("kind", "required: text, markdown, card or raw")
	}
	return nil, providers.Invalid("kind", "unsupported kind %q: want text, markdown, card or raw", msg.Kind)
}

func checkText(field, s string) error {
	switch n := utf8.RuneCountInString(s); {
	case strings.TrimSpace(s) == "":
		return providers.Invalid(field, "empty")
	case !utf8.ValidString(s):
		return providers.Invalid(field, "not valid UTF-8")
	case n > MaxTextChars:
		return providers.Invalid(field, "%d characters: WPS takes at most %d", n, MaxTextChars)
	}
	return nil
}

// jsonObject decodes raw as a JSON object (numbers kept as written).
func jsonObject(field string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0:
		return nil, providers.Invalid(field, "required: a JSON object")
	case len(raw) > MaxBodyBytes:
		return nil, providers.Invalid(field, "%d bytes: at most %d", len(raw), MaxBodyBytes)
	case !utf8.Valid(raw):
		return nil, providers.Invalid(field, "not valid UTF-8")
	case t[0] != '{':
		return nil, providers.Invalid(field, "must be a JSON object")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, providers.Invalid(field, "not a valid JSON object: %v", err)
	}
	return obj, nil
}

// checkCard checks a v2 card object at field and returns it compacted.
func checkCard(field string, raw json.RawMessage) (json.RawMessage, error) {
	obj, err := jsonObject(field, raw)
	if err != nil {
		return nil, err
	}
	if _, ok := obj["content"]; ok {
		if _, hasEls := obj["elements"]; !hasEls {
			return nil, providers.Invalid(field+".content", "the card object itself is expected (header, elements, …), not the content wrapper; use kind raw for a whole content object")
		}
	}
	if err := checkElements(field+".elements", obj["elements"], true); err != nil {
		return nil, err
	}
	if i18n, ok := obj["i18n"]; ok && string(i18n) != "null" {
		var locales map[string]struct {
			Elements json.RawMessage `json:"elements"`
		}
		if err := json.Unmarshal(i18n, &locales); err != nil {
			return nil, providers.Invalid(field+".i18n", "must be an object of locales: %v", err)
		}
		for loc, v := range locales {
			if err := checkElements(field+".i18n."+loc+".elements", v.Elements, false); err != nil {
				return nil, err
			}
		}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, providers.Invalid(field, "%v", err)
	}
	if n := stringChars(v); n > MaxCardChars {
		return nil, providers.Invalid(field, "%d characters of text: a card takes at most %d", n, MaxCardChars)
	}
	return compact(raw)
}

// checkElements checks a card's elements array: present (when required), an
// array of objects each with a tag, at most MaxCardComponents.
func checkElements(field string, raw json.RawMessage, required bool) error {
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return providers.Invalid(field, "required: the card's components")
		}
		return nil
	}
	var els []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &els); err != nil {
		return providers.Invalid(field, "must be an array of component objects")
	}
	if len(els) > MaxCardComponents {
		return providers.Invalid(field, "%d components: a card takes at most %d", len(els), MaxCardComponents)
	}
	for i, el := range els {
		var tag string
		if err := json.Unmarshal(el["tag"], &tag); err != nil || tag == "" {
			return providers.Invalid(fmt.Sprintf("%s[%d].tag", field, i), "required: a string (text, img, action, …)")
		}
	}
	return nil
}

// stringChars counts the runes of every string value (not key) in v.
func stringChars(v any) int {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x)
	case []any:
		n := 0
		for _, e := range x {
			n += stringChars(e)
		}
		return n
	case map[string]any:
		n := 0
		for _, e := range x {
			n += stringChars(e)
		}
		return n
	}
	return 0
}

// rawContent checks a raw body and renders its content.
func rawContent(raw json.RawMessage) (*content, error) {
	obj, err := jsonObject("body", raw)
	if err != nil {
		return nil, err
	}
	for k := range obj {
		if !rawKeys[k] {
			return nil, providers.Invalid("body."+k, "unexpected field: a raw body holds msg_type, content and biz_type (recipients, app_key, ctx_id, company_id, company_uid and utype are set by the dispatcher)")
		}
	}
	var mt int
	if err := json.Unmarshal(obj["msg_type"], &mt); err != nil || mt <= 0 {
		return nil, providers.Invalid("body.msg_type", "required: a positive integer (1 text, 23 card, …)")
	}
	inner, err := jsonObject("body.content", obj["content"])
	if err != nil {
		return nil, err
	}
	var ct int
	if err := json.Unmarshal(inner["type"], &ct); err != nil || ct != mt {
		return nil, providers.Invalid("body.content.type", "must equal msg_type %d (与外面 msg_type 一致)", mt)
	}
	c := &content{msgType: mt}
	if b, ok := obj["biz_type"]; ok {
		if err := json.Unmarshal(b, &c.bizType); err != nil {
			return nil, providers.Invalid("body.biz_type", "must be a string")
		}
	}
	switch mt {
	case MsgTypeText:
		var s string
		if err := json.Unmarshal(inner["body"], &s); err != nil {
			return nil, providers.Invalid("body.content.body", "required: a string")
		}
		if err := checkText("body.content.body", s); err != nil {
			return nil, err
		}
	case MsgTypeCard:
		if _, err := checkCard("body.content.content", inner["content"]); err != nil {
			return nil, err
		}
		c.card = true
	}
	if c.body, err = compact(obj["content"]); err != nil {
		return nil, providers.Invalid("body.content", "%v", err)
	}
	return c, nil
}
