package ratelimit

import "testing"

// A request that never reached the provider is refunded: its arrival and daily
// person-time are removed and the next attempt is charged afresh.
func TestMarkNotSentRefunds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(Policy{Windows: plain.Windows, Margin: plain.Margin, Daily: 10})
	ref := Ref{App: "a", Tenant: "t", MessageID: "m1", Recipients: []string{"u"}}
	req := Request{App: "a", Tenant: "t", MessageID: "m1", Recipients: []string{"u"}}
	if d := b.admit(l, req); len(d.Admitted) != 1 {
		t.Fatalf("admit: %+v", d)
	}
	if tr, err := l.MarkSending(b.ctx, ref); err != nil || len(tr.Done) != 1 {
		t.Fatalf("MarkSending: %+v %v", tr, err)
	}
	if tr, err := l.MarkNotSent(b.ctx, ref); err != nil || len(tr.Done) != 1 {
		t.Fatalf("MarkNotSent: %+v %v", tr, err)
	}
	if got := b.arrivals(l, "a", "t", "u"); len(got) != 0 {
		t.Errorf("arrivals after the refund: %v, want none", got)
	}
	if got := b.dailyUsed(l, "a", "t", base); got != 0 {
		t.Errorf("daily used after the refund: %d, want 0", got)
	}
	// The next attempt is a new charge, not a repeat.
	if d := b.admit(l, req); len(d.Admitted) != 1 || len(d.Repeated) != 0 {
		t.Fatalf("admit after the refund: %+v", d)
	}
	if got := b.arrivals(l, "a", "t", "u"); len(got) != 1 {
		t.Errorf("arrivals: %v, want exactly one", got)
	}
	// Sent and failed entries may have arrived: no refund.
	if _, err := l.MarkSent(b.ctx, ref); err != nil {
		t.Fatal(err)
	}
	if tr, err := l.MarkNotSent(b.ctx, ref); err != nil || len(tr.Refused) != 1 || tr.Refused[0].Why != RefusedState {
		t.Errorf("MarkNotSent after sent: %+v %v, want refused", tr, err)
	}
}
