package ratelimit

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

// markScript's fast path (one recipient, not the group, marked sending, sent
// or failed) must do what its general path does: the same entry afterwards
// and the same reply, from every state an entry can be in. The general path
// runs for the same recipient given together with a second one that every
// action accepts.
func TestMarkFastPathMatchesGeneralPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain) // clock fixed at base; margin 200ms: a charge is stale after 100ms
	ms := func(d time.Duration) string { return strconv.FormatInt(base.Add(d).UnixMilli(), 10) }

	entries := []struct {
		desc, value string
	}{
		{"none", ""},
		{"admitted now", "A" + ms(-50*time.Millisecond) + ",1773108900000123,0,0"},
		{"admitted, stale", "A" + ms(-time.Second) + ",1773108900000123,0,0"},
		{"booked, early", "B" + ms(time.Second) + ",1773108900000456,2,1"},
		{"booked, due", "B" + ms(0) + ",1773108900000456,2,1"},
		{"sending", "S" + ms(0) + ",1773108900000123,0,0"},
		{"sent", "D" + ms(0) + ",1773108900000123,0,0"},
		{"failed", "F" + ms(0) + ",1773108900000123,1,0"},
		{"superseded", "C" + ms(0) + ",1773108900000123,0,0,m9"},
		{"malformed", "S17731,x"},
	}
	actions := []struct {
		desc, action, other string // other: the second recipient's state, one the action accepts
	}{
		{"sending", "S", "A"},
		{"sending, all or none", "s", "A"},
		{"sent", "D", "S"},
		{"failed", "F", "S"},
	}
	for i, e := range entries {
		for _, a := range actions {
			desc := e.desc + " → " + a.desc
			fast := Ref{App: "a", Tenant: "t", MessageID: fmt.Sprintf("f%d%s", i, a.action), Recipients: []string{"u1"}}
			general := fast
			general.MessageID, general.Recipients = fmt.Sprintf("g%d%s", i, a.action), []string{"u1", "u2"}
			for _, r := range []Ref{fast, general} {
				key := l.ledgerKey("a", r.MessageID)
				if e.value != "" {
					b.rdb.HSet(b.ctx, key, "u1", e.value)
				}
				b.rdb.HSet(b.ctx, key, "u2", a.other+ms(0)+",1773108900000999,0,0")
			}
			run := func(r Ref) *Transition {
				tr, err := l.mark(b.ctx, r, a.action)
				if err != nil {
					t.Fatalf("%s: markScript: %v", desc, err)
				}
				return tr
			}
			got, want := run(fast), run(general)
			gotDone := slices.Contains(got.Done, "u1")
			wantDone := slices.Contains(want.Done, "u1")
			var gotRef, wantRef []Refusal
			for _, f := range got.Refused {
				if f.Recipient == "u1" {
					gotRef = append(gotRef, f)
				}
			}
			for _, f := range want.Refused {
				if f.Recipient == "u1" {
					wantRef = append(wantRef, f)
				}
			}
			if gotDone != wantDone || !slices.Equal(gotRef, wantRef) || got.Op == 0 {
				t.Errorf("%s: fast path done %v refused %+v (op %d); general path done %v refused %+v", desc, gotDone, gotRef, got.Op, wantDone, wantRef)
			}
			gv := b.rdb.HGet(b.ctx, l.ledgerKey("a", fast.MessageID), "u1").Val()
			wv := b.rdb.HGet(b.ctx, l.ledgerKey("a", general.MessageID), "u1").Val()
			if gv != wv {
				t.Errorf("%s: fast path left %q, general path %q", desc, gv, wv)
			}
		}
	}
}
