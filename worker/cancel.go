package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// saveUnlessCancelled writes a live record unless the message has a
// tombstone (record.ErrCancelled): the "mark sending" write before a request
// leaves, so that no request leaves after a cancel.
func (w *Worker) saveUnlessCancelled(ctx context.Context, rec *record.Record) error {
	wc := w.cfg.Worker
	ttl := rec.Job.ExpiresAt.Sub(w.now()) + wc.Retention
	return w.records.SaveUnlessCancelled(context.WithoutCancel(ctx), rec, max(ttl, wc.Retention))
}

// endCancelled ends a message whose tombstone the send task found: parts not
// sent are cancelled, the quota charges of recipients not sent are released,
// and the record ends cancelled.
func (w *Worker) endCancelled(ctx context.Context, rec *record.Record, j *job.Send) error {
	if rec.IsAssumed() { // read the record first (first_run.go)
		return fmt.Errorf("message %s: cancelled: %w", rec.ID, record.ErrAssumed)
	}
	tomb, err := w.records.Tombstone(ctx, rec.App, rec.ID)
	if err != nil {
		return err
	}
	reason := "cancelled"
	if tomb != nil {
		reason = "cancelled: " + tomb.Reason
	}
	for i := range rec.Parts {
		if p := &rec.Parts[i]; !p.State.Done() {
			if p.State == record.PartSending || p.MayHaveLeft {
				p.State = record.PartUnknown
			} else {
				p.State, p.Error = record.PartCancelled, "cancelled before it was sent"
			}
		}
	}
	rec.Booked = nil
	if _, err := w.releaseUnsent(ctx, rec.App, j.Message.Tenant, rec.ID); err != nil {
		w.log.Warn("quota charges of a cancelled message not released", "message", rec.ID, "err", err)
	}
	now := w.now()
	rec.State, rec.Reason, rec.Wait, rec.UpdatedAt, rec.FinishedAt = record.Cancelled, reason, nil, now, now
	if err := w.save(ctx, rec, string(record.Cancelled), reason); err != nil {
		return err
	}
	w.log.Info("message cancelled", "message", rec.ID)
	return nil
}

// releaseUnsent releases the quota charges of every recipient of the message
// that is admitted or booked but not sent; it returns how many it released.
func (w *Worker) releaseUnsent(ctx context.Context, app, tenant, id string) (int, error) {
	ledger, err := w.quota.Ledger(ctx, app, id)
	if err != nil {
		return 0, err
	}
	var rcpts []string
	for r, e := range ledger {
		if e.State == ratelimit.StateAdmitted || e.State == ratelimit.StateBooked {
			rcpts = append(rcpts, r)
		}
	}
	if len(rcpts) == 0 {
		return 0, nil
	}
	tr, err := w.quota.Release(context.WithoutCancel(ctx), ratelimit.Ref{App: app, Tenant: corpOf(w.cfg.Apps[app], tenant), MessageID: id, Recipients: rcpts})
	if err != nil {
		return 0, err
	}
	return len(tr.Done), nil
}

// handleCancel is the cancel task of one message (the tombstone is already
// written): it waits up to the send timeout for requests in flight, removes
// the message's queued tasks, releases unsent quota charges, ends the record
// cancelled when no task owns it any more, recalls the parts already sent
// where the provider can, and stores the outcome for the producer.
func (w *Worker) handleCancel(ctx context.Context, t *asynq.Task) error {
	ref, err := job.DecodeRef(t.Payload())
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	prov, ok := w.providers[ref.App]
	if !ok {
		return Defer(time.Minute, fmt.Sprintf("app %q is not configured on this worker", ref.App))
	}
	now := w.now()
	tomb, _, err := w.records.PutTombstone(ctx, ref.App, ref.ID, record.Tombstone{Reason: "cancelled", At: now}, w.cfg.Worker.InteractiveTTL)
	if err != nil {
		return err
	}
	out := &record.CancelOutcome{ID: ref.ID, RequestedAt: tomb.At}
	inspector := asynq.NewInspectorFromRedisClient(w.rdb)
	deadline := now.Add(w.cfg.Worker.SendTimeout + time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var rec *record.Record
	var raw string
	for {
		rec, raw, err = w.records.GetRaw(ctx, ref.App, ref.ID)
		if err != nil {
			return fmt.Errorf("message %s: %w", ref.ID, err)
		}
		busy := false
		for _, tid := range messageTaskIDs(rec) {
			for q := range w.cfg.Worker.Queues {
				info, err := inspector.GetTaskInfo(q, tid)
				if err != nil {
					continue
				}
				switch info.State {
				case asynq.TaskStateActive:
					busy = true
				case asynq.TaskStateCompleted:
				default:
					if err := inspector.DeleteTask(q, tid); err == nil {
						out.Removed = append(out.Removed, tid)
					} else if !errors.Is(err, asynq.ErrTaskNotFound) {
						busy = true // it became active meanwhile
					}
				}
			}
		}
		for _, p := range rec.Parts {
			busy = busy || p.State == record.PartSending
		}
		if !busy {
			break
		}
		if !w.now().Before(deadline) {
			out.Errors = append(out.Errors, "gave up waiting for a request in flight after the send timeout")
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return Defer(0, "worker shutting down")
		}
	}
	if n, err := w.releaseUnsent(ctx, ref.App, rec.Job.Message.Tenant, ref.ID); err != nil {
		out.Errors = append(out.Errors, "releasing quota charges: "+err.Error())
	} else {
		out.Unsent += n
	}
	// No task owns the record now: end it cancelled (unless it changed since).
	if !rec.State.Terminal() {
		rec.Booked = nil
		for i := range rec.Parts {
			if p := &rec.Parts[i]; !p.State.Done() {
				if p.State == record.PartSending || p.MayHaveLeft {
					p.State = record.PartUnknown
				} else {
					p.State, p.Error = record.PartCancelled, "cancelled before it was sent"
				}
			}
		}
		end := w.now()
		rec.State, rec.Reason, rec.Wait, rec.UpdatedAt, rec.FinishedAt = record.Cancelled, "cancelled: "+tomb.Reason, nil, end, end
		if err := w.records.CompareAndSave(ctx, rec, raw, string(record.Cancelled), rec.Reason, w.stateTTL(rec)); errors.Is(err, record.ErrChanged) {
			return Defer(0, "the record changed while cancelling: again")
		} else if err != nil {
			return err
		}
	}
	// The update task was removed or will find the tombstone: no pending
	// update will apply now.
	if err := w.endPendingUpdates(ctx, rec, "the message is cancelled: "+tomb.Reason); err != nil {
		out.Errors = append(out.Errors, "ending pending updates: "+err.Error())
	}
	caps := prov.Capabilities()
	for _, p := range rec.Parts {
		po := record.PartOutcome{Index: p.Index, Generation: p.Generation, Users: len(p.To.Users), Outcome: record.OutcomeCancelled}
		switch p.State {
		case record.PartAccepted:
			po.Outcome = record.OutcomeSent
			po.Error = w.recall(ctx, prov, caps, messageTenant(rec, &p), &p)
			if po.Error == "" {
				po.Outcome = record.OutcomeRecalled
			}
		case record.PartUnknown:
			po.Outcome, po.Error = record.OutcomeUnknown, "the request may have been applied; there is no msgid to recall"
		case record.PartFailed:
			po.Outcome, po.Error = record.OutcomeFailed, p.Error
		}
		out.Parts = append(out.Parts, po)
	}
	out.State = rec.State
	out.FinishedAt = w.now()
	return w.records.PutCancelOutcome(context.WithoutCancel(ctx), ref.App, out, w.stateTTL(rec)+time.Hour)
}

// endPendingUpdates ends every update of rec's message that is still pending
// failed with reason: the message was cancelled, failed or expired, so none of
// them will apply. Final entries are kept.
func (w *Worker) endPendingUpdates(ctx context.Context, rec *record.Record, reason string) error {
	ctx = context.WithoutCancel(ctx)
	d, err := w.records.UpdateData(ctx, rec.App, rec.ID)
	if err != nil {
		return err
	}
	now := w.now()
	uw := record.UpdateWrite{}
	for s := int64(1); s <= d.Seq; s++ {
		if e, ok := d.History[s]; ok && e.State.Final() {
			continue
		}
		uw.Entries = append(uw.Entries, record.UpdateEntry{Seq: s, State: record.UpdateFailed, At: now, Reason: reason})
	}
	if len(uw.Entries) == 0 {
		return nil
	}
	if err := w.records.WriteUpdates(ctx, rec.App, rec.ID, uw, w.stateTTL(rec)); err != nil {
		return err
	}
	for _, e := range uw.Entries {
		if err := w.records.PublishUpdate(ctx, rec.App, rec.ID, e); err != nil {
			return err
		}
	}
	return nil
}

// recall takes back one accepted part; it returns "" when recalled, else why not.
// tenant is the tenant the message was sent for ("" for a self-built app).
func (w *Worker) recall(ctx context.Context, prov providers.Provider, caps providers.Capabilities, tenant string, p *record.Part) string {
	switch {
	case !caps.Recall:
		return prov.Name() + " cannot recall messages of this app"
	case p.Result == nil || p.Result.ProviderMessageID == "":
		return "the provider returned no message id to recall"
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.Worker.SendTimeout)
	defer cancel()
	err := prov.Recall(sctx, &providers.RecallRequest{ProviderMessageID: p.Result.ProviderMessageID, Tenant: tenant,
		Part: &p.Part, Sent: p.Result, SentAt: p.FirstSentAt})
	switch {
	case err == nil:
		return ""
	case errors.Is(err, providers.ErrRecallExpired):
		return fmt.Sprintf("too old to recall: %s recalls only messages sent within %s: %v", prov.Name(), caps.RecallWindow, err)
	}
	return "recall failed: " + err.Error()
}

// messageTaskIDs are the asynq task ids a message may have: its send task,
// its quota follow-ups and its update task.
func messageTaskIDs(rec *record.Record) []string {
	ids := []string{rec.ID, job.UpdateTaskID(rec.ID)}
	for g := 1; g <= rec.Generations+1; g++ {
		ids = append(ids, rec.ID+"/"+strconv.Itoa(g))
	}
	return ids
}

// messageTenant is the tenant (auth corp id) rec's message was sent for: the
// job's, else the one part p carries; "" for a self-built app.
func messageTenant(rec *record.Record, p *record.Part) string {
	if rec != nil && rec.Job != nil && rec.Job.Message.Tenant != "" {
		return rec.Job.Message.Tenant
	}
	if p != nil {
		return p.Tenant
	}
	return ""
}
