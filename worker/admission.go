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
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// handleSend is the admission pipeline of DESIGN.md §4, for one run of a send task.
func (w *Worker) handleSend(ctx context.Context, t *asynq.Task) error {
	// 1. Decode and validate. A payload no retry can fix is archived with the reason.
	j, err := job.DecodeSend(t.Payload())
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	prov, ok := w.providers[j.Message.App]
	if !ok {
		// A newer producer may know an app this worker's config does not yet.
		return w.deferRun(ctx, nil, j, time.Minute, fmt.Sprintf("app %q is not configured on this worker", j.Message.App))
	}
	// One round trip reads the record, the tombstone, the app's pauses and the
	// newest update content (all under the app's hash tag) and, unless the task
	// started early, takes a slot of the company's semaphore for the first
	// request (another slot, pipelined, not atomic). A slot not used by a
	// request is given back when the run ends.
	var (
		getRec    func() (*record.Record, error)
		getTomb   func() (*record.Tombstone, error)
		getPause  func() (*appstate.Pause, error)
		getNewest func() (int64, *record.Content, error)
		getLease  func() (*ratelimit.Lease, error)
	)
	early := j.NotBefore.After(w.now())
	if err := w.pipelined(ctx, func(p redis.Pipeliner) error {
		getRec = w.records.QueueGet(ctx, p, j.Message.App, j.ID)
		getTomb = w.records.QueueTombstone(ctx, p, j.Message.App, j.ID)
		getPause = w.apps.QueuePaused(ctx, p, j.Message.App, j.Message.Tenant)
		getNewest = w.records.QueueNewest(ctx, p, j.Message.App, j.ID)
		if !early {
			key, limit, lease := w.semaphoreOf(j, prov)
			getLease = w.sem.QueueAcquire(ctx, p, key, limit, lease)
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) { // a missing tombstone is redis.Nil
		return fmt.Errorf("message %s: read state: %w", j.ID, err)
	}
	var held *ratelimit.Lease // the slot taken with the read, until a request uses it
	if getLease != nil {
		held, _ = getLease() // none (full, or an error): beforeRequest tries again
	}
	defer func() {
		if held != nil {
			held.Release(context.WithoutCancel(ctx))
		}
	}()
	rec, err := getRec()
	if errors.Is(err, record.ErrNotFound) {
		return fmt.Errorf("message %s: no delivery record (expired or never written): %w", j.ID, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	if rec.State.Terminal() {
		return nil // a repeated run of a finished message: nothing to do
	}
	now := w.now()
	rec.Runs++

	// asynq schedules to the second, so a task (a quota follow-up above all) may
	// start up to a second before its time: wait for it here rather than book
	// yet another generation.
	if early := j.NotBefore.Sub(now); early > 0 {
		if early > 2*time.Second {
			return w.deferRun(ctx, rec, j, early, "not before "+j.NotBefore.Format(time.RFC3339Nano))
		}
		t := time.NewTimer(early)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Defer(early, "worker shutting down")
		}
		now = w.now()
	}

	// 2. Cancelled? Expired? (The tombstone is checked again, atomically, when
	// each part is marked sending.)
	if tomb, err := getTomb(); err != nil {
		return err
	} else if tomb != nil {
		return w.endCancelled(ctx, rec, j)
	}
	if !now.Before(j.ExpiresAt) {
		return w.finish(ctx, rec, now, "expired before it could be sent")
	}

	// App or tenant paused because credentials or authorisation are broken (G7).
	if p, err := getPause(); err != nil {
		return err
	} else if p != nil {
		return w.deferRun(ctx, rec, j, p.Until.Sub(now), "app paused: "+p.Reason)
	}

	// 3–5. Admission gates: peak minutes, breaker, quota (then the caller's own).
	a := &Attempt{Job: j, Record: rec, Now: now}
	for _, g := range w.gates {
		if err := g.Admit(ctx, a); err != nil {
			var d *DeferError
			if errors.As(err, &d) {
				return w.deferRun(ctx, rec, j, d.For, d.Reason)
			}
			return fmt.Errorf("message %s: admission: %w", j.ID, err)
		}
	}

	// A part still marked sending was left by a run that crashed mid-request: it
	// may have been applied. That costs budget (G3) and freezes its bytes (G2).
	if crashed := w.recoverUnfinished(rec, prov, now); crashed && rec.Failures >= w.cfg.Worker.FailureBudget {
		w.giveUp(rec, "failure budget spent: the worker crashed during an attempt")
		return w.finish(ctx, rec, now, "")
	}

	// 5. Quota, booked: decide this generation's recipients once — charged now, or
	// booked at their earliest legal slot for a follow-up — and render the parts
	// of those charged now. Every later attempt re-sends these bytes.
	var admittedAt time.Time
	if rec.Generations <= j.Generation {
		to, _, err := w.admitNew(ctx, rec, j)
		if err != nil {
			return err
		}
		admittedAt = w.now()
		if !to.Empty() {
			msg := j.Message
			msg.To = to
			seq, err := w.newestContent(getNewest, prov.Capabilities(), &msg) // updates enqueued before the send
			if err != nil {
				return err
			}
			parts, err := prov.Prepare(ctx, &msg, providers.PrepareOptions{MessageID: j.ID, Generation: j.Generation})
			if err != nil {
				return w.prepareFailed(ctx, rec, j, err)
			}
			if err := w.indexRefs(ctx, rec, parts); err != nil {
				return err
			}
			offset := len(rec.Parts)
			for _, p := range parts {
				p.Index += offset
				rec.Parts = append(rec.Parts, record.Part{Part: p, Generation: j.Generation, State: record.PartPending, ContentSeq: seq})
			}
			w.markRendered(ctx, rec, seq)
		}
	}

	// 6–7. Send every pending part of this generation under its own deadline and
	// record the outcome.
	halfMargin := w.cfg.Apps[j.Message.App].Limits.Margin / 2
	for i := range rec.Parts {
		p := &rec.Parts[i]
		if p.State != record.PartPending || p.Generation != j.Generation {
			continue
		}
		if ctx.Err() != nil { // shutting down: the rest runs after the restart
			return w.deferRun(ctx, rec, j, 0, "worker shut down between parts")
		}
		admitted := admittedAt
		if w.quotaOn(j.Message.App) && (p.Attempts > 0 || admittedAt.IsZero() || w.now().Sub(admittedAt) > halfMargin) {
			if err := w.readmitPart(ctx, j, p); errors.Is(err, errPartDone) {
				continue
			} else if err != nil {
				return w.asDefer(ctx, rec, j, err)
			}
			admitted = w.now()
		}
		req, err := w.beforeRequest(ctx, j, prov, &held)
		if err != nil {
			return w.asDefer(ctx, rec, j, err)
		}
		if err := w.begin(ctx, rec, j, i); err != nil { // nothing was written
			req.end(ctx, context.Canceled)
			if errors.Is(err, record.ErrCancelled) { // the tombstone came first: nothing leaves
				return w.endCancelled(ctx, rec, j)
			}
			return w.asDefer(ctx, rec, j, err) // else asynq retries the run, no budget spent
		}
		res, err := w.send(ctx, prov, p)
		w.countLateArrival(ctx, j.Message.App, admitted)
		if err == nil {
			p.State, p.Result, p.Error = record.PartAccepted, res, ""
			if finished, err := w.settleAccepted(ctx, rec, j, i, req); finished || err != nil {
				return err
			}
			continue
		}
		req.end(ctx, err)
		if lerr := w.settleLedger(ctx, j, p, err); lerr != nil {
			w.log.Warn("quota ledger not updated; the next run repairs it", "message", j.ID, "err", lerr)
		}
		if stop, err := w.failed(ctx, rec, j, p, prov, res, err); stop {
			return err
		}
	}

	// Recipients booked for later go with the next generation's task.
	if len(rec.Booked) > 0 {
		if err := w.enqueueFollowUp(ctx, rec, j); err != nil {
			return err
		}
		next := slices.MinFunc(rec.Booked, func(a, b record.Booking) int { return a.At.Compare(b.At) })
		reason := fmt.Sprintf("quota: %d recipients booked for later, the next at %s (%s)", len(rec.Booked), next.At.Format(time.RFC3339Nano), next.Reason)
		rec.State, rec.Wait, rec.UpdatedAt = record.Waiting, &record.Wait{Reason: reason, Until: next.At}, w.now()
		return w.save(ctx, rec, "waiting", reason)
	}
	return w.finish(ctx, rec, w.now(), "")
}

// indexRefs records the provider references of parts ([providers.Part.Ref])
// so that a provider callback finds the message, for as long as the record
// is kept. Parts without a reference cost nothing.
func (w *Worker) indexRefs(ctx context.Context, rec *record.Record, parts []providers.Part) error {
	if !slices.ContainsFunc(parts, func(p providers.Part) bool { return p.Ref != "" }) {
		return nil
	}
	ttl := w.stateTTL(rec) + max(rec.Job.ExpiresAt.Sub(w.now()), 0)
	if _, err := w.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		record.QueueRefs(ctx, p, rec.App, rec.ID, parts, ttl)
		return nil
	}); err != nil {
		return fmt.Errorf("message %s: index provider references: %w", rec.ID, err)
	}
	return nil
}

// deferRun ends a run without spending budget: the task runs again after d (never
// past the message's expiry, when it will end as expired).
func (w *Worker) deferRun(ctx context.Context, rec *record.Record, j *job.Send, d time.Duration, reason string) error {
	now := w.now()
	if until := j.ExpiresAt.Sub(now); d > until {
		d = max(until, 0)
	}
	if rec != nil {
		rec.State = record.Waiting
		rec.Deferrals++
		rec.Wait = &record.Wait{Reason: reason, Until: now.Add(d)}
		rec.UpdatedAt = now
		if err := w.save(ctx, rec, "waiting", reason); err != nil {
			return err
		}
	}
	return Defer(d, reason)
}

// finish ends the message in the terminal state its parts add up to, records it
// with its event, and tells asynq: a failure is archived (SkipRetry) so that it is
// visible on the dashboard, with the reason also in the record.
func (w *Worker) finish(ctx context.Context, rec *record.Record, now time.Time, expiredReason string) error {
	if expiredReason != "" {
		rec.Late = append(rec.Late, rec.Booked...)
		rec.Booked = nil
		for i := range rec.Parts {
			if !rec.Parts[i].State.Done() {
				rec.Parts[i].State = record.PartExpired
			}
		}
		if rec.Reason == "" {
			rec.Reason = expiredReason
		}
	}
	rec.State = outcome(rec, expiredReason != "")
	rec.Wait = nil
	rec.UpdatedAt, rec.FinishedAt = now, now
	if err := w.save(ctx, rec, string(rec.State), rec.Reason); err != nil {
		return err
	}
	w.log.Info("message finished", "message", rec.ID, "state", rec.State, "parts", len(rec.Parts), "failures", rec.Failures)
	if rec.State == record.Failed {
		return fmt.Errorf("message %s failed: %s: %w", rec.ID, rec.Reason, asynq.SkipRetry)
	}
	return nil
}

// outcome is the terminal state of a message whose parts are all done.
func outcome(rec *record.Record, expired bool) record.State {
	var accepted, unknown, failed, lapsed int
	partial := len(rec.Late) > 0
	for _, p := range rec.Parts {
		switch p.State {
		case record.PartAccepted:
			accepted++
			if p.Result != nil && (!p.Result.Invalid.Empty() || len(p.Result.Unlicensed) > 0) {
				partial = true
			}
		case record.PartUnknown:
			unknown++
		case record.PartExpired:
			lapsed++
		default:
			failed++
		}
	}
	switch {
	case accepted > 0 && accepted == len(rec.Parts) && !partial:
		return record.Accepted
	case accepted > 0:
		return record.PartiallyAccepted
	case unknown > 0:
		return record.Unknown
	case failed == 0 && (expired || lapsed > 0 || len(rec.Late) > 0):
		return record.Expired
	default:
		return record.Failed
	}
}

func (w *Worker) save(ctx context.Context, rec *record.Record, event, detail string) error {
	if err := w.records.Save(context.WithoutCancel(ctx), rec, event, detail, w.liveTTL(rec), w.stateTTL(rec)); err != nil {
		return err
	}
	switch rec.State {
	case record.Cancelled, record.Failed, record.Expired, record.Unknown:
		// Updates still pending will never apply (README: they end failed with the reason).
		if err := w.endPendingUpdates(ctx, rec, fmt.Sprintf("the message ended %s: %s", rec.State, rec.Reason)); err != nil {
			w.log.Warn("pending updates not ended", "message", rec.ID, "err", err)
		}
	}
	return nil
}

// prepareFailed handles a message Prepare refused, by the error's class: bad
// input ends the message failed; a disabled tenant or app pauses it and waits
// (G7); anything else (a tenant-store blip) is retried without spending budget.
func (w *Worker) prepareFailed(ctx context.Context, rec *record.Record, j *job.Send, err error) error {
	switch providers.ClassOf(err) {
	case providers.ClassPermanent:
		rec.Reason = err.Error()
		return w.finish(ctx, rec, w.now(), "")
	case providers.ClassAppDisabled:
		return w.pauseFor(ctx, rec, j, err)
	default:
		return w.deferRun(ctx, rec, j, backoff(1), "preparing the message: "+err.Error())
	}
}
