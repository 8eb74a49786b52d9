package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

func TestSendRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	in := &Send{
		ID:        NewID("hr-bot", now),
		Message:   providers.Message{App: "hr-bot", To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindText, Text: `<a href="x">&</a>`},
		ExpiresAt: now.Add(time.Hour),
		Queue:     QueueDefault,
	}
	b, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<a href=\"x\">&</a>`) {
		t.Errorf("payload escapes HTML: %s", b)
	}
	out, err := DecodeSend(b)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != in.ID || out.Message.Text != in.Message.Text || !out.ExpiresAt.Equal(in.ExpiresAt) {
		t.Errorf("round trip changed the job: %+v", out)
	}
}

// A field this build does not know is a newer producer's: its own error, for
// the worker to wait on rather than archive.
func TestDecodeSendNewerPayload(t *testing.T) {
	t.Parallel()
	_, err := DecodeSend([]byte(`{"id":"a.b","message":{"app":"a"},"expires_at":"2026-01-01T00:00:00Z","from_a_newer_producer":1}`))
	if !errors.Is(err, ErrNewerPayload) || errors.Is(err, ErrPayload) || !strings.Contains(err.Error(), "from_a_newer_producer") {
		t.Errorf("DecodeSend: %v, want ErrNewerPayload naming the field", err)
	}
}

func TestDecodeSendRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		payload string
		want    string
	}{
		{desc: "not json", payload: "\x00garbage", want: "invalid character"},
		{desc: "no id", payload: `{"message":{"app":"a"},"expires_at":"2026-01-01T00:00:00Z"}`, want: "id is empty"},
		{desc: "no app", payload: `{"id":"a.b","expires_at":"2026-01-01T00:00:00Z"}`, want: "message.app is empty"},
		{desc: "no expiry", payload: `{"id":"a.b","message":{"app":"a"}}`, want: "expires_at"},
		{desc: "id of another app", payload: `{"id":"b.c","message":{"app":"a"},"expires_at":"2026-01-01T00:00:00Z"}`, want: "does not belong"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeSend([]byte(tc.payload))
			if !errors.Is(err, ErrPayload) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeSend(%q) = %v, want ErrPayload mentioning %q", tc.payload, err, tc.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a, b := NewID("hr-bot", now), NewID("hr-bot", now.Add(time.Millisecond))
	if a == b || len(a) != len("hr-bot.")+26 {
		t.Fatalf("ids %q %q", a, b)
	}
	if a >= b {
		t.Errorf("ids are not time-ordered: %q >= %q", a, b)
	}
	if app, err := AppOf(a); err != nil || app != "hr-bot" {
		t.Errorf("AppOf(%q) = %q, %v", a, app, err)
	}
	if _, err := AppOf("nodot"); err == nil {
		t.Error("AppOf accepted an id without app")
	}
}

// DecodeSend (go-json) reads every kind of send job exactly as encoding/json
// does, and refuses what it refuses with the same error class.
func TestDecodeSendMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 19, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	id := NewID("hr", now)
	full := Send{ID: id, Message: providers.Message{App: "hr", Tenant: "t1",
		To:   providers.Recipients{Users: []string{"u1", "张三"}, Depts: []string{"d1"}, Tags: []string{"t"}, Chats: []string{"c"}, All: true},
		Kind: providers.KindText, Text: "hello \"quoted\" \u2028 <b>&</b> 你好",
		Body: json.RawMessage(`{"card": {"a": [1, 2.5, "x", null, true], "b": {}}}`), ReplyTo: &providers.ReplyTo{Chat: "c1", MessageID: "m1"}},
		Urgent: true, NotBefore: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour), Queue: "critical", Generation: 3,
		Collapse: &Collapse{Key: "k", Mode: CollapseDigest}, CreatedAt: now, IdempotencyKey: "key-1"}
	minimal := Send{ID: id, Message: providers.Message{App: "hr", To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindText, Text: "x"},
		ExpiresAt: now.Add(time.Hour), Queue: "default"}
	marshal := func(s Send) []byte {
		b, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		desc    string
		payload []byte
	}{
		{desc: "every field", payload: marshal(full)},
		{desc: "the fewest fields", payload: marshal(minimal)},
		{desc: "spaces and another key order", payload: []byte(` { "queue":"default", "expires_at" : "2026-12-06T20:00:00Z", "message":{"kind":"text","to":{"users":["u1"]},"app":"hr","text":"x"}, "id":"` + id + `" } `)},
		{desc: "field names in another case", payload: []byte(`{"ID":"` + id + `","Message":{"App":"hr","Kind":"text"},"Expires_At":"2026-12-06T20:00:00Z"}`)},
		{desc: "unknown field", payload: []byte(`{"id":"` + id + `","message":{"app":"hr"},"expires_at":"2026-12-06T20:00:00Z","shiny":1}`)},
		{desc: "unknown nested field", payload: []byte(`{"id":"` + id + `","message":{"app":"hr","shiny":1},"expires_at":"2026-12-06T20:00:00Z"}`)},
		{desc: "wrong type", payload: []byte(`{"id":5}`)},
		{desc: "bad time", payload: []byte(`{"id":"` + id + `","message":{"app":"hr"},"expires_at":"tomorrow"}`)},
		{desc: "truncated", payload: marshal(full)[:40]},
		{desc: "not JSON", payload: []byte(`nope`)},
		{desc: "trailing data", payload: append(marshal(minimal), []byte(` {}`)...)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeSend(tc.payload)
			var want Send
			dec := json.NewDecoder(bytes.NewReader(tc.payload))
			dec.DisallowUnknownFields()
			werr := dec.Decode(&want)
			switch {
			case werr != nil:
				class := ErrPayload
				if strings.HasPrefix(werr.Error(), "json: unknown field ") {
					class = ErrNewerPayload
				}
				if !errors.Is(err, class) {
					t.Errorf("DecodeSend = %v, want an error of class %v (encoding/json: %v)", err, class, werr)
				}
			case err != nil:
				if !errors.Is(err, ErrPayload) || !strings.Contains(err.Error(), "empty") && !strings.Contains(err.Error(), "missing") && !strings.Contains(err.Error(), "belong") {
					t.Errorf("DecodeSend = %v; encoding/json read it", err)
				}
			case !reflect.DeepEqual(*got, want):
				t.Errorf("DecodeSend = %+v\nencoding/json: %+v", *got, want)
			}
		})
	}
}
