package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/metrics"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// sendRun is one run of a send task as it goes through the pipeline.
type sendRun struct {
	j    *job.Send
	prov providers.Provider
	rec  *record.Record
	now  time.Time
	// getTomb, getPause and getNewest read what the first round trip fetched.
	getTomb   func() (*record.Tombstone, error)
	getPause  func() (*appstate.Pause, error)
	getNewest func() (int64, *record.Content, error)
	// held is the company slot taken with the first read, until a request
	// uses it; a slot not used is given back when the run ends.
	held *ratelimit.Lease
	// admittedAt is when this run's quota decision was made (zero: not in
	// this run).
	admittedAt time.Time
	// admit is the admission of a first run's recipients, all expected to be
	// charged now, to run with its first begin (first_run.go).
	admit *ratelimit.AdmitCall
	// lastClass is the class of this run's last failed request ("" if none).
	lastClass string
}

// sendStep is one step of the pipeline: end reports whether the run ends
// here, with err what the handler returns.
type sendStep func(ctx context.Context, r *sendRun) (end bool, err error)

// releaseSlot gives back the company slot the run did not use.
func (r *sendRun) releaseSlot(ctx context.Context) {
	if r.held != nil {
		r.held.Release(context.WithoutCancel(ctx))
	}
}

// load decodes the task and — unless assume and the run may assume its record
// as the producer wrote it (first_run.go) — reads, in one round trip, the record, the
// tombstone, the app's pauses and the newest update content (all under the
// app's hash tag) and, unless the task started early, takes a slot of the
// company's semaphore for the first request (another slot, pipelined, not
// atomic). A nil run means the handler returns err at once: an undecodable
// payload is archived with the reason, an app this worker does not know
// waits, a finished message has nothing to do.
func (w *Worker) load(ctx context.Context, t *asynq.Task, assume bool) (*sendRun, error) {
	j, err := job.DecodeSend(t.Payload())
	if errors.Is(err, job.ErrNewerPayload) { // lose nothing while workers are upgraded
		return nil, Defer(time.Minute, err.Error()+": upgrade this worker")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	prov, ok := w.providers[j.Message.App]
	if !ok {
		// A newer producer may know an app this worker's config does not yet.
		return nil, w.deferRun(ctx, nil, j, time.Minute, fmt.Sprintf("app %q is not configured on this worker", j.Message.App))
	}
	r := &sendRun{j: j, prov: prov}
	if assume && w.assume(r, t.Payload()) {
		return r, nil
	}
	var (
		getRec   func() (*record.Record, error)
		getLease func() (*ratelimit.Lease, error)
	)
	early := j.NotBefore.After(w.now())
	if err := w.pipelined(ctx, func(p redis.Pipeliner) error {
		getRec = w.records.QueueGetKnown(ctx, p, j.Message.App, j.ID, j, t.Payload())
		r.getTomb = w.records.QueueTombstone(ctx, p, j.Message.App, j.ID)
		r.getPause = w.apps.QueuePaused(ctx, p, j.Message.App, j.Message.Tenant)
		r.getNewest = w.records.QueueNewest(ctx, p, j.Message.App, j.ID)
		if !early {
			key, limit, lease := w.semaphoreOf(j, prov)
			getLease = w.sem.QueueAcquire(ctx, p, key, limit, lease)
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) { // a missing tombstone is redis.Nil
		return nil, fmt.Errorf("message %s: read state: %w", j.ID, err)
	}
	if getLease != nil {
		r.held, _ = getLease() // none (full, or an error): beforeRequest tries again
	}
	rec, err := getRec()
	switch {
	case errors.Is(err, record.ErrNotFound):
		err = fmt.Errorf("message %s: no delivery record (expired or never written): %w", j.ID, asynq.SkipRetry)
	case err == nil && rec.State.Terminal():
		// a repeated run of a finished message: nothing to do
	case err == nil:
		rec.Runs++
		r.rec, r.now = rec, w.now()
		return r, nil
	}
	r.releaseSlot(ctx)
	return nil, err
}

// waitUntilDue waits for a task that started before its time: asynq
// schedules to the second, so a task (a quota follow-up above all) may start
// up to a second early. Rather than book yet another generation, a short
// wait is taken here; a longer one defers.
func (w *Worker) waitUntilDue(ctx context.Context, r *sendRun) (bool, error) {
	early := r.j.NotBefore.Sub(r.now)
	if early <= 0 {
		return false, nil
	}
	if early > 2*time.Second {
		return true, w.deferRun(ctx, r.rec, r.j, early, "not before "+r.j.NotBefore.Format(time.RFC3339Nano))
	}
	t := time.NewTimer(early)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return true, Defer(early, "worker shutting down")
	}
	r.now = w.now()
	return false, nil
}

// stopChecks ends a run whose message is cancelled (the tombstone is checked
// again, atomically, when each part is marked sending) or expired, and
// defers one whose app or tenant is paused because credentials or
// authorisation are broken (G7).
func (w *Worker) stopChecks(ctx context.Context, r *sendRun) (bool, error) {
	if tomb, err := r.getTomb(); err != nil {
		return true, err
	} else if tomb != nil {
		return true, w.endCancelled(ctx, r.rec, r.j)
	}
	if !r.now.Before(r.j.ExpiresAt) {
		return true, w.finish(ctx, r.rec, r.now, "expired before it could be sent")
	}
	if p, err := r.getPause(); err != nil {
		return true, err
	} else if p != nil {
		return true, w.deferRun(ctx, r.rec, r.j, p.Until.Sub(r.now), "app paused: "+p.Reason)
	}
	return false, nil
}

// runGates runs the admission gates: peak minutes, the breaker, then the
// caller's own. A refusal defers the run.
func (w *Worker) runGates(ctx context.Context, r *sendRun) (bool, error) {
	a := &Attempt{Job: r.j, Record: r.rec, Now: r.now}
	for _, g := range w.gates {
		if err := g.Admit(ctx, a); err != nil {
			var d *DeferError
			if errors.As(err, &d) {
				return true, w.deferRun(ctx, r.rec, r.j, d.For, d.Reason)
			}
			return true, fmt.Errorf("message %s: admission: %w", r.j.ID, err)
		}
	}
	return false, nil
}

// recoverCrashed handles a part still marked sending, left by a run that
// crashed mid-request: it may have been applied. That costs budget (G3) and
// freezes its bytes (G2).
func (w *Worker) recoverCrashed(ctx context.Context, r *sendRun) (bool, error) {
	if crashed := w.recoverUnfinished(r.rec, r.prov, r.now); crashed && r.rec.Failures >= w.cfg.Worker.FailureBudget {
		w.giveUp(r.rec, "failure budget spent: the worker crashed during an attempt")
		return true, w.finish(ctx, r.rec, r.now, "")
	}
	return false, nil
}

// admitAndRender decides this generation's recipients once — charged now, or
// booked at their earliest legal slot for a follow-up — and renders the
// parts of those charged now, with the newest update content, into the
// record. Every later attempt re-sends these bytes.
func (w *Worker) admitAndRender(ctx context.Context, r *sendRun) (bool, error) {
	rec, j := r.rec, r.j
	if rec.Generations > j.Generation {
		return false, nil // decided by an earlier run
	}
	nsup := len(rec.Superseded)
	var (
		to      providers.Recipients
		digests map[string]ratelimit.Digest
	)
	if ok, err := w.admitWithBegin(r); err != nil {
		return true, err
	} else if ok { // expected to charge everybody now; checked by the ledger in begin
		to = j.Message.To
	} else if to, _, digests, err = w.admitNew(ctx, rec, j); err != nil {
		return true, err
	}
	r.admittedAt = w.now()
	if len(rec.Superseded) > nsup { // recipients a newer message of the collapse key claimed
		if err := w.save(ctx, rec, "superseded", supersededDetail(rec.Superseded[nsup:])); err != nil {
			return true, err
		}
	}
	if to.Empty() {
		return false, nil
	}
	msg := j.Message
	msg.To = to
	seq, err := w.newestContent(r.getNewest, r.prov.Capabilities(), &msg) // updates enqueued before the send
	if err != nil {
		return true, err
	}
	parts, err := w.prepareDigests(ctx, r.prov, &msg, j, digests)
	if err != nil {
		return true, w.prepareFailed(ctx, rec, j, err)
	}
	if r.admit != nil && len(parts) != 1 { // the ledger checks only the first part's recipients
		return true, fmt.Errorf("message %s: %d parts to admit: %w", j.ID, len(parts), record.ErrAssumed)
	}
	if err := w.indexRefs(ctx, rec, parts); err != nil {
		return true, err
	}
	offset := len(rec.Parts)
	for _, p := range parts {
		p.Index += offset
		rec.Parts = append(rec.Parts, record.Part{Part: p, Generation: j.Generation, State: record.PartPending, ContentSeq: seq})
	}
	w.markRendered(ctx, rec, seq)
	return false, nil
}

// sendParts sends every pending part of this generation, each under its own
// deadline, and records its outcome.
func (w *Worker) sendParts(ctx context.Context, r *sendRun) (bool, error) {
	for i := range r.rec.Parts {
		p := &r.rec.Parts[i]
		if p.State != record.PartPending || p.Generation != r.j.Generation {
			continue
		}
		if ctx.Err() != nil { // shutting down: the rest runs after the restart
			return true, w.deferRun(ctx, r.rec, r.j, 0, "worker shut down between parts")
		}
		if end, err := w.sendPart(ctx, r, i); end {
			return true, err
		}
	}
	return false, nil
}

// sendPart sends part i: re-admits it when its admission is older than half
// the margin, takes the process's rate, the breaker and a company slot, marks
// it sending (begin, atomically with the tombstone check and the ledger),
// sends it and settles its outcome.
func (w *Worker) sendPart(ctx context.Context, r *sendRun, i int) (bool, error) {
	rec, j, p := r.rec, r.j, &r.rec.Parts[i]
	admitted := r.admittedAt
	halfMargin := w.cfg.Apps[j.Message.App].Limits.Margin / 2
	if w.quotaOn(j.Message.App) && (p.Attempts > 0 || r.admittedAt.IsZero() || w.now().Sub(r.admittedAt) > halfMargin) {
		if err := w.readmitPart(ctx, j, p); errors.Is(err, errPartDone) {
			return false, nil
		} else if err != nil {
			return true, w.asDefer(ctx, rec, j, err)
		}
		admitted = w.now()
	}
	req, err := w.beforeRequest(ctx, r)
	if err != nil {
		return true, w.asDefer(ctx, rec, j, err)
	}
	if err := w.begin(ctx, r, i, req); err != nil { // nothing was written
		req.end(ctx, context.Canceled)
		if errors.Is(err, record.ErrCancelled) { // the tombstone came first: nothing leaves
			return true, w.endCancelled(ctx, rec, j)
		}
		return true, w.asDefer(ctx, rec, j, err) // else asynq retries the run, no budget spent
	}
	sent := time.Now()
	res, err := w.send(ctx, r.prov, p)
	w.metrics.Request(j.Message.App, requestClass(err), time.Since(sent))
	w.countLateArrival(ctx, j.Message.App, admitted)
	if err == nil {
		p.State, p.Result, p.Error = record.PartAccepted, res, ""
		if finished, err := w.settleAccepted(ctx, rec, j, i, req); finished || err != nil {
			return true, err
		}
		return false, nil
	}
	req.end(ctx, err)
	r.lastClass = providers.ClassOf(err).String()
	if lerr := w.settleLedger(ctx, j, p, err); lerr != nil {
		w.log.Warn("quota ledger not updated; the next run repairs it", "message", j.ID, "err", lerr)
	}
	if stop, err := w.failed(ctx, rec, j, p, r.prov, res, err); stop {
		return true, err
	}
	return false, nil
}

// bookFollowUp hands the recipients booked for later to the next
// generation's task and leaves the message waiting until the first slot.
func (w *Worker) bookFollowUp(ctx context.Context, r *sendRun) (bool, error) {
	rec := r.rec
	if len(rec.Booked) == 0 {
		return false, nil
	}
	if rec.IsAssumed() { // confirm the record before enqueueing anything
		return true, fmt.Errorf("message %s: book a follow-up: %w", rec.ID, record.ErrAssumed)
	}
	if err := w.enqueueFollowUp(ctx, rec, r.j); err != nil {
		return true, err
	}
	next := slices.MinFunc(rec.Booked, func(a, b record.Booking) int { return a.At.Compare(b.At) })
	reason := fmt.Sprintf("quota: %d recipients booked for later, the next at %s (%s)", len(rec.Booked), next.At.Format(time.RFC3339Nano), next.Reason)
	rec.State, rec.Wait, rec.UpdatedAt = record.Waiting, &record.Wait{Reason: reason, Until: next.At}, w.now()
	w.metrics.Deferred(r.j.Message.App, metrics.ReasonQuota)
	// The follow-up may be due at once and may have run already: its writes
	// are newer than this one, which then writes nothing.
	saved, err := w.records.SaveUnlessNewer(context.WithoutCancel(ctx), rec, "waiting", reason, w.liveTTL(rec))
	if err != nil {
		return true, err
	}
	if !saved {
		w.log.Info("the follow-up generation wrote the message first; its waiting state is not written", "message", rec.ID)
	}
	return true, nil
}
