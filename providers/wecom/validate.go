package wecom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/msgdispatch/msgdispatch/providers"
)

// cardTypes are the template_card card_type values (WeCom's API documentation).
var cardTypes = []string{"text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction"}

// dispatcherFields are top-level keys of a raw body that the client sets itself;
// a raw body may carry them, but the client's values are sent.
var dispatcherFields = []string{"touser", "toparty", "totag", "agentid", "enable_duplicate_check", "duplicate_check_interval"}

// Validate checks msg by WeCom's message/send rules (WeCom's API documentation),
// without credentials or I/O, and returns a *[providers.ValidationError] naming
// the first bad field with a path such as "to.users[3]", "body.articles[2].title"
// or "body.button_list[1].key"; the reason quotes WeCom's errcode where one
// exists. The producer calls it before anything is written.
//
// Recipients (to): at least one; chats are not supported (to.chats); all cannot
// be combined with users, depts or tags (WeCom ignores toparty and totag when
// touser is "@all"); every id is non-empty and free of "|"; department and tag
// ids are decimal numbers; "@all" is not a user id.
//
// Kinds text and markdown: text is non-empty, valid UTF-8, free of control
// characters other than tab, newline and carriage return, and at most
// [MaxContentBytes] bytes once U+2028/U+2029 are replaced; body is empty.
//
// Typed kinds carry the content object of their msgtype in body (text empty):
// a JSON object of at most [MaxBodyBytes] bytes whose keys are exactly those
// below (an unknown key, a key in another case or a repeated key is an error;
// a JSON null counts as absent). Every string is free of control characters other than
// tab, newline and carriage return (they would become \u escapes, errcode
// 40033); lengths are bytes of UTF-8 or characters (runes) as the spec says;
// URLs are absolute http:// or https:// URLs. Limits WeCom documents as
// truncating ("超过会自动截断") are refused here.
//
//   - image, voice, file ([KindImage], [KindVoice], [KindFile]): media_id
//     required.
//   - video ([KindVideo]): media_id required; title ≤ 128 bytes; description
//     ≤ 512 bytes.
//   - textcard ([KindTextCard]): title required, ≤ 128 bytes; description
//     required, ≤ 512 bytes; url required, ≤ 2048 bytes; btntxt ≤ 4 characters.
//   - news ([KindNews]): articles, 1 to 8 (errcode 45008), each with title
//     (required, ≤ 128 bytes), description (≤ 512 bytes), url and picurl
//     (≤ 2048 bytes), appid and pagepath (together or not at all; pagepath
//     ≤ 128 bytes); url is required unless appid and pagepath are set.
//   - mpnews ([KindMPNews]): articles, 1 to 8, each with title (required,
//     ≤ 128 bytes), thumb_media_id (required), author (≤ 64 bytes, errcode
//     45032), content_source_url, content (required, ≤ 666 K bytes) and digest
//     (≤ 512 bytes). safe needs a raw message.
//   - miniprogram_notice ([KindMiniprogramNotice]): appid required (90200);
//     page ≤ 1024 bytes; title required and description optional, each 4 to 12
//     characters; emphasis_first_item a boolean; content_item at most 10
//     (90201) of key (required, ≤ 10 characters, 90202) and value (required,
//     ≤ 30 characters, 90203).
//
// Kind card: body is a template_card object (text empty), under the same
// rules of keys, strings and URLs. card_type is one of
// text_notice, news_notice, button_interaction, vote_interaction and
// multiple_interaction (42031), and decides the fields the card takes — a
// field of another card type is an error:
//
//   - all types: card_type, task_id, source, main_title;
//   - text_notice: action_menu, quote_area, emphasis_content, sub_title_text,
//     horizontal_content_list, jump_list, card_action;
//   - news_notice: action_menu, quote_area, image_text_area, card_image,
//     vertical_content_list, horizontal_content_list, jump_list, card_action;
//   - button_interaction: action_menu, quote_area, sub_title_text,
//     horizontal_content_list, card_action, button_selection, button_list,
//     replace_text;
//   - vote_interaction: checkbox, submit_button, replace_text;
//   - multiple_interaction: select_list, submit_button, replace_text.
//
// Rules: task_id, when set, is at most 128 bytes of [0-9A-Za-z_@-] (42014); when
// absent, [Client.Prepare] generates one where WeCom requires it (interaction
// cards and cards with action_menu). source.desc_color is 0–3. action_menu has
// 1 to 3 actions with text and a key (≤ 1024 bytes, unique: 42051).
// main_title.title ≤ 36 characters and desc ≤ 44; main_title.title is required,
// except that a text_notice card may have sub_title_text instead (42033).
// emphasis_content title ≤ 14 characters, desc ≤ 22; sub_title_text ≤ 160
// characters. quote_area, jump_list, card_action and image_text_area: type 1
// needs url (42028), type 2 needs appid (42030). horizontal_content_list ≤ 6
// (42035) of keyname (required, 42027), type 0–3 (1 needs url, 2 media_id, 3
// userid: 42028, 42029, 42050); jump_list ≤ 3 (42042), each with a title;
// card_action is required on text_notice and news_notice with type 1 or 2
// (42045), and takes type 0–2 on button_interaction. news_notice: card_image
// (url required, aspect_ratio 1.3–2.25) or image_text_area (image_url
// required), at least one (42044); vertical_content_list ≤ 4 (42036), each with
// a title. button_interaction: button_list of 1 to 6 buttons with text (42038),
// type 0 (callback: key required, 42039) or 1 (url required), style 1–4, keys
// ≤ 1024 bytes and unique (42039); button_selection optional. vote_interaction:
// checkbox required, with mode 0 or 1 and 1 to 20 options. multiple_interaction:
// select_list of 1 to 3 drop-downs (42047) with unique question_keys.
// Drop-downs (button_selection, select_list entries) have a question_key
// (required, ≤ 1024 bytes, 42043), 1 to 10 options (42037) and a selected_id
// that is one of their option ids when set. Options have an id (required,
// ≤ 128 bytes, unique: 42040) and a text (required, 42041). submit_button is
// required on vote and multiple interaction cards, with text (42049) and key
// (≤ 1024 bytes, 42046).
//
// Kind raw (anything else message/send takes, such as template_msg): body is a
// JSON object with a string msgtype that message/send takes (text, image, voice,
// video, file, textcard, news, mpnews, markdown, miniprogram_notice,
// template_card, template_msg) and a JSON object under the key msgtype names;
// only text and markdown content (the text rules above) and a template_card's
// card_type are checked — the rest is sent as written, so raw can carry fields
// this package does not know; safe is 0, 1 or 2 (2 only for mpnews, none for
// news); enable_id_trans is 0 or 1; touser, toparty, totag, agentid,
// enable_duplicate_check and duplicate_check_interval may be present but are
// replaced by the client's values; any other top-level key is an error. The
// body is valid UTF-8, at most [MaxBodyBytes] bytes, and free of control
// characters other than tab, newline and carriage return.
//
// Kind "template_card" is refused in favour of kind card; any other kind is an
// error on kind. msg.App is not checked here; the producer checks it against
// the config.
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

// Validate is [ValidateApp] with the client's config: the package-level
// [Validate] plus the tenant rule of the app's mode.
func (c *Client) Validate(msg *providers.Message) error { return ValidateApp(c.cfg, msg) }

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
	case !numeric && len(id) > MaxUserIDBytes:
		return providers.Invalid(field, "id of %d bytes: WeCom user ids are 1 to %d bytes (it would refuse it with 81013)", len(id), MaxUserIDBytes)
	case !numeric && !utf8.ValidString(id):
		return providers.Invalid(field, "id %q is not valid UTF-8", id)
	case !numeric && strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return providers.Invalid(field, "id %q contains whitespace or a control character, which no WeCom user id has (81013)", id)
	}
	return nil
}

// MaxUserIDBytes is the longest user id WeCom has (userid: 1 to 64 bytes).
const MaxUserIDBytes = 64

// content is a message's validated, rendered content: what goes under the key
// msgtype of every part's body, plus the optional flags a raw body may set.
type content struct {
	msgtype       string
	body          json.RawMessage // normalised by normalizeJSON or encodeJSON
	safe          int
	enableIDTrans int
	// card is set for a validated template_card (kind card, not raw): Prepare
	// sets its task_id per part.
	card *cardInfo
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
		if _, err := jsonObject("body", msg.Body); err != nil {
			return nil, err
		}
		c := &checker{}
		info := checkCard(c, "body", msg.Body)
		if c.err != nil {
			return nil, c.err
		}
		b, err := normalizeJSON(msg.Body)
		if err != nil {
			return nil, providers.Invalid("body", "%v", err)
		}
		return &content{msgtype: "template_card", body: b, card: info}, nil
	case providers.KindRaw:
		if msg.Text != "" {
			return nil, providers.Invalid("text", "must be empty for kind raw (the message is in body)")
		}
		return rawContent(msg.Body)
	case "":
		return nil, providers.Invalid("kind", "required: %s", kindList)
	case "template_card":
		return nil, providers.Invalid("kind", `a template_card is kind "card", with the card object as body`)
	}
	if spec, ok := kindSpecs[msg.Kind]; ok {
		return typedContent(msg, spec)
	}
	return nil, providers.Invalid("kind", "unknown kind %q: want %s", msg.Kind, kindList)
}

// kindList names the kinds Validate takes, for error messages.
const kindList = "text, markdown, card, image, voice, video, file, textcard, news, mpnews, miniprogram_notice or raw"

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
