package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/kv"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// An update whose content cannot apply (stored without the producer's check,
// as an older producer did) ends failed with the reason and consumes nothing:
// the send's response code is still there for the next valid update.
func TestRefusedUpdateContentKeepsTheSendsCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.sendCard("v0", "zhangsan")
	b.waitFinished(id)
	seq, _, err := b.records.PutUpdate(b.ctx, testApp, id, &record.Content{Kind: providers.KindText, Text: "now plain text"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := (&job.Ref{ID: id, App: testApp}).Marshal()
	if _, err := asynq.NewClientFromRedisClient(b.rdb).EnqueueContext(b.ctx, asynq.NewTask(job.TypeUpdate, payload),
		asynq.TaskID(job.UpdateTaskID(id)), asynq.Queue(job.QueueDefault)); err != nil {
		t.Fatal(err)
	}
	b.waitUpdateState(id, seq, record.UpdateFailed, record.UpdateUnreachable, record.UpdateApplied)
	st := b.status(id)
	if e := historyState(st, seq); e != record.UpdateFailed {
		t.Errorf("update %d is %q, want failed", seq, e)
	}
	if _, err := kv.New(b.rdb, testApp).Get(b.ctx, wecom.UsedCodeKey(id, 0, 0)); !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("consumed mark: %v after an update that never left, want none", err)
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointUpdate)); n != 0 {
		t.Errorf("%d update requests, want 0", n)
	}
	next := b.update(id, "v2")
	b.waitUpdate(id, next)
	if got := historyState(b.status(id), next); got != record.UpdateApplied {
		t.Errorf("update %d is %q, want applied", next, got)
	}
	if got := b.titleOf(id, "zhangsan"); got != "v2" {
		t.Errorf("zhangsan sees %q, want v2", got)
	}
}

// An update of a queued message that is then cancelled ends failed with the
// reason, as the README promises.
func TestCancelEndsPendingUpdates(t *testing.T) {
	t.Parallel()
	hold := worker.GateFunc(func(_ context.Context, a *worker.Attempt) error { return worker.Defer(time.Minute, "test: hold") })
	b := setup(t, func(o *setupOpts) { o.gates = []worker.Gate{hold} })
	id := b.sendCard("v0", "zhangsan")
	b.waitEvent(id, func(e record.Event) bool { return e.State == record.Waiting })
	if seq := b.update(id, "v1"); seq != 1 {
		t.Fatalf("seq %d", seq)
	}
	b.waitTaskGone(job.UpdateTaskID(id)) // it ran and left update 1 to the send
	if _, err := b.producer.Cancel(b.ctx, id); err != nil {
		t.Fatal(err)
	}
	st := b.status(id)
	if st.Updates == nil || len(st.Updates.History) != 1 {
		t.Fatalf("updates %+v, want one entry", st.Updates)
	}
	e := st.Updates.History[0]
	if e.State != record.UpdateFailed || !strings.Contains(e.Reason, "cancelled") {
		t.Errorf("update 1: %+v, want failed naming the cancel", e)
	}
}

// recipients[u].seq is what the user sees: after update 1 was applied and
// two later updates were unreachable, it stays 1.
func TestUnreachableUpdatesKeepTheSeqTheUserSees(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.sendCard("v0", "zhangsan")
	b.waitFinished(id)
	b.waitUpdate(id, b.update(id, "v1")) // the send's code
	for _, title := range []string{"v2", "v3"} {
		b.waitUpdate(id, b.update(id, title)) // no code left
	}
	r := b.status(id).Updates.Recipients["zhangsan"]
	if r.Seq != 1 || r.State != record.RecipientUnreachable {
		t.Errorf("zhangsan: %+v, want seq 1 (update_unreachable)", r)
	}
	if got := b.titleOf(id, "zhangsan"); got != "v1" {
		t.Errorf("zhangsan sees %q, want v1", got)
	}
}

// waitTaskGone polls until asynq task tid is in no queue (it ran and, with no
// retention, was removed); asynq offers no signal for that.
func (b *testBundle) waitTaskGone(tid string) {
	b.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for b.taskState(tid) != 0 {
		select {
		case <-tick.C:
		case <-b.ctx.Done():
			b.t.Fatalf("task %s still %s", tid, stateName(b.taskState(tid)))
		}
	}
}
