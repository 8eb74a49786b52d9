package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

func TestPeak(t *testing.T) {
	t.Parallel()
	w := Window{Count: 3, Window: time.Second}
	for _, tt := range []struct {
		desc string
		at   []int64
		want int
		from int64
	}{
		{desc: "none", at: nil, want: 0},
		{desc: "one", at: []int64{5}, want: 1, from: 5},
		{desc: "three within a second", at: []int64{0, 400, 999}, want: 3, from: 0},
		{desc: "an interval is half-open", at: []int64{0, 1000, 2000}, want: 1, from: 0},
		{desc: "the densest is later", at: []int64{0, 1500, 1600, 1700, 2400}, want: 4, from: 1500},
	} {
		p := peak(tt.at, w)
		if p.Peak != tt.want || (p.Peak > 0 && p.At.UnixMilli() != tt.from) {
			t.Errorf("%s: peak %d from %d, want %d from %d", tt.desc, p.Peak, p.At.UnixMilli(), tt.want, tt.from)
		}
		if p.Reached() != (tt.want >= 3) || p.Exceeded() != (tt.want > 3) {
			t.Errorf("%s: reached %v exceeded %v", tt.desc, p.Reached(), p.Exceeded())
		}
	}
}

// The audit sees the windows and the ledger states: five messages to u under
// 3 per 1s give a peak of 3 (reached, not exceeded), three of them sent and
// two booked; once the windows have slid past them, only the ledgers (for a
// single-tenant app) still show them, and a --from before the windows' reach
// is flagged.
func TestAudit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain)
	for i := range 5 {
		id := fmt.Sprintf("m%d", i)
		d := b.admit(l, Request{App: "a", Tenant: "t", MessageID: id, Recipients: []string{"u"}})
		if len(d.Admitted) == 1 {
			if _, err := l.MarkSent(b.ctx, Ref{App: "a", Tenant: "t", MessageID: id, Recipients: []string{"u"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.admit(l, Request{App: "a", Tenant: "t2", MessageID: "o", Recipients: []string{"v"}})
	span := AuditQuery{From: base.Add(-time.Second), To: base.Add(time.Minute)}
	rep, err := l.Audit(b.ctx, "a", span)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recipients) != 2 || rep.Partial {
		t.Fatalf("audit: %+v", rep)
	}
	u := rep.Recipients[0]
	if u.Tenant != "t" || u.Recipient != "u" || u.Arrivals != 5 || u.States["sent"] != 3 || u.States["booked"] != 2 ||
		len(u.Peaks) != 1 || u.Peaks[0].Peak != 3 || !u.Reached || u.Exceeded {
		t.Errorf("u: %+v", u)
	}
	if v := rep.Recipients[1]; v.Tenant != "t2" || v.Peaks[0].Peak != 1 || v.Reached {
		t.Errorf("v: %+v", v)
	}
	one := span
	one.Tenant, one.OneTenant = "t2", true
	if rep, err := l.Audit(b.ctx, "a", one); err != nil || len(rep.Recipients) != 1 || rep.Recipients[0].Recipient != "v" {
		t.Errorf("audit of tenant t2: %+v %v", rep, err)
	}

	// A minute later u is charged again: the window trims the old arrivals.
	b.set(l, base.Add(time.Minute))
	for i := range 4 {
		b.admit(l, Request{App: "a", Tenant: "t", MessageID: fmt.Sprintf("n%d", i), Recipients: []string{"u"}})
	}
	early := AuditQuery{From: base.Add(-time.Second), To: base.Add(10 * time.Second), Tenant: "t", OneTenant: true}
	rep, err = l.Audit(b.ctx, "a", early)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Partial || len(rep.Recipients) != 0 {
		t.Errorf("after the windows slid: partial %v, %d recipients, want partial and none", rep.Partial, len(rep.Recipients))
	}
	tenant := "t"
	early.LedgerTenant = &tenant
	rep, err = l.Audit(b.ctx, "a", early)
	if err != nil {
		t.Fatal(err)
	}
	// (The ledgers do not name their tenant: v's is counted as t's too,
	// which is why LedgerTenant is for single-tenant apps.)
	if rep.Partial || len(rep.Recipients) == 0 || rep.Recipients[0].Recipient != "u" || rep.Recipients[0].Arrivals != 5 || rep.Recipients[0].Peaks[0].Peak != 3 {
		t.Errorf("from the ledgers: %+v", rep)
	}
	if _, err := l.Audit(b.ctx, "a", AuditQuery{From: base, To: base.Add(-time.Second)}); err == nil {
		t.Error("to before from: no error")
	}
}
