package ratelimit

import "testing"

// A policy with an empty (not nil) list of windows has no per-recipient
// limit: every recipient is admitted, and the daily cap still counts.
func TestNoWindowsOnlyDaily(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(Policy{Windows: []Window{}, Daily: 5})
	for i := range 5 {
		req := Request{App: "a", MessageID: "m" + string(rune('0'+i)), Recipients: []string{"u"}}
		if d := b.admit(l, req); len(d.Admitted) != 1 {
			t.Fatalf("message %d: %+v, want admitted (no per-recipient window)", i, d)
		}
	}
	if d := b.admit(l, Request{App: "a", MessageID: "m9", Recipients: []string{"u"}}); len(d.Admitted) != 0 || len(d.Booked) != 1 {
		t.Fatalf("sixth message: %+v, want booked for the next day (daily cap 5)", d)
	}
}
