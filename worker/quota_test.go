package worker_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/ratelimit"
	"github.com/msgdispatch/msgdispatch/worker"
)

// overLimit checks the simulator's receipt-time log of user against limits (the
// provider's own windows, without the dispatcher's margin) and returns the first
// window exceeded, or "".
func overLimit(ds []wecomsim.Delivery, limits []wecomsim.Limit) string {
	at := make([]time.Time, len(ds))
	for i, d := range ds {
		at[i] = d.At
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	for _, l := range limits {
		for i := l.Count; i < len(at); i++ {
			if at[i].Sub(at[i-l.Count]) < l.Window {
				return fmt.Sprintf("%d arrivals within %s (%s … %s)", l.Count+1, l.Window, at[i-l.Count].Format(time.StampMilli), at[i].Format(time.StampMilli))
			}
		}
	}
	return ""
}

// More messages to one user than a window allows: the extra ones are booked at
// their earliest legal slot and sent by follow-ups; WeCom drops nothing.
func TestQuotaBooksFollowUps(t *testing.T) {
	t.Parallel()
	limits := []wecomsim.Limit{{Count: 2, Window: time.Second}}
	b := setup(t, func(o *setupOpts) {
		o.appYAML = "    limits: {per_recipient: [{count: 2, window: 1s}], margin: 100ms}"
		o.simOptions.PerMemberLimits = limits
	})
	ids := make([]string, 6)
	for i := range ids {
		ids[i] = b.send(fmt.Sprintf("m%d", i), "zhangsan")
	}
	// Tasks run concurrently, in no set order: whichever come after the
	// first two wait (at least four of the six).
	ev := b.waitAnyEvent(func(e record.Event) bool { return slices.Contains(ids, e.MessageID) && e.Type == "waiting" })
	if !strings.Contains(ev.Detail, "quota") || !strings.Contains(ev.Detail, "window") {
		t.Errorf("a message waits because %q, want a quota window booking", ev.Detail)
	}
	followUps := 0
	for _, id := range ids {
		rec := b.waitFinished(id)
		if rec.State != record.Accepted || rec.Failures != 0 {
			t.Errorf("%s: state %s failures %d", id, rec.State, rec.Failures)
		}
		if rec.Generations > 1 {
			followUps++
		}
	}
	if followUps == 0 {
		t.Error("no message went through a follow-up")
	}
	if d := b.sim.Drops(); len(d) != 0 {
		t.Errorf("WeCom dropped %d messages", len(d))
	}
	if over := overLimit(b.sim.Deliveries("zhangsan"), limits); over != "" {
		t.Errorf("zhangsan: %s", over)
	}
	if n := len(b.sim.Deliveries("zhangsan")); n != 6 {
		t.Errorf("zhangsan got %d messages, want 6", n)
	}
}

// One message to three users, one of whom is at his limit: the other two get it
// now, he gets it from a follow-up at his slot; status shows him booked meanwhile.
func TestQuotaSplitsRecipients(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) {
		o.appYAML = "    limits: {per_recipient: [{count: 1, window: 2s}], margin: 100ms}"
		o.simOptions.PerMemberLimits = []wecomsim.Limit{{Count: 1, Window: 2 * time.Second}}
	})
	if rec := b.waitFinished(b.send("first", "zhangsan")); rec.State != record.Accepted {
		t.Fatal(rec.State)
	}
	id := b.send("to three", "zhangsan", "lisi", "wangwu")
	b.waitEvent(id, func(e record.Event) bool { return e.Type == "waiting" })
	if st, err := b.producer.Status(b.ctx, id); err != nil || len(st.Booked) != 1 || st.Booked[0].Recipient != "zhangsan" || st.Booked[0].Reason != "window" {
		t.Errorf("status while waiting: booked %+v (%v), want zhangsan for a window", st.Booked, err)
	}
	rec := b.waitFinished(id)
	if rec.State != record.Accepted || len(rec.Parts) != 2 || rec.Generations != 2 {
		t.Fatalf("state %s, %d parts, %d generations; want accepted in 2 parts over 2 generations", rec.State, len(rec.Parts), rec.Generations)
	}
	if got := rec.Parts[0].To.Users; !slices.Equal(got, []string{"lisi", "wangwu"}) {
		t.Errorf("first part to %v", got)
	}
	if got := rec.Parts[1].To.Users; !slices.Equal(got, []string{"zhangsan"}) {
		t.Errorf("follow-up part to %v", got)
	}
	if d := b.sim.Drops(); len(d) != 0 {
		t.Errorf("WeCom dropped %d", len(d))
	}
}

// Messages to a department count a configured size against the daily cap: once
// it is spent, the rest would wait for tomorrow, which is after their expiry.
func TestDailyCapCountsDepartments(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.appYAML = "    limits: {daily: 200, group_size: 10}" })
	b.sim.AddDept(testCorp, "7", "zhangsan", "lisi")
	ids := make([]string, 50)
	for i := range ids {
		id, err := b.producer.Send(b.ctx, providers.Message{App: testApp, To: providers.Recipients{Depts: []string{"7"}}, Kind: providers.KindText,
			Text: fmt.Sprintf("dept %d", i)}, producer.ExpiresAt(time.Now().Add(time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	var accepted, late int
	for _, id := range ids {
		rec := b.waitOutcomeOrDaily(id)
		switch {
		case rec.State == record.Accepted:
			accepted++
		case len(rec.Booked) == 1 && rec.Booked[0].Reason == "daily" || rec.State == record.Expired:
			late++
		default:
			t.Errorf("%s: state %s booked %+v late %+v", id, rec.State, rec.Booked, rec.Late)
		}
	}
	if accepted != 20 || late != 30 {
		t.Errorf("%d accepted, %d waiting for the next day; want 20 and 30 (200 person-times / 10 per department)", accepted, late)
	}
	lim, _ := ratelimit.New(b.rdb, ratelimit.Options{Default: &ratelimit.Policy{Daily: 200}})
	if used, err := lim.DailyUsed(b.ctx, testApp, testCorp, time.Now()); err != nil || used != 200 {
		t.Errorf("daily person-times used %d (%v), want 200", used, err)
	}
}

// waitOutcomeOrDaily waits until message id ends, or waits for a daily-cap slot.
func (b *testBundle) waitOutcomeOrDaily(id string) *record.Record {
	b.t.Helper()
	b.waitEvent(id, func(e record.Event) bool {
		return e.State.Terminal() || e.Type == "waiting" && strings.Contains(e.Detail, "daily")
	})
	return b.get(id)
}

// A request answered later than the margin after its admission may have reached
// WeCom outside the window reserved for it: it is counted (G1).
func TestLateArrivalCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.appYAML = "    limits: {margin: 100ms}" })
	if err := b.sim.Inject(wecomsim.Latency(300 * time.Millisecond).On(wecomsim.EndpointSend)); err != nil {
		t.Fatal(err)
	}
	if rec := b.waitFinished(b.send("slow", "zhangsan")); rec.State != record.Accepted {
		t.Fatal(rec.State)
	}
	if n, err := b.rdb.HGet(b.ctx, worker.MetricsKey(testApp), "late_arrivals").Int(); err != nil || n != 1 {
		t.Errorf("late_arrivals = %d (%v), want 1", n, err)
	}
	if rec := b.waitFinished(b.send("fast", "lisi")); rec.State != record.Accepted {
		t.Fatal(rec.State)
	}
	if n, _ := b.rdb.HGet(b.ctx, worker.MetricsKey(testApp), "late_arrivals").Int(); n != 1 {
		t.Errorf("late_arrivals = %d after a fast request, want still 1", n)
	}
}
