package worker_test

// The quota audit under faults for the WPS providers: the xiezuo and wps365
// counterpart of TestThreeWorkersUnderFaults.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/simkit"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

// auditLimits are the app's per-recipient limits scaled to seconds; the
// simulator audits receipt times against the same windows.
var auditLimits = []simkit.Limit{{Count: 10, Window: time.Second}, {Count: 20, Window: 5 * time.Second}}

// auditFaults are the drill's faults on the send endpoint: latency uniform in
// 0–2 s, 10% of answers lost after the message was applied, 5% HTTP 5xx
// (not applied).
func auditFaults(endpoint string) simkit.FaultRates {
	return simkit.FaultRates{Endpoints: []string{endpoint}, LostResponse: 0.10, ServerError: 0.05,
		Latency: 1, MinLatency: 0, MaxLatency: 2 * time.Second}
}

// auditSim is what the drill reads from either simulator.
type auditSim struct {
	// texts returns the texts user received, in arrival order.
	texts func(user string) []string
	// sends returns, of the requests to the send endpoint, how many there
	// were, how many had their answer lost and how many were answered 5xx.
	sends      func() (n, lost, serverErrors int)
	violations func() []simkit.Violation
	drops      func() []simkit.Violation
	peaks      func() []simkit.Peak
	addUsers   func(users ...string)
	// giveUpOn5xx: the client cannot tell a send's 5xx from a lost answer
	// (xiezuo: the gateway may have applied it), so a 5xx ends it unknown.
	giveUpOn5xx bool
}

// newAuditSim wires the drill to provider's simulator with the audit on
// (dropping what exceeds a window) and the fault rates set.
func newAuditSim(t *testing.T, provider string) (*wpsDrill, *auditSim) {
	t.Helper()
	limitsYAML := "    limits: {per_recipient: [{count: 10, window: 1s}, {count: 20, window: 5s}], margin: 2500ms}\n    on_unknown: give_up"
	d := setupWPSDrill(t, provider, func(o *wpsDrillOpts) {
		o.timeout = 90 * time.Second
		o.noWorker = true
		o.appYAML = limitsYAML
		o.xiezuo = xiezuosim.Options{Seed: 7, PerRecipientLimits: auditLimits, DropOverLimit: true}
		o.wps365 = wps365sim.Options{Seed: 7, PerRecipientLimits: auditLimits, DropOverLimit: true}
	})
	a := &auditSim{}
	switch {
	case d.xz != nil:
		sim := d.xz
		if err := sim.SetFaults(auditFaults(xiezuosim.EndpointSend)); err != nil {
			t.Fatal(err)
		}
		a.texts = func(u string) []string {
			var out []string
			for _, dl := range sim.Deliveries(u) {
				out = append(out, string(dl.Body))
			}
			return out
		}
		a.sends = func() (n, lost, serverErrors int) {
			for _, r := range sim.Requests() {
				if r.Endpoint != xiezuosim.EndpointSend {
					continue
				}
				n++
				if r.Lost {
					lost++
				}
				if r.HTTPStatus >= 500 {
					serverErrors++
				}
			}
			return n, lost, serverErrors
		}
		a.violations, a.drops, a.peaks = sim.Violations, sim.Drops, sim.AuditPeaks
		a.addUsers = func(users ...string) { sim.AddUsers(xzDrillCompany, users...) }
		a.giveUpOn5xx = true
	case d.w365 != nil:
		sim := d.w365
		if err := sim.SetFaults(auditFaults(wps365sim.EndpointCreate)); err != nil {
			t.Fatal(err)
		}
		a.texts = func(u string) []string {
			var out []string
			for _, dl := range sim.Deliveries(u) {
				out = append(out, string(dl.Content))
			}
			return out
		}
		a.sends = func() (n, lost, serverErrors int) {
			for _, r := range sim.RequestsTo(wps365sim.EndpointCreate) {
				n++
				if r.Lost {
					lost++
				}
				if r.Status >= 500 {
					serverErrors++
				}
			}
			return n, lost, serverErrors
		}
		a.violations, a.drops, a.peaks = sim.Violations, sim.Drops, sim.AuditPeaks
		a.addUsers = sim.AddUsers
	}
	return d, a
}

// auditText is the text of drill message i; auditTextRe finds it in what a
// simulator recorded.
func auditText(i int) string { return fmt.Sprintf("audit-m%03d", i) }

var auditTextRe = regexp.MustCompile(`audit-m\d{3}`)

// waitTerminal blocks on the app's events stream until every message of ids
// has reached a terminal state, and returns their records.
func (d *wpsDrill) waitTerminal(t *testing.T, ids []string) map[string]*record.Record {
	t.Helper()
	pending := map[string]bool{}
	for _, id := range ids {
		pending[id] = true
	}
	last := "0"
	for len(pending) > 0 {
		streams, err := d.rdb.XRead(d.ctx, &redis.XReadArgs{Streams: []string{record.EventsKey(wpsDrillApp), last}, Block: 2 * time.Second, Count: 500}).Result()
		if err != nil && err != redis.Nil {
			for id := range pending {
				rec, gerr := d.records.Get(d.ctx, wpsDrillApp, id)
				if gerr == nil {
					t.Fatalf("%d messages not terminal, e.g. %s %s (failures %d, wait %+v, last error %s): %v", len(pending), id, rec.State, rec.Failures, rec.Wait, rec.LastError, err)
				}
				t.Fatalf("%d messages not terminal, e.g. %s: %v", len(pending), id, err)
			}
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if record.State(fmt.Sprint(m.Values["state"])).Terminal() {
					delete(pending, fmt.Sprint(m.Values["message_id"]))
				}
			}
		}
	}
	out := map[string]*record.Record{}
	for _, id := range ids {
		rec, err := d.records.Get(d.ctx, wpsDrillApp, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		out[id] = rec
	}
	return out
}

// Three worker processes on one Redis, the provider's simulator auditing
// receipt times per (app, user) at the app's limits scaled to seconds (10/1s,
// 20/5s, margin 2.5 s) and dropping what would exceed a window, 0–2 s
// latency, 10% of answers lost after the message was applied and 5% HTTP 5xx
// on the send endpoint: 300 messages to 5 users, enqueued over 15 s. With
// give_up (the WPS default) every message ends accepted or unknown and none
// reaches its user twice; the audit finds no window exceeded and nothing
// dropped; nothing is archived.
func TestDrillQuotaAuditUnderFaultsWPS(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	for _, provider := range []string{"xiezuo", "wps365"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			d, sim := newAuditSim(t, provider)
			users := []string{"u1", "u2", "u3", "u4", "u5"}
			sim.addUsers(users...)
			for range 3 {
				d.bundle.startChild(0)
			}
			const n = 300
			ids := make([]string, n)
			for i := range ids {
				id, err := d.producer.Send(d.ctx, providers.Message{App: wpsDrillApp, To: providers.Recipients{Users: []string{users[i%len(users)]}},
					Kind: providers.KindText, Text: auditText(i)})
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = id
				time.Sleep(50 * time.Millisecond) // pacing the producer is the scenario, not a synchronisation
			}
			recs := d.waitTerminal(t, ids)

			states := map[record.State]int{}
			delivered := map[string]int{} // text → deliveries
			for _, u := range users {
				for _, body := range sim.texts(u) {
					text := auditTextRe.FindString(body)
					if text == "" {
						t.Fatalf("%s received %s, not a drill message", u, body)
					}
					if delivered[text]++; delivered[text] == 2 {
						t.Errorf("%s got %s twice", u, text)
					}
				}
			}
			twice := 0
			for i, id := range ids {
				rec, text := recs[id], auditText(i)
				states[rec.State]++
				switch {
				case rec.State != record.Accepted && rec.State != record.Unknown:
					t.Errorf("%s (%s): state %s (%s), want accepted or unknown", id, text, rec.State, rec.LastError)
				case rec.State == record.Accepted && delivered[text] != 1:
					t.Errorf("%s (%s) accepted but delivered %d times", id, text, delivered[text])
				}
				if delivered[text] > 1 {
					twice++
				}
			}
			sends, lost, serverErrors := sim.sends()
			// Each lost answer ends its message unknown, never re-sent; so does
			// a 5xx where the client cannot tell it from a lost answer (xiezuo).
			wantUnknown := lost
			if sim.giveUpOn5xx {
				wantUnknown += serverErrors
			}
			if states[record.Unknown] != wantUnknown {
				t.Errorf("%d unknown, want %d (%d lost answers, %d 5xx)", states[record.Unknown], wantUnknown, lost, serverErrors)
			}
			if a := d.archived(); a != 0 {
				t.Errorf("%d archived", a)
			}
			vs, drops := sim.violations(), sim.drops()
			if len(vs) != 0 {
				t.Errorf("%d deliveries over a window (first: %+v)", len(vs), vs[0])
			}
			var peaks []string
			for _, p := range sim.peaks() {
				peaks = append(peaks, p.String())
			}
			t.Logf("%s: %d messages to %d users from 3 worker processes: %d accepted, %d unknown, %d archived, %d delivered twice; "+
				"%d send requests: %d answers lost, %d 5xx; audit peaks %s; %d over a window, %d dropped",
				provider, n, len(users), states[record.Accepted], states[record.Unknown], d.archived(), twice,
				sends, lost, serverErrors, strings.Join(peaks, ", "), len(vs), len(drops))
		})
	}
}
