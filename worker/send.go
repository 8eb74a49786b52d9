package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
)

// send sends p under a deadline of its own: shutting the worker down does not
// cancel a request in flight (the shutdown timeout is longer than the send timeout).
func (w *Worker) send(ctx context.Context, prov providers.Provider, p *record.Part) (*providers.Result, error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.Worker.SendTimeout)
	defer cancel()
	return prov.Send(sctx, &p.Part)
}

// failed handles a failed request of part p by the error's class. It returns
// stop=false when the run should go on with the next part (this part is done), or
// stop=true with what the handler must return.
func (w *Worker) failed(ctx context.Context, rec *record.Record, j *job.Send, p *record.Part, prov providers.Provider, res *providers.Result, err error) (bool, error) {
	now := w.now()
	if res != nil {
		p.Result = res
	}
	p.Error, rec.LastError = err.Error(), err.Error()
	var pe *providers.Error
	errors.As(err, &pe)
	retryAfter := time.Duration(0)
	if pe != nil {
		retryAfter = pe.RetryAfter
	}
	budget := w.cfg.Worker.FailureBudget

	switch providers.ClassOf(err) {
	case providers.ClassPermanent:
		p.State = record.PartFailed
		if rec.Reason == "" {
			rec.Reason = err.Error()
		}
		return false, nil

	case providers.ClassAppDisabled:
		p.State = record.PartPending
		return true, w.pauseFor(ctx, rec, j, err)

	case providers.ClassThrottled:
		p.State = record.PartPending
		if retryAfter <= 0 {
			retryAfter = time.Second
		}
		return true, w.deferRun(ctx, rec, j, retryAfter, "throttled by the provider: "+err.Error())

	case providers.ClassRetryable:
		p.State = record.PartPending
		rec.Failures++
		if rec.Failures >= budget {
			w.giveUp(rec, fmt.Sprintf("failure budget of %d spent; last error: %v", budget, err))
			return true, w.finish(ctx, rec, now, "")
		}
		return true, w.retryRun(ctx, rec, j, max(backoff(rec.Failures), retryAfter), err)

	default: // providers.ClassUnknownOutcome: the request may have been applied.
		p.MayHaveLeft = true
		rec.Failures++
		if rec.Failures >= budget {
			w.giveUp(rec, fmt.Sprintf("failure budget of %d spent; last error: %v", budget, err))
			return true, w.finish(ctx, rec, now, "")
		}
		d := max(backoff(rec.Failures), retryAfter)
		if w.mayResend(j.Message.App, prov, p, now.Add(d)) {
			p.State = record.PartPending
			return true, w.retryRun(ctx, rec, j, d, err)
		}
		p.State = record.PartUnknown
		return false, nil
	}
}

// retryRun ends a failed run: the task runs again after d (capped at expiry).
func (w *Worker) retryRun(ctx context.Context, rec *record.Record, j *job.Send, d time.Duration, cause error) error {
	now := w.now()
	if until := j.ExpiresAt.Sub(now); d > until {
		d = max(until, 0)
	}
	rec.State = record.Waiting
	rec.Wait = &record.Wait{Reason: "retrying after: " + cause.Error(), Until: now.Add(d)}
	rec.UpdatedAt = now
	if err := w.save(ctx, rec, "waiting", rec.Wait.Reason); err != nil {
		return err
	}
	return &retryError{After: d, Err: cause}
}

// recoverUnfinished finds parts left "sending" by a run that crashed. Each may have
// been applied: it is re-sent with the same bytes only within the provider's dedupe
// window (and when the app's on_unknown is resend), else it ends unknown. Finding
// one spends one unit of the failure budget (G3). It reports whether it found any.
func (w *Worker) recoverUnfinished(rec *record.Record, prov providers.Provider, now time.Time) bool {
	crashed := false
	for i := range rec.Parts {
		p := &rec.Parts[i]
		if p.State != record.PartSending {
			continue
		}
		crashed = true
		p.MayHaveLeft = true
		p.Error = "the worker stopped during this attempt; it may have been applied"
		if w.mayResend(rec.App, prov, p, now) {
			p.State = record.PartPending
		} else {
			p.State = record.PartUnknown
		}
	}
	if crashed {
		rec.Failures++
		rec.LastError = "a previous run stopped during an attempt"
	}
	return crashed
}

// mayResend reports whether bytes that may already have been applied can be sent
// again at the time at: only if the app resends on unknown outcomes and at is
// safely inside the provider's dedupe window from the part's first attempt.
func (w *Worker) mayResend(app string, prov providers.Provider, p *record.Part, at time.Time) bool {
	if w.cfg.Apps[app].OnUnknown != "resend" {
		return false
	}
	window := prov.Capabilities().DedupeWindow
	if window <= 0 {
		return false
	}
	safety := min(time.Minute, window/10)
	return at.Before(p.FirstSentAt.Add(window - safety))
}

// giveUp ends every unfinished part: unknown if it may have left, failed otherwise.
func (w *Worker) giveUp(rec *record.Record, reason string) {
	for i := range rec.Parts {
		p := &rec.Parts[i]
		if p.State.Done() {
			continue
		}
		if p.MayHaveLeft {
			p.State = record.PartUnknown
		} else {
			p.State = record.PartFailed
		}
	}
	rec.Reason = reason
}

// pauseFor pauses what err says is broken — the tenant when the error names one,
// else the whole app — for worker.pause_for, and defers the run until then (G7:
// waiting, never archived).
func (w *Worker) pauseFor(ctx context.Context, rec *record.Record, j *job.Send, err error) error {
	scope, tenant := "app", ""
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Tenant != "" {
		scope, tenant = "tenant", pe.Tenant
	}
	pause := w.cfg.Worker.PauseFor
	if perr := w.apps.Pause(ctx, j.Message.App, tenant, err.Error(), w.now(), pause); perr != nil {
		return perr
	}
	w.log.Error(scope+" paused: credentials or authorisation broken", "app", j.Message.App, "tenant", tenant, "for", pause, "err", err)
	return w.deferRun(ctx, rec, j, pause, scope+" paused: "+err.Error())
}
