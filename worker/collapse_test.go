package worker_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// stormLimits are WeCom's 30/min scaled to a second: 3 per 1s.
var stormLimits = []wecomsim.Limit{{Count: 3, Window: time.Second}}

func withStormQuota(o *setupOpts) {
	o.appYAML = "    limits: {per_recipient: [{count: 3, window: 1s}], margin: 100ms}"
	o.simOptions.PerMemberLimits = stormLimits
}

// storm sends n messages "storm <i>" with collapse key k to zhangsan, as
// fast as the producer goes, and returns their ids in order.
func (b *testBundle) storm(n int, key string, opts ...producer.SendOption) []string {
	b.t.Helper()
	return b.stormFrom(0, n, key, opts...)
}

// stormFrom is storm numbering its messages from first: a second storm in
// the same test must not repeat the first one's texts, which WeCom's
// duplicate check (on by default) would answer without delivering.
func (b *testBundle) stormFrom(first, n int, key string, opts ...producer.SendOption) []string {
	b.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, err := b.producer.Send(b.ctx, providers.Message{App: testApp, To: providers.Recipients{Users: []string{"zhangsan"}},
			Kind: providers.KindText, Text: fmt.Sprintf("storm %d", first+i)}, append([]producer.SendOption{producer.CollapseKey(key)}, opts...)...)
		if err != nil {
			b.t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

// waitAllFinished follows the event stream until every id has reached a
// terminal state, and returns their records.
func (b *testBundle) waitAllFinished(ids []string) map[string]*record.Record {
	b.t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	last := "0"
	for len(want) > 0 {
		streams, err := b.rdb.XRead(b.ctx, &redis.XReadArgs{Streams: []string{record.EventsKey(testApp), last}, Block: 2 * time.Second, Count: 500}).Result()
		if err != nil && err != redis.Nil {
			b.t.Fatalf("waiting for %d messages to finish: %v", len(want), err)
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if record.State(fmt.Sprint(m.Values["state"])).Terminal() {
					delete(want, fmt.Sprint(m.Values["message_id"]))
				}
			}
		}
	}
	out := map[string]*record.Record{}
	for _, id := range ids {
		out[id] = b.get(id)
	}
	return out
}

// checkStorm checks the outcome of a storm of ids: WeCom dropped nothing and
// no window was exceeded; zhangsan got the newest message last and never an
// older one after a newer one; every message was either accepted or
// superseded by a newer message it names; no superseded message arrived.
// It returns how many messages zhangsan received.
func (b *testBundle) checkStorm(ids []string, recs map[string]*record.Record) int {
	b.t.Helper()
	t := b.t
	if d := b.sim.Drops(); len(d) != 0 {
		t.Errorf("WeCom dropped %d messages", len(d))
	}
	ds := b.sim.Deliveries("zhangsan")
	if over := overLimit(ds, stormLimits); over != "" {
		t.Errorf("zhangsan: %s", over)
	}
	got := make([]int, len(ds))
	for i, d := range ds {
		n, err := strconv.Atoi(strings.TrimPrefix(d.Content, "storm "))
		if err != nil {
			t.Fatalf("delivery %q: %v", d.Content, err)
		}
		got[i] = n
		if i > 0 && n <= got[i-1] {
			t.Errorf("zhangsan got storm %d at %s after storm %d at %s", n, d.At.Format(time.StampMicro), got[i-1], ds[i-1].At.Format(time.StampMicro))
			for _, k := range []int{n, got[i-1]} {
				if rec := b.get(ids[k]); len(rec.Parts) > 0 {
					t.Logf("storm %d: created %s runs %d gen %d part gen %d sent %s", k, rec.CreatedAt.Format(time.StampMicro), rec.Runs, rec.Generations, rec.Parts[0].Generation, rec.Parts[0].SentAt.Format(time.StampMicro))
				}
			}
		}
	}
	if len(got) == 0 || got[len(got)-1] != len(ids)-1 {
		t.Errorf("zhangsan received %v, want the newest (storm %d) last", got, len(ids)-1)
	}
	delivered := map[int]bool{}
	for _, n := range got {
		delivered[n] = true
	}
	accepted, superseded := 0, 0
	for i, id := range ids {
		rec := recs[id]
		switch rec.State {
		case record.Accepted:
			accepted++
			if !delivered[i] {
				t.Errorf("%s (storm %d) accepted but not received", id, i)
			}
		case record.Superseded:
			superseded++
			if delivered[i] {
				t.Errorf("%s (storm %d) superseded but received", id, i)
			}
			if len(rec.Superseded) != 1 || rec.Superseded[0].Recipient != "zhangsan" || rec.Superseded[0].SupersededBy <= id || recs[rec.Superseded[0].SupersededBy] == nil {
				t.Errorf("%s: superseded %+v, want zhangsan superseded by a newer message of the storm", id, rec.Superseded)
			}
		default:
			t.Errorf("%s (storm %d): state %s (%s)", id, i, rec.State, rec.Reason)
		}
	}
	if accepted != len(got) || accepted+superseded != len(ids) {
		t.Errorf("%d accepted, %d superseded, %d received of %d", accepted, superseded, len(got), len(ids))
	}
	return len(got)
}

// 200 alerts with one collapse key to one user under 3 per 1s (WeCom's
// 30/min scaled): the user gets a few, in order, the newest last; the others
// are superseded, each naming its successor; WeCom drops nothing.
func TestCollapseStorm(t *testing.T) {
	t.Parallel()
	b := setup(t, withStormQuota)
	start := time.Now()
	ids := b.storm(200, "disk-full")
	recs := b.waitAllFinished(ids)
	n := b.checkStorm(ids, recs)
	t.Logf("storm of %d: zhangsan received %d in %s", len(ids), n, time.Since(start).Round(time.Millisecond))
	if n >= len(ids)/2 {
		t.Errorf("zhangsan received %d of %d: nothing was collapsed", n, len(ids))
	}
}

// The same storm with the worker SIGKILLed in the middle: the re-runs send
// no superseded message, and everything else holds.
func TestCollapseStormWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's crash recovery (60-120 s)")
	}
	t.Parallel()
	b := setup(t, func(o *setupOpts) { withStormQuota(o); o.noWorker = true })
	child := b.startChild(0)
	ids := b.storm(100, "disk-full")
	if err := b.sim.WaitFor(b.ctx, func() bool { return len(b.sim.Deliveries("zhangsan")) >= 2 }); err != nil {
		t.Fatal("the child never sent:", err)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	ids = append(ids, b.stormFrom(len(ids), 100, "disk-full")...)
	b.worker = b.startWorker()
	recs := b.waitAllFinished(ids)
	n := b.checkStorm(ids, recs)
	t.Logf("storm of %d with a SIGKILL: zhangsan received %d", len(ids), n)
}

// Digest mode: the message that goes out says how many it replaced.
func TestCollapseDigestLine(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) {
		// a margin wide enough for a request that reaches the simulator late
		// on a loaded machine (-race: the second message was seen dropped
		// by the simulator's per-member window with 100ms)
		o.appYAML = "    limits: {per_recipient: [{count: 1, window: 1s}], margin: 500ms}"
		o.simOptions.PerMemberLimits = []wecomsim.Limit{{Count: 1, Window: time.Second}}
	})
	var ids []string
	for range 5 { // one at a time: each admitted before the next is sent
		id := b.storm(1, "cpu", producer.CollapseDigest("+{{count}} more, last: {{last_text}}"))[0]
		b.waitEvent(id, func(e record.Event) bool { return e.Type == "waiting" || e.State.Terminal() })
		ids = append(ids, id)
	}
	b.waitAllFinished(ids)
	ds := b.sim.Deliveries("zhangsan")
	if len(ds) != 2 {
		t.Fatalf("zhangsan received %d messages, want 2 (the first, then the newest with a digest); the simulator dropped %d", len(ds), len(b.sim.Drops()))
	}
	if want := "storm 0\n+3 more, last: storm 0"; ds[1].Content != want {
		t.Errorf("second message %q, want %q", ds[1].Content, want)
	}
}
