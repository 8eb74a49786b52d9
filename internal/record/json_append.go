package record

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// The record's meta and parts are written on every begin and settle of a
// part: three times per message at least. A reflection encoder spent about
// 13 µs on each (most of it in omitzero checks and time formatting); these
// appenders write the same bytes as encoding/json in a fraction of that.
// Fields that are rare on the send path (Wait, Booked, Late, Superseded, a
// result state needing escapes) are handed to encoding/json.
// TestAppendMatchesEncodingJSON compares the two on every field, and
// TestAppendKnowsEveryField fails when a struct gains a field the appenders
// do not write.

// jsonObj appends one JSON object's fields, each as encoding/json writes it;
// the first error stops the rest. A method's omit is the field's omitempty
// (omitzero for a time): the field is left out when it is the zero value.
type jsonObj struct {
	b    []byte
	err  error
	more bool // a field was written: the next one follows a comma
}

// key opens field k: the comma after the previous field, then "k":.
func (o *jsonObj) key(k string) {
	if o.more {
		o.b = append(o.b, ',', '"')
	} else {
		o.b = append(o.b, '"')
		o.more = true
	}
	o.b = append(append(o.b, k...), '"', ':')
}

func (o *jsonObj) str(k, v string, omit bool) {
	if omit && v == "" {
		return
	}
	o.key(k)
	o.b = appendString(o.b, v)
}

func (o *jsonObj) int(k string, v int64, omit bool) {
	if omit && v == 0 {
		return
	}
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObj) bool(k string, v, omit bool) {
	if omit && !v {
		return
	}
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

func (o *jsonObj) strs(k string, v []string, omit bool) {
	if omit && len(v) == 0 {
		return
	}
	o.key(k)
	o.b = appendStrings(o.b, v)
}

// time writes t as time.Time's MarshalJSON does (RFC 3339 with nanoseconds;
// an error for a year outside 0…9999).
func (o *jsonObj) time(k string, t time.Time, omit bool) {
	if o.err != nil || omit && t.IsZero() {
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	if o.b, o.err = t.AppendText(o.b); o.err != nil {
		o.err = fmt.Errorf("record: encode %s: %w", k, o.err)
		return
	}
	o.b = append(o.b, '"')
}

// value writes v as encoding/json does, unless skip.
func (o *jsonObj) value(k string, v any, skip bool) {
	if o.err != nil || skip {
		return
	}
	j, err := json.Marshal(v)
	if err != nil {
		o.err = err
		return
	}
	o.key(k)
	o.b = append(o.b, j...)
}

// end closes the object.
func (o *jsonObj) end() ([]byte, error) {
	if o.err != nil {
		return nil, o.err
	}
	return append(o.b, '}'), nil
}

// appendMeta appends the JSON of rec without its Job (null), Parts, Updates
// and Cancel: what encoding/json writes for such a copy of rec.
func appendMeta(b []byte, rec *Record) ([]byte, error) {
	o := &jsonObj{b: append(b, '{')}
	o.str("id", rec.ID, false)
	o.str("app", rec.App, false)
	o.str("state", string(rec.State), false)
	o.key("job")
	o.b = append(o.b, "null"...)
	o.str("idempotency_key", rec.IdempotencyKey, true)
	o.int("runs", int64(rec.Runs), false)
	o.int("failures", int64(rec.Failures), false)
	o.int("deferrals", int64(rec.Deferrals), false)
	o.value("wait", rec.Wait, rec.Wait == nil)
	o.value("booked", rec.Booked, len(rec.Booked) == 0)
	o.value("late", rec.Late, len(rec.Late) == 0)
	o.value("superseded", rec.Superseded, len(rec.Superseded) == 0)
	o.int("generations", int64(rec.Generations), true)
	o.str("last_error", rec.LastError, true)
	o.str("reason", rec.Reason, true)
	o.int("event_seq", int64(rec.EventSeq), false)
	o.time("created_at", rec.CreatedAt, false)
	o.time("updated_at", rec.UpdatedAt, false)
	o.time("finished_at", rec.FinishedAt, true)
	o.bool("enqueued", rec.Enqueued, false)
	return o.end()
}

// appendPart appends the JSON of p, as encoding/json writes it.
func appendPart(b []byte, p *Part) ([]byte, error) {
	o := &jsonObj{b: append(b, '{')}
	o.int("index", int64(p.Index), false)
	o.str("tenant", p.Tenant, true)
	o.key("to")
	o.b = appendRecipients(o.b, &p.To)
	o.str("ref", p.Ref, true)
	o.bool("not_updatable", p.NotUpdatable, true)
	o.str("target", p.Target, true)
	o.key("body")
	if p.Body == nil {
		o.b = append(o.b, "null"...)
	} else {
		o.b = append(o.b, '"')
		o.b = base64.StdEncoding.AppendEncode(o.b, p.Body)
		o.b = append(o.b, '"')
	}
	o.int("generation", int64(p.Generation), true)
	o.str("state", string(p.State), false)
	o.int("attempts", int64(p.Attempts), true)
	o.time("first_sent_at", p.FirstSentAt, true)
	o.time("sent_at", p.SentAt, true)
	o.bool("may_have_left", p.MayHaveLeft, true)
	if r := p.Result; r != nil {
		if len(r.State) > 0 && !plainCompactJSON(r.State) {
			// encoding/json compacts the raw state and escapes <, >, &
			// and the line separators in it: left to it.
			o.value("result", r, false)
		} else if o.err == nil {
			o.key("result")
			o.b = appendResult(o.b, r)
		}
	}
	o.str("error", p.Error, true)
	o.int("content_seq", p.ContentSeq, true)
	return o.end()
}

// appendResult appends r's JSON, its state copied as it is (plainCompactJSON).
func appendResult(b []byte, r *providers.Result) []byte {
	o := &jsonObj{b: append(b, '{')}
	o.str("provider_message_id", r.ProviderMessageID, true)
	if len(r.State) > 0 {
		o.key("state")
		o.b = append(o.b, r.State...)
	}
	o.key("invalid")
	o.b = appendRecipients(o.b, &r.Invalid)
	o.strs("unlicensed", r.Unlicensed, true)
	return append(o.b, '}')
}

// plainCompactJSON reports whether raw is valid JSON that encoding/json
// would copy unchanged: already compact, all ASCII, none of < > &.
func plainCompactJSON(raw []byte) bool {
	for _, c := range raw {
		if c >= 0x80 || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return false // encoding/json reports the error
	}
	return bytes.Equal(buf.Bytes(), raw)
}

// appendRecipients appends r's JSON (a struct: never omitted, {} when empty).
func appendRecipients(b []byte, r *providers.Recipients) []byte {
	o := &jsonObj{b: append(b, '{')}
	o.strs("users", r.Users, true)
	o.strs("depts", r.Depts, true)
	o.strs("tags", r.Tags, true)
	o.strs("chats", r.Chats, true)
	o.bool("all", r.All, true)
	return append(o.b, '}')
}

func appendStrings(b []byte, v []string) []byte {
	b = append(b, '[')
	for i, s := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string: as is when it is printable ASCII
// with nothing to escape, else as encoding/json escapes it (HTML characters,
// line separators, invalid UTF-8).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
