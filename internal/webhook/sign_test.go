package webhook_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/webhook"
)

// TestVerify: Sign's signature verifies; another body, secret or a stale
// timestamp does not.
func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_760_000_000, 0)
	body := []byte(`{"event_id":"hr.x/1"}`)
	sig := webhook.Sign([]byte("k1"), now.Unix(), body)
	ts := strconv.FormatInt(now.Unix(), 10)
	cases := []struct {
		desc, secret, ts, sig string
		body                  []byte
		at                    time.Time
		ok                    bool
	}{
		{"good", "k1", ts, sig, body, now, true},
		{"other body", "k1", ts, sig, []byte(`{"event_id":"hr.x/2"}`), now, false},
		{"other secret", "k2", ts, sig, body, now, false},
		{"stale", "k1", ts, sig, body, now.Add(6 * time.Minute), false},
		{"bad timestamp", "k1", "soon", sig, body, now, false},
		{"no scheme", "k1", ts, sig[3:], body, now, false},
	}
	for _, tc := range cases {
		err := webhook.Verify([]byte(tc.secret), tc.ts, tc.sig, tc.body, tc.at, 0)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, webhook.ErrSignature)) {
			t.Errorf("%s: %v", tc.desc, err)
		}
	}
}
