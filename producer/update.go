package producer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
)

// Content is new content for a sent (or still pending) message: Kind and
// Text or Body as in providers.Message, or a provider's update-only kind
// (WeCom's "button" replaces the clicked button's text of a sent card).
type Content struct {
	Kind providers.Kind  `json:"kind"`
	Text string          `json:"text,omitempty"`
	Body json.RawMessage `json:"body,omitempty"`
}

// ErrNotUpdatable wraps the error of Update for a message that ended
// cancelled, failed or expired: there is nothing to update.
var ErrNotUpdatable = errors.New("message cannot be updated")

// Update gives message id new content and returns its update sequence
// number (1, 2, … per message, assigned at enqueue with the content write in
// one atomic step). The content is validated by the provider's rules with the
// message's recipients; nothing is written when it is invalid.
//
// Before the send has rendered its parts, the send renders the newest content
// (recipients booked for later by quota get the newest content at their
// slot). After parts were sent, one coalescing update task per message
// applies the newest content; older sequence numbers are recorded as
// superseded. Status shows the history and what each recipient sees.
// A cancelled, failed or expired message returns ErrNotUpdatable.
func (c *Client) Update(ctx context.Context, id string, content Content) (int64, error) {
	app, err := job.AppOf(id)
	if err != nil {
		return 0, fmt.Errorf("producer: update: %w", err)
	}
	ac, ok := c.cfg.Apps[app]
	if !ok {
		return 0, fmt.Errorf("producer: update %s: %w", id, providers.Invalid("app", "%q is not a configured app", app))
	}
	rec, err := c.records.Get(ctx, app, id)
	if err != nil {
		return 0, fmt.Errorf("producer: update %s: %w", id, err)
	}
	switch rec.State {
	case record.Cancelled, record.Failed, record.Expired, record.Unknown:
		return 0, fmt.Errorf("producer: update %s: %w: it ended %s (%s)", id, ErrNotUpdatable, rec.State, rec.Reason)
	}
	if err := validateUpdate(ac, rec, content); err != nil {
		return 0, fmt.Errorf("producer: update %s: %w", id, err)
	}
	now := c.now()
	seq, running, err := c.records.PutUpdate(ctx, app, id,
		&record.Content{Kind: content.Kind, Text: content.Text, Body: content.Body}, now, c.stateTTL(rec, now))
	if errors.Is(err, record.ErrCancelled) {
		return 0, fmt.Errorf("producer: update %s: %w: it is cancelled", id, ErrNotUpdatable)
	}
	if err != nil {
		return 0, fmt.Errorf("producer: update: %w", err)
	}
	if err := c.enqueueUpdate(ctx, app, id, seq, running); err != nil {
		return seq, err
	}
	return seq, nil
}

// validateUpdate checks content for rec's message: first that the provider
// can apply it to that message at all (its ValidateUpdate: the kind, an
// updatable message), then, for new whole content (not an update-only kind
// such as WeCom's button), as a whole message to the same recipients.
func validateUpdate(app config.App, rec *record.Record, content Content) error {
	if rec.Job == nil {
		return providers.Invalid("id", "the record of %s holds no message", rec.ID)
	}
	msg := rec.Job.Message
	if err := catalog.ValidateUpdate(app, &msg, content.Kind, content.Text, content.Body); err != nil {
		return err
	}
	if app.Block.Capabilities().UpdateOnly(content.Kind) {
		return nil
	}
	msg.Kind, msg.Text, msg.Body = content.Kind, content.Text, content.Body
	return catalog.Validate(app, &msg)
}

// enqueueUpdate enqueues the update task of message id. Its id is
// "<id>/update" and it keeps no retention, so while one is queued new updates
// coalesce into it. When the id is taken by a task that is running and no
// longer holds the message's lease (it is finishing), a task with the
// sequence number in its id is enqueued instead, so no update is left behind.
func (c *Client) enqueueUpdate(ctx context.Context, app, id string, seq int64, running bool) error {
	payload, _ := (&job.Ref{ID: id, App: app}).Marshal()
	opts := []asynq.Option{asynq.Queue(job.QueueDefault), asynq.MaxRetry(job.MaxRetry)}
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(job.TypeUpdate, payload), append(opts, asynq.TaskID(job.UpdateTaskID(id)))...)
	if err == nil || running {
		// running: the task holding the lease sees seq before it lets go.
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("producer: update %s: enqueue: %w", id, err)
		}
		return nil
	}
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("producer: update %s: enqueue: %w", id, err)
	}
	if info, ierr := c.inspector.GetTaskInfo(job.QueueDefault, job.UpdateTaskID(id)); ierr == nil && info.State != asynq.TaskStateActive && info.State != asynq.TaskStateCompleted {
		return nil // queued: it will read the newest content when it runs
	}
	_, err = c.asynq.EnqueueContext(ctx, asynq.NewTask(job.TypeUpdate, payload), append(opts, asynq.TaskID(fmt.Sprintf("%s/%d", job.UpdateTaskID(id), seq)))...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("producer: update %s: enqueue: %w", id, err)
	}
	return nil
}

// stateTTL is how long update and cancel state of rec's message is kept: its
// record's life, and for cards (which may be updated after they are sent)
// worker.interactive_ttl after it ends.
func (c *Client) stateTTL(rec *record.Record, now time.Time) time.Duration {
	wc := c.cfg.Worker
	keep := wc.Retention
	if rec.Job != nil {
		if ac, ok := c.cfg.Apps[rec.App]; ok && ac.Block != nil && ac.Block.Capabilities().Updatable(rec.Job.Message.Kind) {
			keep = max(keep, wc.InteractiveTTL)
		}
	}
	if rec.Job != nil {
		keep += max(rec.Job.ExpiresAt.Sub(now), 0)
	}
	return keep
}
