package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// TestUsageAgreesWithAdmit: after the recipient's window is full, Usage
// reports the slots used and booked, and its NextFree is exactly the slot
// the admission script then books for the next message; reading writes
// nothing.
func TestUsageAgreesWithAdmit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain) // 3 per 1s, margin 200ms
	for i := range 4 {
		b.admit(l, Request{App: "a", Tenant: "t", MessageID: fmt.Sprintf("m%d", i), Recipients: []string{"u"}})
	}
	keys := func() []string {
		ks, err := b.rdb.Keys(b.ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	before := len(keys())
	u, err := l.Usage(b.ctx, "a", "t", "u")
	if err != nil {
		t.Fatal(err)
	}
	if after := len(keys()); after != before {
		t.Errorf("Usage wrote keys: %d before, %d after", before, after)
	}
	if len(u.Windows) != 1 || u.Windows[0].Used != 3 || u.Windows[0].Count != 3 {
		t.Errorf("windows = %+v, want 3 of 3 used", u.Windows)
	}
	if len(u.Booked) != 1 || u.Booked[0].Sub(base) != 1200*time.Millisecond {
		t.Errorf("booked = %v, want one slot at base+1.2s", u.Booked)
	}
	d := b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m4", Recipients: []string{"u"}})
	if len(d.Booked) != 1 {
		t.Fatalf("fifth message: %+v, want booked", d)
	}
	if !d.Booked[0].At.Equal(u.NextFree) {
		t.Errorf("NextFree = %v (base%+v), the script booked %v (base%+v)", u.NextFree, u.NextFree.Sub(base), d.Booked[0].At, d.Booked[0].At.Sub(base))
	}
	fresh, err := l.Usage(b.ctx, "a", "t", "nobody")
	if err != nil {
		t.Fatal(err)
	}
	if !fresh.NextFree.Equal(base) || fresh.Windows[0].Used != 0 {
		t.Errorf("fresh recipient: %+v, want free now", fresh)
	}
}

// TestUsageHeadroomAndDaily: the urgent headroom makes a non-urgent slot later
// than an urgent one; a full daily cap moves both to the next Shanghai day.
func TestUsageHeadroomAndDaily(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := scaled // headroom 1: non-urgent gets 2 of 3 per second
	p.Daily = 2
	l := b.limiter(p)
	b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m0", Recipients: []string{"u"}})
	u, err := l.Usage(b.ctx, "a", "t", "u")
	if err != nil {
		t.Fatal(err)
	}
	if !u.NextFree.Equal(base) || !u.NextFreeUrgent.Equal(base) || u.DailyUsed != 1 || u.DailyCap != 2 {
		t.Errorf("after one: %+v, want free now, daily 1 of 2", u)
	}
	b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m1", Recipients: []string{"v"}})
	u, err = l.Usage(b.ctx, "a", "t", "u")
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2026, 3, 11, 0, 0, 0, 0, shanghai)
	if u.DailyUsed != 2 || !u.NextFree.Equal(midnight) || !u.NextFreeUrgent.Equal(midnight) {
		t.Errorf("daily cap full: %+v, want next free at %v", u, midnight)
	}

	l2 := b.limiter(scaled)
	for i := range 2 {
		b.admit(l2, Request{App: "b", Tenant: "t", MessageID: fmt.Sprintf("n%d", i), Recipients: []string{"u"}})
	}
	u, err = l2.Usage(b.ctx, "b", "t", "u")
	if err != nil {
		t.Fatal(err)
	}
	if !u.NextFreeUrgent.Equal(base) || !u.NextFree.After(base) {
		t.Errorf("two of three used with headroom 1: next free %v, urgent %v; want urgent now, non-urgent later", u.NextFree, u.NextFreeUrgent)
	}
}
