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

// appendMeta appends the JSON of rec without its Job (null), Parts, Updates
// and Cancel: what encoding/json writes for such a copy of rec.
func appendMeta(b []byte, rec *Record) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = appendString(b, rec.ID)
	b = append(b, `,"app":`...)
	b = appendString(b, rec.App)
	b = append(b, `,"state":`...)
	b = appendString(b, string(rec.State))
	b = append(b, `,"job":null`...)
	if rec.IdempotencyKey != "" {
		b = append(b, `,"idempotency_key":`...)
		b = appendString(b, rec.IdempotencyKey)
	}
	b = append(b, `,"runs":`...)
	b = strconv.AppendInt(b, int64(rec.Runs), 10)
	b = append(b, `,"failures":`...)
	b = strconv.AppendInt(b, int64(rec.Failures), 10)
	b = append(b, `,"deferrals":`...)
	b = strconv.AppendInt(b, int64(rec.Deferrals), 10)
	if rec.Wait != nil {
		if b, err = appendValue(b, `,"wait":`, rec.Wait); err != nil {
			return nil, err
		}
	}
	if len(rec.Booked) > 0 {
		if b, err = appendValue(b, `,"booked":`, rec.Booked); err != nil {
			return nil, err
		}
	}
	if len(rec.Late) > 0 {
		if b, err = appendValue(b, `,"late":`, rec.Late); err != nil {
			return nil, err
		}
	}
	if len(rec.Superseded) > 0 {
		if b, err = appendValue(b, `,"superseded":`, rec.Superseded); err != nil {
			return nil, err
		}
	}
	if rec.Generations != 0 {
		b = append(b, `,"generations":`...)
		b = strconv.AppendInt(b, int64(rec.Generations), 10)
	}
	if rec.LastError != "" {
		b = append(b, `,"last_error":`...)
		b = appendString(b, rec.LastError)
	}
	if rec.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, rec.Reason)
	}
	b = append(b, `,"event_seq":`...)
	b = strconv.AppendInt(b, int64(rec.EventSeq), 10)
	b = append(b, `,"created_at":`...)
	if b, err = appendTime(b, rec.CreatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendTime(b, rec.UpdatedAt); err != nil {
		return nil, err
	}
	if !rec.FinishedAt.IsZero() {
		b = append(b, `,"finished_at":`...)
		if b, err = appendTime(b, rec.FinishedAt); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"enqueued":`...)
	b = strconv.AppendBool(b, rec.Enqueued)
	return append(b, '}'), nil
}

// appendPart appends the JSON of p, as encoding/json writes it.
func appendPart(b []byte, p *Part) ([]byte, error) {
	var err error
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(p.Index), 10)
	if p.Tenant != "" {
		b = append(b, `,"tenant":`...)
		b = appendString(b, p.Tenant)
	}
	b = append(b, `,"to":`...)
	b = appendRecipients(b, &p.To)
	if p.Ref != "" {
		b = append(b, `,"ref":`...)
		b = appendString(b, p.Ref)
	}
	if p.NotUpdatable {
		b = append(b, `,"not_updatable":true`...)
	}
	if p.Target != "" {
		b = append(b, `,"target":`...)
		b = appendString(b, p.Target)
	}
	b = append(b, `,"body":`...)
	if p.Body == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, p.Body)
		b = append(b, '"')
	}
	if p.Generation != 0 {
		b = append(b, `,"generation":`...)
		b = strconv.AppendInt(b, int64(p.Generation), 10)
	}
	b = append(b, `,"state":`...)
	b = appendString(b, string(p.State))
	if p.Attempts != 0 {
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(p.Attempts), 10)
	}
	if !p.FirstSentAt.IsZero() {
		b = append(b, `,"first_sent_at":`...)
		if b, err = appendTime(b, p.FirstSentAt); err != nil {
			return nil, err
		}
	}
	if !p.SentAt.IsZero() {
		b = append(b, `,"sent_at":`...)
		if b, err = appendTime(b, p.SentAt); err != nil {
			return nil, err
		}
	}
	if p.MayHaveLeft {
		b = append(b, `,"may_have_left":true`...)
	}
	if p.Result != nil {
		b = append(b, `,"result":`...)
		if b, err = appendResult(b, p.Result); err != nil {
			return nil, err
		}
	}
	if p.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, p.Error)
	}
	if p.ContentSeq != 0 {
		b = append(b, `,"content_seq":`...)
		b = strconv.AppendInt(b, p.ContentSeq, 10)
	}
	return append(b, '}'), nil
}

// appendResult appends r's JSON. encoding/json compacts the raw state and
// escapes <, >, & and the line separators in it: a state that has any of
// them (or any non-ASCII byte, or needs compacting) is left to it.
func appendResult(b []byte, r *providers.Result) ([]byte, error) {
	if len(r.State) > 0 && !plainCompactJSON(r.State) {
		return appendValue(b, "", r)
	}
	b = append(b, '{')
	sep := false
	if r.ProviderMessageID != "" {
		b = append(b, `"provider_message_id":`...)
		b = appendString(b, r.ProviderMessageID)
		sep = true
	}
	if len(r.State) > 0 {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"state":`...)
		b = append(b, r.State...)
		sep = true
	}
	if sep {
		b = append(b, ',')
	}
	b = append(b, `"invalid":`...)
	b = appendRecipients(b, &r.Invalid)
	if len(r.Unlicensed) > 0 {
		b = append(b, `,"unlicensed":`...)
		b = appendStrings(b, r.Unlicensed)
	}
	return append(b, '}'), nil
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
	b = append(b, '{')
	sep := false
	field := func(name string, v []string) {
		if len(v) == 0 {
			return
		}
		if sep {
			b = append(b, ',')
		}
		b = append(b, name...)
		b = appendStrings(b, v)
		sep = true
	}
	field(`"users":`, r.Users)
	field(`"depts":`, r.Depts)
	field(`"tags":`, r.Tags)
	field(`"chats":`, r.Chats)
	if r.All {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"all":true`...)
	}
	return append(b, '}')
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

// appendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds; an error for a year outside 0…9999).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("record: encode time: %w", err)
	}
	return append(b, '"'), nil
}

// appendValue appends key and encoding/json's encoding of v.
func appendValue(b []byte, key string, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b = append(b, key...)
	return append(b, j...), nil
}
