package job

import (
	"errors"
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
