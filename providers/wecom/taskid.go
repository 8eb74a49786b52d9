package wecom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/msgdispatch/msgdispatch/providers"
)

// maxLiteralMessageIDBytes is the longest message id used as is in a generated
// task_id; longer ids, and ids with characters a task_id cannot hold, are
// hashed.
const maxLiteralMessageIDBytes = 64

// partTaskID is the task_id of part index (of parts) of a card whose task_id
// is given ("" when absent), prepared with opts. WeCom refuses a task_id the
// app used before ("同一个应用任务id不能重复"), so every request gets its own:
//
//   - generated, when the card has none: "md_<message id>_g<generation>_p<part>"
//     for a message id of at most 64 bytes of [0-9A-Za-z_@-], else
//     "mdh_<40 hex digits of SHA-256(message id)>_g<generation>_p<part>";
//   - the given task_id as is, for the only part of generation 0;
//   - otherwise the given task_id with "_p<part>" appended (generation 0) or
//     "_g<generation>_p<part>" (follow-ups); when that would pass 128 bytes the
//     given id is cut and "_<8 hex digits of its SHA-256>" keeps it unique.
//
// All three forms are at most 128 bytes of [0-9A-Za-z_@-], and depend only on
// their inputs, so Prepare renders the same bytes every time.
func partTaskID(given string, opts providers.PrepareOptions, index, parts int) (string, error) {
	suffix := "_p" + strconv.Itoa(index)
	if opts.Generation != 0 {
		suffix = "_g" + strconv.Itoa(opts.Generation) + suffix
	}
	if given == "" {
		if opts.MessageID == "" {
			return "", errors.New("the card has no task_id and PrepareOptions.MessageID is empty, so none can be derived")
		}
		id := opts.MessageID
		prefix := "md_"
		if len(id) > maxLiteralMessageIDBytes || !validTaskIDChars(id) {
			sum := sha256.Sum256([]byte(id))
			id, prefix = hex.EncodeToString(sum[:20]), "mdh_"
		}
		if opts.Generation == 0 {
			suffix = "_g0" + suffix
		}
		return prefix + id + suffix, nil
	}
	if parts <= 1 && opts.Generation == 0 {
		return given, nil
	}
	if len(given)+len(suffix) <= maxTaskIDBytes {
		return given + suffix, nil
	}
	sum := sha256.Sum256([]byte(given))
	tag := "_" + hex.EncodeToString(sum[:4])
	return given[:maxTaskIDBytes-len(suffix)-len(tag)] + tag + suffix, nil
}

// setMember returns obj — a compact JSON object as normalizeJSON writes it —
// with its top-level member key set to the JSON string value: replaced in
// place when present, appended as the last member when absent.
func setMember(obj []byte, key, value string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	enc := appendString(nil, value)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if tok != key {
			continue
		}
		end := int(dec.InputOffset())
		start := end - len(v)
		out := make([]byte, 0, len(obj)-len(v)+len(enc))
		out = append(append(append(out, obj[:start]...), enc...), obj[end:]...)
		return out, nil
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	last := bytes.LastIndexByte(obj, '}')
	out := make([]byte, 0, len(obj)+len(key)+len(enc)+4)
	out = append(out, obj[:last]...)
	if len(bytes.TrimSpace(obj[1:last])) > 0 {
		out = append(out, ',')
	}
	out = appendString(out, key)
	out = append(append(append(out, ':'), enc...), '}')
	return out, nil
}

// forPart is ct as sent in part index of parts: ct itself, or for a card that
// has or needs a task_id, a copy whose body carries the part's task_id (see
// partTaskID).
func (ct *content) forPart(opts providers.PrepareOptions, index, parts int) (*content, error) {
	if ct.card == nil || (ct.card.taskID == "" && !ct.card.needsTaskID) {
		return ct, nil
	}
	id, err := partTaskID(ct.card.taskID, opts, index, parts)
	if err != nil {
		return nil, providers.Invalid("body.task_id", "%v", err)
	}
	if id == ct.card.taskID {
		return ct, nil
	}
	body, err := setMember(ct.body, "task_id", id)
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	pc := *ct
	pc.body = body
	return &pc, nil
}

// GivenTaskID returns the task_id a card message gives itself: the
// template_card task_id of kind card, or of a raw template_card message; ""
// when it gives none or is not a card. WeCom refuses a task_id the app used
// before (42014), so a producer may check it against the ones already given.
func GivenTaskID(msg *providers.Message) string {
	var card struct {
		TaskID string `json:"task_id"`
	}
	switch msg.Kind {
	case providers.KindCard:
		_ = json.Unmarshal(msg.Body, &card)
	case providers.KindRaw:
		var raw struct {
			MsgType      string          `json:"msgtype"`
			TemplateCard json.RawMessage `json:"template_card"`
		}
		if json.Unmarshal(msg.Body, &raw) == nil && raw.MsgType == "template_card" {
			_ = json.Unmarshal(raw.TemplateCard, &card)
		}
	}
	return card.TaskID
}
