package worker_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// A peak minute set to "now": non-urgent work is moved past the window, urgent
// work goes at once.
func TestPeakMinuteNow(t *testing.T) {
	t.Parallel()
	now := time.Now()
	mark := now.Truncate(time.Minute)
	guard := now.Sub(mark) + 1500*time.Millisecond // the window ends 1.5 s from now
	if os.Getenv(redistest.EnvVar) == redistest.ClusterEnv {
		guard += 3 * time.Second // setup starts a Redis Cluster first (~2 s)
	}
	windowEnd := mark.Add(guard)
	b := setup(t, func(o *setupOpts) {
		o.peak = fmt.Sprintf("{enabled: true, minutes: [%d], guard: %dms, spread: 1s}", mark.Minute(), guard.Milliseconds())
	})
	bulk := b.send("bulk at the peak", "zhangsan")
	urgent, err := b.producer.Send(b.ctx, providers.Message{App: testApp, To: providers.Recipients{Users: []string{"lisi"}},
		Kind: providers.KindText, Text: "urgent at the peak"}, producer.Urgent())
	if err != nil {
		t.Fatal(err)
	}
	if rec := b.waitFinished(urgent); rec.State != record.Accepted {
		t.Fatalf("urgent: %s", rec.State)
	}
	if d := b.sim.Deliveries("lisi"); len(d) != 1 || !d[0].At.Before(windowEnd) {
		t.Errorf("urgent message arrived %v, want inside the peak window (before %s)", d, windowEnd.Format(time.StampMilli))
	}
	rec := b.waitFinished(bulk)
	if rec.State != record.Accepted || rec.Job.NotBefore.Before(windowEnd) || rec.Job.NotBefore.After(windowEnd.Add(time.Second)) {
		t.Fatalf("bulk: state %s, not_before %s; want moved into [window end, +spread) = [%s, +1s)", rec.State,
			rec.Job.NotBefore.Format(time.StampMilli), windowEnd.Format(time.StampMilli))
	}
	if d := b.sim.Deliveries("zhangsan"); len(d) != 1 || d[0].At.Before(windowEnd) {
		t.Errorf("bulk message arrived %v, want after the window end %s", d, windowEnd.Format(time.StampMilli))
	}
}

// The provider is down for a while: the breaker bounds the calls made during the
// outage; after recovery everything is accepted, nothing archived, no budget spent.
func TestBreakerBoundsCallsDuringOutage(t *testing.T) {
	t.Parallel()
	const n = 20
	b := setup(t, func(o *setupOpts) { o.workerYAML = "  breaker: {failures: 3, timeout: 1s}" })
	// Down: every send answers 503 with Retry-After 1 s (throttling: a deferral).
	if err := b.sim.Inject(wecomsim.HTTPStatus(503, time.Second).On(wecomsim.EndpointSend).Times(-1)); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.send(fmt.Sprintf("during the outage %d", i), "zhangsan")
	}
	if err := b.sim.WaitRequests(b.ctx, wecomsim.EndpointSend, 3); err != nil {
		t.Fatal(err)
	}
	// The outage itself: the condition under test, not a synchronisation.
	const outage = 4 * time.Second
	time.Sleep(outage)
	during := len(b.sim.RequestsTo(wecomsim.EndpointSend))
	b.sim.ClearFaults()
	// Without a breaker every message would retry each second: ~n×4 calls.
	// With it: the first wave (≤ concurrency 10), then one probe per timeout.
	if limit := 10 + int(outage/time.Second) + 2; during > limit {
		t.Errorf("%d calls during a %s outage, want at most %d", during, outage, limit)
	}
	for _, id := range ids {
		if rec := b.waitFinished(id); rec.State != record.Accepted || rec.Failures != 0 {
			t.Errorf("%s: state %s failures %d", id, rec.State, rec.Failures)
		}
	}
	if a := b.archived(); len(a) != 0 {
		t.Errorf("%d archived", len(a))
	}
	if got := len(b.sim.Deliveries("zhangsan")); got != n {
		t.Errorf("%d deliveries, want %d", got, n)
	}
	t.Logf("%d calls during the %s outage for %d messages", during, outage, n)
}

// At most limits.concurrency requests are in flight to the company at once,
// however many tasks run: WeCom would answer 45033 beyond its per-company limit.
func TestCompanyConcurrencyLimit(t *testing.T) {
	t.Parallel()
	const n = 12
	b := setup(t, func(o *setupOpts) {
		o.appYAML = "    limits: {concurrency: 2}"
		o.simOptions.MaxConcurrentPerCorp = 2 // beyond 2, the simulator answers 45033
	})
	if err := b.sim.Inject(wecomsim.LatencyBetween(50*time.Millisecond, 150*time.Millisecond).On(wecomsim.EndpointSend).Times(n)); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.send(fmt.Sprintf("m%d", i), "zhangsan")
	}
	for _, id := range ids {
		if rec := b.waitFinished(id); rec.State != record.Accepted {
			t.Errorf("%s: %s", id, rec.State)
		}
	}
	if _, peak := b.sim.Concurrency(testCorp, wecomsim.EndpointSend); peak > 2 {
		t.Errorf("%d requests in flight at once, want at most 2", peak)
	}
	for _, r := range b.sim.RequestsTo(wecomsim.EndpointSend) {
		if r.ErrCode == 45033 {
			t.Error("the simulator answered 45033")
		}
	}
}
