package xiezuosim_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

// The receipt-time audit counts deliveries per (app, user) at the simulator's
// clock: the third card to u1 within a second of a 2/1s limit is a violation,
// recorded and delivered, or dropped while the send still succeeds; u2, in the
// same send, is counted apart.
func TestAuditPerRecipient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		drop       bool
		wantU1     int // deliveries of u1 after three sends within 1 s
		wantDrops  int
		wantPeakU1 int
	}{
		{desc: "recorded", wantU1: 3, wantPeakU1: 3},
		{desc: "dropped", drop: true, wantU1: 2, wantDrops: 1, wantPeakU1: 3},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *xiezuosim.Options) {
				o.PerRecipientLimits = []xiezuosim.Limit{{Count: 2, Window: time.Second}}
				o.DropOverLimit = tc.drop
			})
			tk := b.token(t)
			for i, users := range [][]string{{"u1"}, {"u1", "u2"}, {"u1", "u2"}} {
				if a := b.do(t, http.MethodPost, sendPath, tok(tk), cardBody(fmt.Sprint("ctx-", i), "hi", users...), nil); a.status != http.StatusOK || a.Result != xiezuosim.CodeOK {
					t.Fatalf("send %d = %+v, want success (a drop is silent)", i, a)
				}
				b.clock.Advance(400 * time.Millisecond)
			}
			if n := len(b.sim.Deliveries("u1")); n != tc.wantU1 {
				t.Errorf("u1 got %d cards, want %d", n, tc.wantU1)
			}
			if n := len(b.sim.Deliveries("u2")); n != 2 {
				t.Errorf("u2 got %d cards, want 2 (counted apart from u1)", n)
			}
			vs := b.sim.Violations()
			if len(vs) != 1 || vs[0].Recipient != "u1" || vs[0].App != appKey || vs[0].Count != 3 || vs[0].Dropped != tc.drop {
				t.Errorf("violations %+v, want u1's third card (3 in 1s), dropped %v", vs, tc.drop)
			}
			if d := b.sim.Drops(); len(d) != tc.wantDrops {
				t.Errorf("drops %+v, want %d", d, tc.wantDrops)
			}
			if p := b.sim.AuditPeaks(); len(p) != 1 || p[0].Count != tc.wantPeakU1 || p[0].Recipient != "u1" {
				t.Errorf("peaks %+v, want u1 at %d", p, tc.wantPeakU1)
			}
		})
	}
}

// Fault rates: a 5xx applies nothing, a lost answer is applied and leaves the
// client with a transport error, and an endpoint outside the rates (the token
// fetch) is untouched; SetFaults refuses an unknown endpoint and bad rates.
func TestFaultRates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		rates     xiezuosim.FaultRates
		lost      bool // the client gets no answer
		status    int
		delivered int
	}{
		{desc: "server error", rates: xiezuosim.FaultRates{ServerError: 1}, delivered: 0},
		{desc: "lost response", rates: xiezuosim.FaultRates{LostResponse: 1}, lost: true, delivered: 1},
		{desc: "latency only", rates: xiezuosim.FaultRates{Latency: 1, MinLatency: time.Millisecond, MaxLatency: 2 * time.Millisecond}, status: http.StatusOK, delivered: 1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *xiezuosim.Options) { o.Seed = 7 })
			tc.rates.Endpoints = []string{xiezuosim.EndpointSend}
			if err := b.sim.SetFaults(tc.rates); err != nil {
				t.Fatal(err)
			}
			tk := b.token(t)
			a, err := b.try(t, http.MethodPost, sendPath, tok(tk), cardBody("ctx-1", "hi", "u1"), nil)
			switch {
			case tc.lost && err == nil:
				t.Fatalf("send answered %+v, want the connection dropped", a)
			case !tc.lost && err != nil:
				t.Fatal(err)
			case tc.status == 0 && !tc.lost && (a.status < 500 || a.status > 503):
				t.Fatalf("send = %d, want a 5xx", a.status)
			case tc.status != 0 && a.status != tc.status:
				t.Fatalf("send = %d, want %d", a.status, tc.status)
			}
			if n := len(b.sim.Deliveries("u1")); n != tc.delivered {
				t.Errorf("%d delivered, want %d", n, tc.delivered)
			}
			rs := b.sim.Requests()
			if last := rs[len(rs)-1]; last.Fault == "" || last.Lost != tc.lost {
				t.Errorf("request recorded as %+v; want its fault described, lost %v", last, tc.lost)
			}
		})
	}
	b := setup(t)
	for _, r := range []xiezuosim.FaultRates{{Endpoints: []string{"recall"}}, {ServerError: 0.6, LostResponse: 0.6}} {
		if err := b.sim.SetFaults(r); err == nil {
			t.Errorf("SetFaults(%+v) accepted", r)
		}
	}
}
