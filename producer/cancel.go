package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
)

// CancelResult is the outcome of a cancel: per part cancelled (never left),
// recalled, or sent (with the reason it could not be recalled).
type CancelResult = record.CancelOutcome

// ErrCancelPending is returned by Cancel when the worker did not finish the
// cancel in time; the tombstone is in place (nothing more leaves) and Status
// shows the outcome once the worker is done.
var ErrCancelPending = errors.New("cancel not finished yet")

// Cancel cancels message id. It writes the tombstone first — from then on no
// request of the message leaves, quota follow-ups included — then enqueues
// the cancel task (the worker holds the credentials) and waits, up to
// worker.send_timeout and a few seconds, for its outcome: the worker waits
// for requests already in flight, removes the message's queued tasks,
// releases the quota charges of recipients not yet sent, and recalls the
// parts already sent where the provider can (WeCom: within 24 h). Cancelling
// again returns the same outcome.
func (c *Client) Cancel(ctx context.Context, id string) (*CancelResult, error) {
	app, err := job.AppOf(id)
	if err != nil {
		return nil, fmt.Errorf("producer: cancel: %w", err)
	}
	rec, err := c.records.Get(ctx, app, id)
	if err != nil {
		return nil, fmt.Errorf("producer: cancel %s: %w", id, err)
	}
	now := c.now()
	if _, _, err := c.records.PutTombstone(ctx, app, id, record.Tombstone{Reason: "cancelled by the producer", At: now}, c.stateTTL(rec, now)); err != nil {
		return nil, fmt.Errorf("producer: cancel: %w", err)
	}
	payload, _ := (&job.Ref{ID: id, App: app}).Marshal()
	_, err = c.asynq.EnqueueContext(ctx, asynq.NewTask(job.TypeCancel, payload), asynq.TaskID(job.CancelTaskID(id)),
		asynq.Queue(job.QueueCritical), asynq.MaxRetry(job.MaxRetry), asynq.Retention(job.Retention))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil, fmt.Errorf("producer: cancel %s: enqueue: %w", id, err)
	}
	wait := time.NewTimer(c.cfg.Worker.SendTimeout + 5*time.Second)
	defer wait.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		o, err := c.records.CancelOutcome(ctx, app, id)
		if err != nil {
			return nil, fmt.Errorf("producer: cancel: %w", err)
		}
		if o != nil {
			return o, nil
		}
		select {
		case <-tick.C:
		case <-wait.C:
			return nil, fmt.Errorf("producer: cancel %s: %w", id, ErrCancelPending)
		case <-ctx.Done():
			return nil, fmt.Errorf("producer: cancel %s: %w", id, ctx.Err())
		}
	}
}

// mergeUpdates adds the message's update history, what each recipient was
// last sent, and the cancel outcome (kept in their own keys) to rec.
func (c *Client) mergeUpdates(ctx context.Context, app string, rec *record.Record) error {
	d, err := c.records.UpdateData(ctx, app, rec.ID)
	if err != nil {
		return err
	}
	if d.Seq > 0 || len(d.Users) > 0 {
		for _, p := range rec.Parts {
			if p.State != record.PartAccepted {
				continue
			}
			for _, u := range p.To.Users {
				if _, ok := d.Users[u]; !ok {
					d.Users[u] = record.RecipientState{Seq: p.ContentSeq, State: record.RecipientSent, At: p.SentAt}
				}
			}
		}
		rec.Updates = d.View()
	}
	o, err := c.records.CancelOutcome(ctx, app, rec.ID)
	if err != nil {
		return err
	}
	rec.Cancel = o
	return nil
}
