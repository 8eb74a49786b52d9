package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// A first run assumes its record as the producer wrote it and reads nothing;
// when the record changes between that assumption and the first begin (here,
// from a gate, which runs in between), the begin writes nothing and the run
// reads the record and starts again: a cancel ends the message with nothing
// sent, an update enqueued meanwhile is what the send renders.
func TestFirstRunFallsBackWhenTheRecordChanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		change func(b *testBundle, id string)
		check  func(t *testing.T, b *testBundle, id string, rec *record.Record)
		// runs through the gates: the run on the record as read stops
		// before them when the message is cancelled.
		runs int32
	}{
		{
			desc: "cancelled",
			runs: 1,
			change: func(b *testBundle, id string) { // what producer.Cancel writes first
				if _, _, err := record.NewStore(b.rdb).PutTombstone(b.ctx, testApp, id, record.Tombstone{Reason: "test", At: time.Now()}, time.Hour); err != nil {
					b.t.Error(err)
				}
			},
			check: func(t *testing.T, b *testBundle, id string, rec *record.Record) {
				if rec.State != record.Cancelled {
					t.Errorf("state %s (%s), want cancelled", rec.State, rec.Reason)
				}
				if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)); n != 0 {
					t.Errorf("%d sends after the cancel, want 0", n)
				}
			},
		},
		{
			desc:   "updated",
			runs:   2,
			change: func(b *testBundle, id string) { b.update(id, "v1") },
			check: func(t *testing.T, b *testBundle, id string, rec *record.Record) {
				if rec.State != record.Accepted {
					t.Errorf("state %s (%s), want accepted", rec.State, rec.Reason)
				}
				if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)); n != 1 {
					t.Errorf("%d sends, want 1", n)
				}
				if got := b.titleOf(id, "zhangsan"); got != "v1" {
					t.Errorf("zhangsan sees %q, want the update enqueued before the send, v1", got)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int32
			var b *testBundle
			var id atomic.Value
			change := worker.GateFunc(func(_ context.Context, a *worker.Attempt) error {
				if runs.Add(1) == 1 {
					if !a.Record.IsAssumed() {
						t.Error("the first run read its record")
					}
					tc.change(b, id.Load().(string))
				}
				return nil
			})
			b = setup(t, func(o *setupOpts) { o.noWorker = true })
			id.Store(b.sendCard("v0", "zhangsan"))
			b.worker = b.startWorker(change)
			rec := b.waitFinished(id.Load().(string))
			tc.check(t, b, id.Load().(string), rec)
			if n := runs.Load(); n != tc.runs {
				t.Errorf("%d runs through the gates, want %d", n, tc.runs)
			}
		})
	}
}
