package wecom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/msgdispatch/msgdispatch/providers"
)

// cardTypes are the template_card card_type values (specs/wecom.md §2.4).
var cardTypes = []string{"text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction"}

// dispatcherFields are top-level keys of a raw body that the client sets itself;
// a raw body may carry them, but the client's values are sent.
var dispatcherFields = []string{"touser", "toparty", "totag", "agentid", "enable_duplicate_check", "duplicate_check_interval"}

// Validate checks msg by WeCom's message/send rules, without credentials or I/O,
// and returns a *[providers.ValidationError] naming the first bad field:
//
//   - to: at least one recipient; chats are not supported (to.chats); all cannot
//     be combined with users, depts or tags (WeCom ignores toparty and totag when
//     touser is "@all"); every id is non-empty and free of "|" (to.users[3]);
//     department and tag ids are decimal numbers; "@all" is not a user id.
//   - kind text and markdown: text is non-empty, valid UTF-8, free of control
//     characters other than tab, newline and carriage return, and at most
//     [MaxContentBytes] bytes once U+2028/U+2029 are replaced; body is empty.
//   - kind card: body is a JSON object (the value of "template_card") whose
//     card_type is text_notice, news_notice, button_interaction,
//     vote_interaction or multiple_interaction; text is empty. The rest of the
//     card is not checked yet.
//   - kind raw: body is a JSON object with a string msgtype that message/send
//     takes (text, image, voice, video, file, textcard, news, mpnews, markdown,
//     miniprogram_notice, template_card, template_msg) and a JSON object under the
//     key msgtype names; text and markdown content obey the text rules above and
//     a template_card obeys the card rule; safe is 0, 1 or 2 (2 only for mpnews,
//     none for news); enable_id_trans is 0 or 1; touser, toparty, totag, agentid,
//     enable_duplicate_check and duplicate_check_interval may be present but are
//     replaced by the client's values; any other top-level key is an error.
//   - card and raw bodies are valid UTF-8 and at most [MaxBodyBytes] bytes.
//   - any other kind is an error on kind.
//
// msg.App is not checked here; the producer checks it against the config.
func Validate(msg *providers.Message) error {
	if msg == nil {
		return providers.Invalid("message", "is nil")
	}
	if err := validateRecipients(msg.To); err != nil {
		return err
	}
	_, err := messageContent(msg)
	return err
}

// Validate is the package-level [Validate].
func (c *Client) Validate(msg *providers.Message) error { return Validate(msg) }

func validateRecipients(to providers.Recipients) error {
	if to.Empty() {
		return providers.Invalid("to", "no recipients: name users, depts, tags or all")
	}
	if len(to.Chats) > 0 {
		return providers.Invalid("to.chats", "WeCom message/send cannot address chats (app group chats use appchat/send, which this client does not support)")
	}
	if to.All && (len(to.Users) > 0 || len(to.Depts) > 0 || len(to.Tags) > 0) {
		return providers.Invalid("to", "all cannot be combined with users, depts or tags: WeCom sends to everyone and ignores toparty and totag when touser is @all")
	}
	for i, id := range to.Users {
		if err := checkID("to.users", i, id, false); err != nil {
			return err
		}
	}
	for i, id := range to.Depts {
		if err := checkID("to.depts", i, id, true); err != nil {
			return err
		}
	}
	for i, id := range to.Tags {
		if err := checkID("to.tags", i, id, true); err != nil {
			return err
		}
	}
	return nil
}

func checkID(list string, i int, id string, numeric bool) error {
	field := fmt.Sprintf("%s[%d]", list, i)
	switch {
	case id == "":
		return providers.Invalid(field, "empty id")
	case strings.Contains(id, "|"):
		return providers.Invalid(field, "id %q contains '|', WeCom's list separator", id)
	case !numeric && strings.EqualFold(id, "@all"):
		return providers.Invalid(field, `"@all" is not a member id; set all instead`)
	case numeric && strings.Trim(id, "0123456789") != "":
		return providers.Invalid(field, "id %q is not a number (WeCom department and tag ids are integers)", id)
	}
	return nil
}

// content is a message's validated, rendered content: what goes under the key
// msgtype of every part's body, plus the optional flags a raw body may set.
type content struct {
	msgtype       string
	body          json.RawMessage // normalised by normalizeJSON or encodeJSON
	safe          int
	enableIDTrans int
}

// messageContent validates msg's content and renders it once.
func messageContent(msg *providers.Message) (*content, error) {
	switch msg.Kind {
	case providers.KindText, providers.KindMarkdown:
		if len(msg.Body) > 0 {
			return nil, providers.Invalid("body", "must be empty for kind %s (the content is in text)", msg.Kind)
		}
		s, err := checkText("text", msg.Text)
		if err != nil {
			return nil, err
		}
		b, err := encodeJSON(textContent{Content: s})
		if err != nil {
			return nil, providers.Invalid("text", "%v", err)
		}
		return &content{msgtype: string(msg.Kind), body: b}, nil
	case providers.KindCard:
		if msg.Text != "" {
			return nil, providers.Invalid("text", "must be empty for kind card (the card is in body)")
		}
		b, err := cardContent("body", msg.Body)
		if err != nil {
			return nil, err
		}
		return &content{msgtype: "template_card", body: b}, nil
	case providers.KindRaw:
		if msg.Text != "" {
			return nil, providers.Invalid("text", "must be empty for kind raw (the message is in body)")
		}
		return rawContent(msg.Body)
	case "":
		return nil, providers.Invalid("kind", "required: text, markdown, card or raw")
	default:
		return nil, providers.Invalid("kind", "unknown kind %q: want text, markdown, card or raw", msg.Kind)
	}
}

// checkText checks text or markdown content and returns it as it will be sent.
func checkText(field, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", providers.Invalid(field, "empty")
	}
	if !utf8.ValidString(s) {
		return "", providers.Invalid(field, "not valid UTF-8")
	}
	for i, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return "", providers.Invalid(field, `control character U+%04X at byte %d: it would be sent as a \u escape, which WeCom refuses (errcode 40033)`, r, i)
		}
	}
	s = cleanText(s)
	if len(s) > MaxContentBytes {
		return "", providers.Invalid(field, "%d bytes: WeCom takes at most %d bytes of UTF-8", len(s), MaxContentBytes)
	}
	return s, nil
}

// jsonObject checks that raw is a JSON object of acceptable size and encoding and
// returns its members.
func jsonObject(field string, raw json.RawMessage) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	switch {
	case len(trimmed) == 0:
		return nil, providers.Invalid(field, "required: a JSON object")
	case len(raw) > MaxBodyBytes:
		return nil, providers.Invalid(field, "%d bytes: WeCom takes at most %d", len(raw), MaxBodyBytes)
	case !utf8.Valid(raw):
		return nil, providers.Invalid(field, "not valid UTF-8")
	case trimmed[0] != '{':
		return nil, providers.Invalid(field, "must be a JSON object")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, providers.Invalid(field, "not a valid JSON object: %v", err)
	}
	return obj, nil
}

// cardContent checks a template_card object (at field) and renders it.
func cardContent(field string, raw json.RawMessage) (json.RawMessage, error) {
	obj, err := jsonObject(field, raw)
	if err != nil {
		return nil, err
	}
	ct, ok := obj["card_type"]
	if !ok {
		return nil, providers.Invalid(field+".card_type", "required: one of %s", strings.Join(cardTypes, ", "))
	}
	var cardType string
	if err := json.Unmarshal(ct, &cardType); err != nil {
		return nil, providers.Invalid(field+".card_type", "must be a string")
	}
	if !slices.Contains(cardTypes, cardType) {
		return nil, providers.Invalid(field+".card_type", "unknown card_type %q: want one of %s", cardType, strings.Join(cardTypes, ", "))
	}
	b, err := normalizeJSON(raw)
	if err != nil {
		return nil, providers.Invalid(field, "%v", err)
	}
	return b, nil
}

// rawContent checks a raw message body and renders its content.
func rawContent(raw json.RawMessage) (*content, error) {
	obj, err := jsonObject("body", raw)
	if err != nil {
		return nil, err
	}
	mt, ok := obj["msgtype"]
	if !ok {
		return nil, providers.Invalid("body.msgtype", "required")
	}
	var msgtype string
	if err := json.Unmarshal(mt, &msgtype); err != nil {
		return nil, providers.Invalid("body.msgtype", "must be a string")
	}
	if msgtype == "" {
		return nil, providers.Invalid("body.msgtype", "required")
	}
	if (&sendRequest{}).contentField(msgtype) == nil {
		return nil, providers.Invalid("body.msgtype", "unsupported msgtype %q: message/send takes %s", msgtype, msgtypes)
	}
	field := "body." + msgtype
	value, ok := obj[msgtype]
	if !ok {
		return nil, providers.Invalid(field, "required: the %s content object", msgtype)
	}
	members, err := jsonObject(field, value)
	if err != nil {
		return nil, err
	}
	c := &content{msgtype: msgtype}
	switch msgtype {
	case "text", "markdown":
		var s string
		if v, ok := members["content"]; ok {
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, providers.Invalid(field+".content", "must be a string")
			}
		}
		if _, err := checkText(field+".content", s); err != nil {
			return nil, err
		}
		c.body, err = normalizeJSON(value)
	case "template_card":
		c.body, err = cardContent(field, value)
		if err != nil {
			return nil, err
		}
	default:
		c.body, err = normalizeJSON(value)
	}
	if err != nil {
		return nil, providers.Invalid(field, "%v", err)
	}
	if c.safe, err = flag(obj, "safe", 0, 2); err != nil {
		return nil, err
	}
	switch {
	case c.safe == 2 && msgtype != "mpnews":
		return nil, providers.Invalid("body.safe", "safe 2 is only for mpnews")
	case c.safe != 0 && msgtype == "news":
		return nil, providers.Invalid("body.safe", "news does not support safe (errcode 40074); use mpnews")
	}
	if c.enableIDTrans, err = flag(obj, "enable_id_trans", 0, 1); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case k == "msgtype", k == msgtype, k == "safe", k == "enable_id_trans", slices.Contains(dispatcherFields, k):
		default:
			return nil, providers.Invalid("body."+k, "unexpected field: a raw body holds msgtype, the %s object, safe and enable_id_trans (touser, toparty, totag, agentid and the duplicate check are set by the dispatcher)", msgtype)
		}
	}
	return c, nil
}

// flag reads an optional integer member key of obj in lo..hi; absent is 0.
func flag(obj map[string]json.RawMessage, key string, lo, hi int) (int, error) {
	v, ok := obj[key]
	if !ok {
		return 0, nil
	}
	var n int
	if err := json.Unmarshal(v, &n); err != nil || n < lo || n > hi {
		return 0, providers.Invalid("body."+key, "must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}
