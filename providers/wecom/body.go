package wecom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// sendRequest is a message/send body (WeCom's API documentation). Bodies are rendered
// by encodeJSON, so the JSON keys come out in this declaration order, which —
// with the content normalised by normalizeJSON — makes a body a pure function of
// the message, its part's recipients and the config: WeCom's duplicate check
// compares request JSON ("同样内容（请求json）"), so every attempt must carry the same
// bytes.
//
// Exactly one of the content fields is set, the one named by MsgType.
type sendRequest struct {
	ToUser  string `json:"touser,omitempty"`
	ToParty string `json:"toparty,omitempty"`
	ToTag   string `json:"totag,omitempty"`
	MsgType string `json:"msgtype"`
	AgentID int64  `json:"agentid"`

	Text              json.RawMessage `json:"text,omitempty"`
	Image             json.RawMessage `json:"image,omitempty"`
	Voice             json.RawMessage `json:"voice,omitempty"`
	Video             json.RawMessage `json:"video,omitempty"`
	File              json.RawMessage `json:"file,omitempty"`
	TextCard          json.RawMessage `json:"textcard,omitempty"`
	News              json.RawMessage `json:"news,omitempty"`
	MPNews            json.RawMessage `json:"mpnews,omitempty"`
	Markdown          json.RawMessage `json:"markdown,omitempty"`
	MiniprogramNotice json.RawMessage `json:"miniprogram_notice,omitempty"`
	TemplateCard      json.RawMessage `json:"template_card,omitempty"`
	TemplateMsg       json.RawMessage `json:"template_msg,omitempty"`

	Safe                   int   `json:"safe,omitempty"`
	EnableIDTrans          int   `json:"enable_id_trans,omitempty"`
	EnableDuplicateCheck   int   `json:"enable_duplicate_check"`
	DuplicateCheckInterval int64 `json:"duplicate_check_interval"`
}

// contentField returns the field holding the content of msgtype, or nil when
// message/send has no such msgtype. The msgtypes are those of WeCom's API documentation
func (r *sendRequest) contentField(msgtype string) *json.RawMessage {
	switch msgtype {
	case "text":
		return &r.Text
	case "image":
		return &r.Image
	case "voice":
		return &r.Voice
	case "video":
		return &r.Video
	case "file":
		return &r.File
	case "textcard":
		return &r.TextCard
	case "news":
		return &r.News
	case "mpnews":
		return &r.MPNews
	case "markdown":
		return &r.Markdown
	case "miniprogram_notice":
		return &r.MiniprogramNotice
	case "template_card":
		return &r.TemplateCard
	case "template_msg":
		return &r.TemplateMsg
	}
	return nil
}

// msgtypes lists the msgtypes sendRequest can carry, for error messages.
const msgtypes = "text, image, voice, video, file, textcard, news, mpnews, markdown, miniprogram_notice, template_card, template_msg"

// textContent is the content object of text and markdown messages.
type textContent struct {
	Content string `json:"content"`
}

// lineSeparators replaces U+2028 and U+2029, which encoding/json always escapes
// as \u2028 and \u2029 and WeCom refuses as "\uxxxx格式的字符" (errcode 40033).
var lineSeparators = strings.NewReplacer("\u2028", "\n", "\u2029", "\n")

// cleanText is s as it will be sent: U+2028 and U+2029 replaced by "\n".
func cleanText(s string) string { return lineSeparators.Replace(s) }

// encodeJSON encodes v without HTML escaping and without the trailing newline
// json.Encoder adds. json.RawMessage values inside v are compacted but not
// escaped (json.Marshal would turn "<" in them into \u003c).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// appendString appends s as a JSON string: no HTML escaping, U+2028/U+2029
// replaced by "\n".
func appendString(dst []byte, s string) []byte {
	b, err := encodeJSON(cleanText(s))
	if err != nil { // cannot happen for a string
		panic(err)
	}
	return append(dst, b...)
}

// normalizeJSON re-emits one JSON value compactly, keeping object keys in their
// order and numbers as written, with every string re-encoded by appendString.
// A string holding a control character other than tab, newline and carriage
// return is an error: it could only be sent as an escape WeCom refuses.
// Escapes the producer's encoder may have added ("\u003c" from json.Marshal,
// "\u2028", "\/") therefore leave as the plain characters WeCom accepts, and a
// body that went through a task payload renders to the same bytes as before.
func normalizeJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type frame struct {
		object bool
		n      int // tokens written in this container (keys and values)
	}
	var (
		out   []byte
		stack []frame
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out = append(out, byte(d))
			if len(stack) == 0 {
				break
			}
			continue
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			switch {
			case top.object && top.n%2 == 1:
				out = append(out, ':')
			case top.n > 0:
				out = append(out, ',')
			}
			top.n++
		}
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			out = append(out, byte(v))
			stack = append(stack, frame{object: v == '{'})
			continue
		case string:
			if err := checkChars(v); err != nil {
				return nil, err
			}
			out = appendString(out, v)
		case json.Number:
			out = append(out, v...)
		case bool:
			if v {
				out = append(out, "true"...)
			} else {
				out = append(out, "false"...)
			}
		case nil:
			out = append(out, "null"...)
		default:
			return nil, fmt.Errorf("unexpected JSON token %T", tok)
		}
		if len(stack) == 0 {
			break // a scalar at the top level
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return out, nil
}
