package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
)

// handleSend is the admission pipeline (docs/architecture.md), for one run of
// a send task. Each step either lets the run go on or ends it with what the
// handler returns.
func (w *Worker) handleSend(ctx context.Context, t *asynq.Task) (err error) {
	start := time.Now()
	var r *sendRun
	defer func() { w.observeSend(ctx, t, r, start, err) }()
	// A first run assumes the record as its producer wrote it and reads
	// nothing before its first write checks that assumption (first_run.go);
	// when the record was not that, it reads the record and runs again.
	r, err = w.load(ctx, t, w.mayAssume(ctx))
	if r != nil && r.rec.IsAssumed() {
		if err = w.run(ctx, r); !errors.Is(err, record.ErrAssumed) {
			return err
		}
		r, err = w.load(ctx, t, false)
	}
	if r == nil {
		return err
	}
	return w.run(ctx, r)
}

// run is the pipeline of one run of a send task.
func (w *Worker) run(ctx context.Context, r *sendRun) error {
	defer r.releaseSlot(ctx)
	for _, step := range []sendStep{
		w.waitUntilDue,   // a task may start up to a second early
		w.stopChecks,     // cancelled, expired, app or tenant paused
		w.runGates,       // peak minutes, breaker, the caller's gates
		w.recoverCrashed, // a part left sending by a crashed run
		w.admitAndRender, // quota, booked; parts rendered once
		w.sendParts,      // each pending part: begin, send, settle
		w.bookFollowUp,   // recipients booked for later
	} {
		if end, err := step(ctx, r); end {
			return err
		}
	}
	return w.finish(ctx, r.rec, w.now(), "")
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
	w.metrics.Deferred(j.Message.App, deferReason(reason))
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
	var accepted, unknown, failed, lapsed, superseded int
	partial := len(rec.Late) > 0
	for _, p := range rec.Parts {
		switch p.State {
		case record.PartSuperseded:
			superseded++
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
	case accepted == 0 && unknown == 0 && failed == 0 && lapsed == 0 && !partial && (superseded > 0 || len(rec.Superseded) > 0):
		return record.Superseded
	case accepted > 0 && accepted+superseded == len(rec.Parts) && !partial:
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
