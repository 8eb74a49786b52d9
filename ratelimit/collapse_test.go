package ratelimit

import (
	"testing"
	"time"
)

// Messages of one collapse key to one recipient under 3 per 1s: the first
// three go now (each sent before the next comes); each later one supersedes the booked one before it (its
// charge refunded, its slot inherited), and an older message admitted after
// a newer one is superseded at once without a charge.
func TestCollapseSupersedesBooked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain)
	req := func(id string) Request {
		return Request{App: "a", Tenant: "t", MessageID: id, Recipients: []string{"u"}, CollapseKey: "disk"}
	}
	// ids sort by creation time; each is sent before the next comes
	for _, id := range []string{"a.01", "a.02", "a.03"} {
		if d := b.admit(l, req(id)); len(d.Admitted) != 1 {
			t.Fatalf("%s: %+v, want admitted now", id, d)
		}
		if _, err := l.MarkSent(b.ctx, Ref{App: "a", Tenant: "t", MessageID: id, Recipients: []string{"u"}}); err != nil {
			t.Fatal(err)
		}
	}
	// the window is full: the next is booked
	d4 := b.admit(l, req("a.04"))
	if len(d4.Booked) != 1 {
		t.Fatalf("a.04: %+v, want booked", d4)
	}
	slot := d4.Booked[0].At
	d5 := b.admit(l, req("a.05"))
	if len(d5.Booked) != 1 || !d5.Booked[0].At.Equal(slot) || len(d5.Supersedes) != 1 || d5.Supersedes[0].By != "a.04" {
		t.Fatalf("a.05: %+v, want booked at a.04's slot %v superseding it", d5, slot)
	}
	if got := b.arrivals(l, "a", "t", "u"); len(got) != 4 {
		t.Errorf("arrivals %v: want 4 (a.04's refunded)", got)
	}
	led, err := l.Ledger(b.ctx, "a", "a.04")
	if err != nil {
		t.Fatal(err)
	}
	if e := led["u"]; e.State != StateSuperseded || e.SupersededBy != "a.05" {
		t.Errorf("a.04's ledger entry: %+v, want superseded by a.05", e)
	}
	// the superseded message's follow-up finds it superseded, and cannot mark it sending
	b.set(l, slot)
	if d := b.admit(l, req("a.04")); len(d.Superseded) != 1 || d.Superseded[0].By != "a.05" || len(d.Admitted)+len(d.Booked) != 0 {
		t.Errorf("a.04 re-run: %+v, want superseded by a.05", d)
	}
	if tr, err := l.MarkSending(b.ctx, Ref{App: "a", Tenant: "t", MessageID: "a.04", Recipients: []string{"u"}}); err != nil || len(tr.Done) != 0 {
		t.Errorf("MarkSending of a superseded entry: %+v %v, want refused", tr, err)
	}
	// an older message admitted late: superseded at once, nothing charged
	b.set(l, base)
	if d := b.admit(l, req("a.00")); len(d.Superseded) != 1 || d.Superseded[0].By != "a.05" {
		t.Errorf("a.00: %+v, want superseded by a.05", d)
	}
	if got := b.arrivals(l, "a", "t", "u"); len(got) != 4 {
		t.Errorf("arrivals %v: want 4", got)
	}
}

// In digest mode the message that goes out knows how many it collapsed, the
// first one's id and text, and the last one's text; a message that
// supersedes nothing starts the count again.
func TestCollapseDigest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(Policy{Windows: []Window{{1, time.Second}}, Margin: 200 * time.Millisecond})
	req := func(id, text string) Request {
		return Request{App: "a", Tenant: "t", MessageID: id, Recipients: []string{"u"}, CollapseKey: "k", Digest: true, DigestText: text}
	}
	b.admit(l, req("a.01", "one"))
	b.admit(l, req("a.02", "two"))
	b.admit(l, req("a.03", "three"))
	d := b.admit(l, req("a.04", "four"))
	g, ok := d.Digests["u"]
	if !ok || g.Count != 2 || g.FirstID != "a.02" || g.FirstText != "two" || g.LastText != "three" {
		t.Fatalf("digest of a.04: %+v (%v), want 2 collapsed from a.02 two … three", g, ok)
	}
	// the follow-up at its slot gets the digest again
	b.set(l, d.Booked[0].At)
	d = b.admit(l, req("a.04", "four"))
	if g := d.Digests["u"]; len(d.Admitted) != 1 || g.Count != 2 {
		t.Errorf("a.04 at its slot: %+v, want admitted with the digest of 2", d)
	}
}

func TestCheckCollapseKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc, key string
		ok        bool
	}{
		{desc: "none", key: "", ok: true},
		{desc: "plain", key: "incident-42", ok: true},
		{desc: "colon", key: "a:b"},
		{desc: "brace", key: "{a}"},
		{desc: "control", key: "a\nb"},
		{desc: "long", key: string(make([]byte, 129))},
	} {
		if err := CheckCollapseKey(tc.key); (err == nil) != tc.ok {
			t.Errorf("%s: CheckCollapseKey(%q) = %v", tc.desc, tc.key, err)
		}
	}
}

// A newer message never goes before an older one of its key that is due or
// in flight: it is placed at least a margin after it.
func TestCollapseKeepsOrderBehindInFlight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain)
	req := func(id string) Request {
		return Request{App: "a", Tenant: "t", MessageID: id, Recipients: []string{"u"}, CollapseKey: "k"}
	}
	if d := b.admit(l, req("a.01")); len(d.Admitted) != 1 {
		t.Fatalf("a.01: %+v", d)
	}
	d := b.admit(l, req("a.02"))
	if len(d.Booked) != 1 || d.Booked[0].At.Sub(base) != plain.Margin || len(d.Supersedes) != 0 {
		t.Errorf("a.02: %+v, want booked a margin after a.01 (in flight, not superseded)", d)
	}
}
