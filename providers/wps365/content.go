package wps365

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Kinds beyond the provider-neutral ones. For each, Message.Body is the
// object under the content key of the same name (the WPS open-platform documentation).
const (
	// KindRichText: Body is the value of content.rich_text ({"elements":[…]}).
	KindRichText providers.Kind = "rich_text"
	// KindImage: Body is the value of content.image ({"storage_key":…, …}).
	KindImage providers.Kind = "image"
	// KindFile: Body is the value of content.file ({"type":"local","local":{…}}).
	KindFile providers.Kind = "file"
)

// How the provider-neutral kinds map to v7 content:
//
//   - providers.KindText and providers.KindMarkdown: Text is the text;
//     the outer type is "text" and content.text.type is "plain" or
//     "markdown" (an outer "markdown" is refused by WPS with
//     "invalid open_v7_message_type"). Body may hold {"mentions":[…]} for
//     the <at id="…"> tags of Text.
//   - providers.KindCard: Body is the card object (content.card).
//   - providers.KindRaw: Body is {"type":…, "content":{…}, "mentions":[…]}
//     exactly as the API takes it, without receiver.

// Mention is one entry of mentions[]: the person (or everyone) an
// <at id="{ID}"> tag of the text stands for.
type Mention struct {
	// ID matches the {index} of an <at id={index}> tag; it is an index, not a
	// user id.
	ID string `json:"id"`
	// Type is "user" or "all".
	Type string `json:"type"`
	// Identity is the user; nil for "all".
	Identity *Identity `json:"identity,omitempty"`
}

// Identity is a mentioned user.
type Identity struct {
	CompanyID string `json:"company_id"`
	ID        string `json:"id"`
	// Type is "user".
	Type string `json:"type"`
}

// messageTypes are the outer types messages/create accepts (§4.1).
var messageTypes = map[string]bool{"text": true, "rich_text": true, "image": true, "file": true, "audio": true, "video": true, "card": true}

// replyTypes are the outer types reply accepts (§4.4).
var replyTypes = map[string]bool{"text": true, "rich_text": true, "image": true}

// content is a validated message, rendered but for its receivers.
type content struct {
	Type     string
	Mentions []Mention
	// Content is the rendered content object ({"text":{…}}).
	Content json.RawMessage
	// Shared is true for a card whose config.shared_card is true (set by
	// render when absent).
	Shared bool
}

// atTag finds the <at id=…> tags of a text; the id may be quoted.
var atTag = regexp.MustCompile(`<at\s+id\s*=\s*["']?([^"'\s>]+)["']?\s*>`)

// encodeJSON marshals v without HTML escaping ("<at" stays literal) and
// without the trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// renderContent validates kind/text/body by WPS's rules and renders the
// content. shareCards sets config.shared_card: true on a card that does not
// say. Errors are *providers.ValidationError naming the message field.
func renderContent(kind providers.Kind, text string, body json.RawMessage, shareCards bool) (*content, error) {
	switch kind {
	case providers.KindText, providers.KindMarkdown:
		style := "plain"
		if kind == providers.KindMarkdown {
			style = "markdown"
		}
		var extra struct {
			Mentions []Mention `json:"mentions"`
		}
		if len(body) > 0 {
			if err := strictDecode(body, &extra); err != nil {
				return nil, providers.Invalid("body", "for kind %s, body may only hold {\"mentions\":[…]}: %v", kind, err)
			}
		}
		inner := map[string]any{"text": map[string]string{"content": text, "type": style}}
		return textContent(text, "text", extra.Mentions, inner, "text", "body.mentions")
	case KindRichText, KindImage, KindFile:
		if err := checkObject(body, "body"); err != nil {
			return nil, err
		}
		c := &content{Type: string(kind)}
		if err := checkTyped(c.Type, body, "body"); err != nil {
			return nil, err
		}
		c.Content, _ = encodeJSON(map[string]json.RawMessage{c.Type: body})
		return c, nil
	case providers.KindCard:
		card, shared, err := renderCard(body, "body", shareCards)
		if err != nil {
			return nil, err
		}
		c := &content{Type: "card", Shared: shared}
		c.Content, _ = encodeJSON(map[string]json.RawMessage{"card": card})
		return c, nil
	case providers.KindRaw:
		return rawContent(body, shareCards)
	case "":
		return nil, providers.Invalid("kind", "required")
	default:
		return nil, providers.Invalid("kind", "%q is not a kind WPS 365 sends (text, markdown, rich_text, image, file, card, raw)", kind)
	}
}

// rawContent validates a raw v7 message body.
func rawContent(body json.RawMessage, shareCards bool) (*content, error) {
	if err := checkObject(body, "body"); err != nil {
		return nil, err
	}
	var raw struct {
		Type     string                     `json:"type"`
		Content  map[string]json.RawMessage `json:"content"`
		Mentions []Mention                  `json:"mentions"`
	}
	if err := strictDecode(body, &raw); err != nil {
		return nil, providers.Invalid("body", "a raw message is {\"type\",\"content\",\"mentions\"}: %v", err)
	}
	if raw.Type == "markdown" {
		return nil, providers.Invalid("body.type", `"markdown" is not a message type: send type "text" with content.text.type "markdown"`)
	}
	if !messageTypes[raw.Type] {
		return nil, providers.Invalid("body.type", "%q is not one of text, rich_text, image, file, audio, video, card", raw.Type)
	}
	inner, ok := raw.Content[raw.Type]
	if !ok || len(raw.Content) != 1 {
		return nil, providers.Invalid("body.content", "must hold exactly the key %q", raw.Type)
	}
	field := "body.content." + raw.Type
	switch raw.Type {
	case "text":
		var t struct {
			Content string `json:"content"`
			Type    string `json:"type"`
		}
		if err := json.Unmarshal(inner, &t); err != nil {
			return nil, providers.Invalid(field, "%v", err)
		}
		if t.Type != "plain" && t.Type != "markdown" {
			return nil, providers.Invalid(field+".type", `must be "plain" or "markdown"`)
		}
		return textContent(t.Content, "text", raw.Mentions, map[string]json.RawMessage{"text": inner}, field+".content", "body.mentions")
	case "card":
		card, shared, err := renderCard(inner, field, shareCards)
		if err != nil {
			return nil, err
		}
		c := &content{Type: "card", Shared: shared, Mentions: raw.Mentions}
		c.Content, _ = encodeJSON(map[string]json.RawMessage{"card": card})
		return c, checkMentions(raw.Mentions, "", "body.mentions")
	default:
		if err := checkTyped(raw.Type, inner, field); err != nil {
			return nil, err
		}
		if err := checkMentions(raw.Mentions, "", "body.mentions"); err != nil {
			return nil, err
		}
		c := &content{Type: raw.Type, Mentions: raw.Mentions}
		c.Content, _ = encodeJSON(map[string]json.RawMessage{raw.Type: inner})
		return c, nil
	}
}

// textContent checks a text's length and mentions and renders inner.
func textContent(text, typ string, mentions []Mention, inner any, textField, mentionsField string) (*content, error) {
	if text == "" {
		return nil, providers.Invalid(textField, "required")
	}
	if n := utf8.RuneCountInString(text); n > MaxTextChars {
		return nil, providers.Invalid(textField, "%d characters, more than the %d WPS 365 accepts", n, MaxTextChars)
	}
	if err := checkMentions(mentions, text, mentionsField); err != nil {
		return nil, err
	}
	b, err := encodeJSON(inner)
	if err != nil {
		return nil, providers.Invalid(textField, "%v", err)
	}
	return &content{Type: typ, Mentions: mentions, Content: b}, nil
}

// checkMentions checks mentions (≤ 100, each well formed, ids unique) and
// that every <at id=…> tag of text is matched by one.
func checkMentions(ms []Mention, text, field string) error {
	if len(ms) > MaxMentions {
		return providers.Invalid(field, "%d mentions, more than %d", len(ms), MaxMentions)
	}
	ids := make(map[string]bool, len(ms))
	for i, m := range ms {
		f := field + "[" + strconv.Itoa(i) + "]"
		if m.ID == "" {
			return providers.Invalid(f+".id", "required: the index of an <at id=…> tag")
		}
		if ids[m.ID] {
			return providers.Invalid(f+".id", "%q appears twice", m.ID)
		}
		ids[m.ID] = true
		switch m.Type {
		case "all":
		case "user":
			if m.Identity == nil || m.Identity.ID == "" {
				return providers.Invalid(f+".identity.id", "required for a mention of type user")
			}
			if m.Identity.Type != "user" {
				return providers.Invalid(f+".identity.type", `must be "user"`)
			}
		default:
			return providers.Invalid(f+".type", `must be "user" or "all"`)
		}
	}
	for _, sub := range atTag.FindAllStringSubmatch(text, -1) {
		if !ids[sub[1]] {
			return providers.Invalid(field, "<at id=%q> in the text has no mention with that id", sub[1])
		}
	}
	return nil
}

// checkTyped checks the required field of an image or file content, and the
// length of a rich text.
func checkTyped(typ string, inner json.RawMessage, field string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(inner, &m); err != nil {
		return providers.Invalid(field, "must be a JSON object: %v", err)
	}
	switch typ {
	case "image":
		if !nonEmptyString(m["storage_key"]) {
			return providers.Invalid(field+".storage_key", "required")
		}
	case "file":
		var f struct {
			Type  string `json:"type"`
			Local *struct {
				StorageKey string `json:"storage_key"`
			} `json:"local"`
		}
		_ = json.Unmarshal(inner, &f)
		if f.Type == "" {
			return providers.Invalid(field+".type", "required")
		}
		if f.Type == "local" && (f.Local == nil || f.Local.StorageKey == "") {
			return providers.Invalid(field+".local.storage_key", "required for a local file")
		}
	case "rich_text":
		var els []json.RawMessage
		if err := json.Unmarshal(m["elements"], &els); err != nil || len(els) == 0 {
			return providers.Invalid(field+".elements", "required: a non-empty array")
		}
		if n := stringChars(inner); n > MaxTextChars {
			return providers.Invalid(field, "%d characters of text, more than the %d WPS 365 accepts", n, MaxTextChars)
		}
	}
	return nil
}

// renderCard checks a v7 card (≤ 20 components per language version, ≤
// 15000 characters of JSON) and returns it, with config.shared_card set to
// true when share is set and the card does not say, and whether it is
// shared.
func renderCard(card json.RawMessage, field string, share bool) (json.RawMessage, bool, error) {
	if err := checkObject(card, field); err != nil {
		return nil, false, err
	}
	var c struct {
		Config    map[string]json.RawMessage `json:"config"`
		I18nItems []struct {
			Key   string `json:"key"`
			Value struct {
				Elements []json.RawMessage `json:"elements"`
			} `json:"value"`
		} `json:"i18n_items"`
	}
	if err := json.Unmarshal(card, &c); err != nil {
		return nil, false, providers.Invalid(field, "not a v7 card: %v", err)
	}
	if len(c.I18nItems) == 0 {
		return nil, false, providers.Invalid(field+".i18n_items", "required: at least one language version")
	}
	for i, it := range c.I18nItems {
		if n := len(it.Value.Elements); n > MaxCardComponents {
			return nil, false, providers.Invalid(fmt.Sprintf("%s.i18n_items[%d].value.elements", field, i), "%d components, more than %d", n, MaxCardComponents)
		}
	}
	if n := utf8.RuneCount(card); n > MaxCardChars {
		return nil, false, providers.Invalid(field, "%d characters, more than the %d of a card", n, MaxCardChars)
	}
	shared := true // the documented default of config.shared_card
	if v, ok := c.Config["shared_card"]; ok {
		if err := json.Unmarshal(v, &shared); err != nil {
			return nil, false, providers.Invalid(field+".config.shared_card", "must be a boolean")
		}
		return card, shared, nil
	}
	if !share {
		return card, shared, nil
	}
	var top map[string]json.RawMessage
	_ = json.Unmarshal(card, &top)
	if c.Config == nil {
		c.Config = map[string]json.RawMessage{}
	}
	c.Config["shared_card"] = json.RawMessage("true")
	top["config"], _ = encodeJSON(c.Config)
	out, err := encodeJSON(top)
	if err != nil {
		return nil, false, providers.Invalid(field, "%v", err)
	}
	if n := utf8.RuneCount(out); n > MaxCardChars {
		return nil, false, providers.Invalid(field, "%d characters with config.shared_card, more than the %d of a card", n, MaxCardChars)
	}
	return out, true, nil
}

// checkObject refuses a body that is not a JSON object.
func checkObject(b json.RawMessage, field string) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return providers.Invalid(field, "required")
	}
	if b[0] != '{' || !json.Valid(b) {
		return providers.Invalid(field, "must be a JSON object")
	}
	return nil
}

// strictDecode decodes b into v refusing unknown fields.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func nonEmptyString(b json.RawMessage) bool {
	var s string
	return json.Unmarshal(b, &s) == nil && s != ""
}

// stringChars counts the characters of every string value in a JSON document.
func stringChars(b json.RawMessage) int {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return 0
	}
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			n += utf8.RuneCountInString(x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return n
}
