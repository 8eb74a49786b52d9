package wps365sim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
)

// textTo is a create body of a text to user.
func textTo(user, text string) []byte {
	return []byte(`{"type":"text","receiver":{"receiver_id":"` + user + `","type":"user"},"content":{"text":{"content":"` + text + `","type":"plain"}}}`)
}

// The receipt-time audit counts deliveries per (app, user) at the simulator's
// clock: the third message to u1 within a second of a 2/1s limit is a
// violation, recorded and delivered, or dropped while create still succeeds;
// u2 is counted apart.
func TestAuditPerRecipient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		drop      bool
		wantU1    int // deliveries of u1 after three creates within 1 s
		wantDrops int
	}{
		{desc: "recorded", wantU1: 3},
		{desc: "dropped", drop: true, wantU1: 2, wantDrops: 1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *wps365sim.Options) {
				o.PerRecipientLimits = []wps365sim.Limit{{Count: 2, Window: time.Second}}
				o.DropOverLimit = tc.drop
			})
			b.sim.AddUsers("u2")
			for i, to := range []string{"u1", "u2", "u1", "u2", "u1"} {
				body := textTo(to, "hi")
				if status, m := b.post(t, "/v7/messages/create", body, body, true); status != http.StatusOK {
					t.Fatalf("create %d = %d %v, want 200 (a drop is silent)", i, status, m)
				}
				b.clock.Advance(200 * time.Millisecond)
			}
			if n := len(b.sim.Deliveries("u1")); n != tc.wantU1 {
				t.Errorf("u1 got %d, want %d", n, tc.wantU1)
			}
			if n := len(b.sim.Deliveries("u2")); n != 2 {
				t.Errorf("u2 got %d, want 2 (counted apart from u1)", n)
			}
			vs := b.sim.Violations()
			if len(vs) != 1 || vs[0].Recipient != "u1" || vs[0].App != "AK1" || vs[0].Count != 3 || vs[0].Dropped != tc.drop {
				t.Errorf("violations %+v, want u1's third (3 in 1s), dropped %v", vs, tc.drop)
			}
			if d := b.sim.Drops(); len(d) != tc.wantDrops {
				t.Errorf("drops %+v, want %d", d, tc.wantDrops)
			}
			if p := b.sim.AuditPeaks(); len(p) != 1 || p[0].Count != 3 {
				t.Errorf("peaks %+v, want 3", p)
			}
		})
	}
}

// Fault rates on create: a 5xx applies nothing, a lost answer is applied and
// leaves the client with a transport error; requests record the fault.
// SetFaults refuses an unknown endpoint and bad rates.
func TestFaultRates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		rates     wps365sim.FaultRates
		lost      bool
		status    int // 0: any 5xx
		delivered int
	}{
		{desc: "server error", rates: wps365sim.FaultRates{ServerError: 1}},
		{desc: "lost response", rates: wps365sim.FaultRates{LostResponse: 1}, lost: true, delivered: 1},
		{desc: "latency only", rates: wps365sim.FaultRates{Latency: 1, MinLatency: time.Millisecond, MaxLatency: 2 * time.Millisecond}, status: http.StatusOK, delivered: 1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *wps365sim.Options) { o.Seed = 7 })
			tc.rates.Endpoints = []string{wps365sim.EndpointCreate}
			if err := b.sim.SetFaults(tc.rates); err != nil {
				t.Fatal(err)
			}
			body := textTo("u1", "hi")
			status, m, err := b.try("/v7/messages/create", body, body, true)
			switch {
			case tc.lost && err == nil:
				t.Fatalf("create answered %d %v, want the connection dropped", status, m)
			case !tc.lost && err != nil:
				t.Fatal(err)
			case !tc.lost && tc.status == 0 && (status < 500 || status > 503 || m["code"] != float64(wps365sim.CodeInternal)):
				t.Fatalf("create = %d %v, want a 5xx with code %d", status, m, wps365sim.CodeInternal)
			case tc.status != 0 && status != tc.status:
				t.Fatalf("create = %d %v, want %d", status, m, tc.status)
			}
			if n := len(b.sim.Deliveries("u1")); n != tc.delivered {
				t.Errorf("%d delivered, want %d", n, tc.delivered)
			}
			rs := b.sim.RequestsTo(wps365sim.EndpointCreate)
			if len(rs) != 1 || rs[0].Fault == "" || rs[0].Lost != tc.lost {
				t.Errorf("requests %+v; want one, its fault described, lost %v", rs, tc.lost)
			}
		})
	}
	b := setup(t)
	for _, r := range []wps365sim.FaultRates{{Endpoints: []string{"send"}}, {ServerError: 0.6, LostResponse: 0.6}} {
		if err := b.sim.SetFaults(r); err == nil {
			t.Errorf("SetFaults(%+v) accepted", r)
		}
	}
}
