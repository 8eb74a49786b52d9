package worker_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// Three worker processes on one Redis, a WeCom simulator with scaled limits,
// 0–2 s latency, 10% of responses lost after the message was applied and 5%
// HTTP 5xx: 300 messages to 5 users. WeCom's receipt-time audit finds no window
// exceeded and nothing dropped; nothing is archived; nothing is delivered twice;
// messages to one user sent without retry and enqueued ≥ 3 s apart arrive in
// enqueue order.
func TestThreeWorkersUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three worker processes for about a minute")
	}
	t.Parallel()
	tests := []struct {
		desc string
		// onUnknown is the app's policy; with give_up the simulator's duplicate
		// check is off, so only the dispatcher can prevent a second delivery.
		onUnknown string
	}{
		{desc: "resend within the duplicate-check window", onUnknown: "resend"},
		{desc: "give up, duplicate check off", onUnknown: "give_up"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			limits := []wecomsim.Limit{{Count: 10, Window: time.Second}, {Count: 40, Window: 5 * time.Second}}
			users := []string{"u1", "u2", "u3", "u4", "u5"}
			b := setup(t, func(o *setupOpts) {
				o.noWorker = true
				o.appYAML = fmt.Sprintf("    limits: {per_recipient: [{count: 10, window: 1s}, {count: 40, window: 5s}], margin: 2500ms}\n    on_unknown: %s", tc.onUnknown)
				o.simOptions.PerMemberLimits = limits
				o.simOptions.IgnoreDuplicateCheck = tc.onUnknown == "give_up"
				o.simOptions.Seed = 7
			})
			b.sim.AddUsers(testCorp, users...)
			if err := b.sim.SetFaults(wecomsim.FaultRates{Endpoints: []string{wecomsim.EndpointSend},
				LostResponse: 0.10, ServerError: 0.05, Latency: 1, MinLatency: 0, MaxLatency: 2 * time.Second}); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				b.startChild(0)
			}
			// Enqueue over ~15 s, so that some messages to a user are ≥ 3 s apart.
			const n = 300
			ids := make([]string, n)
			enqueued := map[string]time.Time{}
			var mu sync.Mutex
			for i := range ids {
				ids[i] = b.send(fmt.Sprintf("m%03d", i), users[i%len(users)])
				mu.Lock()
				enqueued[fmt.Sprintf("m%03d", i)] = time.Now()
				mu.Unlock()
				time.Sleep(50 * time.Millisecond) // pacing the producer is the scenario, not a synchronisation
			}
			states := map[record.State]int{}
			clean := map[string]bool{} // sent in one attempt, no failure
			for i, id := range ids {
				rec := b.waitFinished(id)
				states[rec.State]++
				if rec.Failures == 0 && len(rec.Parts) == 1 && rec.Parts[0].Attempts == 1 {
					clean[fmt.Sprintf("m%03d", i)] = true
				}
			}
			t.Logf("states %v; sim stats %+v", states, b.sim.Stats())
			if tc.onUnknown == "resend" && states[record.Accepted] != n {
				t.Errorf("states %v, want all %d accepted", states, n)
			}
			if tc.onUnknown == "give_up" && states[record.Accepted]+states[record.Unknown] != n {
				t.Errorf("states %v, want accepted or (lost answers) unknown", states)
			}
			if a := b.archived(); len(a) != 0 {
				t.Errorf("%d archived", len(a))
			}
			if d := b.sim.Drops(); len(d) != 0 {
				t.Errorf("WeCom dropped %d messages (first: %+v)", len(d), d[0])
			}
			for _, u := range users {
				ds := b.sim.Deliveries(u)
				if over := overLimit(ds, limits); over != "" {
					t.Errorf("%s: %s", u, over)
				}
				seen := map[string]int{}
				for _, d := range ds {
					seen[d.Content]++
					if seen[d.Content] == 2 {
						t.Errorf("%s got %s twice", u, d.Content)
					}
				}
				// First come, first served per user.
				for i := range ds {
					for j := i + 1; j < len(ds); j++ {
						a, z := ds[i].Content, ds[j].Content // a arrived before z
						if clean[a] && clean[z] && enqueued[z].Sub(enqueued[a]) <= -3*time.Second {
							t.Errorf("%s: %s arrived before %s, enqueued %s earlier", u, a, z, enqueued[a].Sub(enqueued[z]))
						}
					}
				}
			}
		})
	}
}
