package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// A message's first run skips the read of its record, tombstone, pauses and
// newest update (the first round trip of load): it assumes the record as its
// producer wrote it — the task's payload holds it (record.Assumed) — and
// checks that assumption in its first write, the begin of its first part,
// which also takes the company's semaphore slot (record.BeginFirst). A
// single-recipient message then costs the worker two round trips beyond
// asynq's, begin and settle, with quotas or without: a first run's admission
// goes in its begin's pipeline (admitWithBegin). Any other write of the assumed
// record is refused (record.ErrAssumed) before it reaches Redis, and the run
// starts again from a real read: a run that would defer, fail, be cancelled
// or find an update enqueued before it reads first, as every later run does.
//
// Only where one script may touch the record and the semaphore (not on Redis
// Cluster, whose slots differ), for a generation-0 task asynq runs for the
// first time, due now, of a job that says when it was created.

// mayAssume reports whether a run may assume its record: the task's first
// run, on a Redis where one script may take the semaphore slot.
func (w *Worker) mayAssume(ctx context.Context) bool {
	n, ok := asynq.GetRetryCount(ctx)
	return w.oneSlot && ok && n == 0
}

// assume makes r a first run on its record as the producer wrote it, with
// nothing found that load would have read, if its job allows it.
func (w *Worker) assume(r *sendRun, payload []byte) bool {
	j := r.j
	now := w.now()
	if j.Collapse != nil || j.NotBefore.After(now) {
		return false
	}
	rec, ok := record.Assumed(j, payload)
	if !ok {
		return false
	}
	rec.Runs++
	r.rec, r.now = rec, now
	r.getTomb = func() (*record.Tombstone, error) { return nil, nil }
	r.getPause = func() (*appstate.Pause, error) { return nil, nil }
	r.getNewest = func() (int64, *record.Content, error) { return 0, nil, nil }
	return true
}

// firstRun is what BeginFirst checks for j's message, and the slot it takes.
func (w *Worker) firstRun(j *job.Send, prov providers.Provider) (record.FirstRun, error) {
	key, limit, lease := w.semaphoreOf(j, prov)
	slot, err := w.sem.Candidate(key)
	if err != nil {
		return record.FirstRun{}, err
	}
	absent := append(appstate.PauseKeys(j.Message.App, j.Message.Tenant), record.UpdateKey(j.Message.App, j.ID))
	return record.FirstRun{Absent: absent, Slot: slot, Limit: limit, Lease: lease}, nil
}

// admitWithBegin prepares the admission of a first run's recipients to run
// in the round trip of its first begin, all of them expected to be charged
// now (the parts are rendered so, and the begin's ledger step refuses a
// recipient that was not): a message to users only, with quotas. It reports
// false when the run is to admit now, as later runs do.
func (w *Worker) admitWithBegin(r *sendRun) (bool, error) {
	j := r.j
	to := j.Message.To
	if !r.rec.IsAssumed() || !w.quotaOn(j.Message.App) || len(to.Users) == 0 ||
		len(to.Depts)+len(to.Tags)+len(to.Chats) > 0 || to.All {
		return false, nil
	}
	req, _ := w.admission(j)
	call, ok, err := w.quota.PrepareAdmit(req)
	if err != nil {
		return false, fmt.Errorf("message %s: quota: %w", j.ID, err)
	}
	if !ok {
		return false, nil
	}
	r.admit = call
	r.rec.Generations = j.Generation + 1
	return true, nil
}

// beginFirst runs the first begin of r's assumed record (record.BeginFirst)
// and, in the same round trip before it, the admission admitWithBegin
// prepared. With the slot taken, req holds it.
func (w *Worker) beginFirst(ctx context.Context, r *sendRun, i int, ledger *ratelimit.LedgerCall, req *inFlight) (any, error) {
	first, err := w.firstRun(r.j, r.prov)
	if err != nil {
		return nil, err
	}
	call, err := w.records.PrepareBeginFirst(r.rec, i, ledger, first)
	if err != nil {
		return nil, err
	}
	perr := w.pipelined(context.WithoutCancel(ctx), func(p redis.Pipeliner) error {
		if r.admit != nil {
			r.admit.Queue(ctx, p)
		}
		call.Queue(ctx, p)
		return nil
	})
	if r.admit != nil {
		if _, err := r.admit.Decision(); err != nil {
			return nil, errors.Join(err, perr)
		}
		r.admit = nil
	}
	reply, err := call.Result()
	if err != nil {
		return reply, err
	}
	req.lease = first.Slot
	return reply, nil
}
