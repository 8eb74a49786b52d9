package producer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/peak"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
)

// Send validates msg by its provider's rules and enqueues it; it returns the
// dispatcher message id. Nothing is written when validation fails; the error is a
// *providers.ValidationError naming the field.
//
// Send makes two writes: the record (with the idempotency key, marked to be
// enqueued) and the asynq task (its id is the message id). With an idempotency
// key, calling Send again after a failure between them enqueues the task again
// — a task id already queued is refused by asynq, so it is never doubled —
// unless the message has already run.
func (c *Client) Send(ctx context.Context, msg providers.Message, opts ...SendOption) (string, error) {
	var o sendOptions
	for _, opt := range opts {
		opt(&o)
	}
	now := c.now()
	if msg.ReplyTo != nil && msg.To.Empty() && msg.ReplyTo.Chat != "" {
		msg.To.Chats = []string{msg.ReplyTo.Chat} // a reply goes to its chat: its target, for quotas and records
	}
	if err := c.validate(&msg, &o, now); err != nil {
		return "", fmt.Errorf("producer: send: %w", err)
	}
	queue := o.Queue
	if queue == "" {
		queue = job.QueueDefault
		if o.Urgent {
			queue = job.QueueCritical
		}
	}
	notBefore := o.NotBefore
	if !o.Urgent && c.cfg.Peak.On() { // the worker's rule, applied at enqueue
		pk := c.cfg.Peak
		due := notBefore
		if due.IsZero() {
			due = now
		}
		if at := (peak.Rule{Minutes: pk.Minutes, Guard: pk.Guard, Spread: pk.Spread}).Defer(due, nil); at.After(due) {
			notBefore = at
		}
	}
	expires := o.ExpiresAt
	if expires.IsZero() { // worker.message_ttl from when the message may go
		from := now
		if notBefore.After(now) {
			from = notBefore
		}
		expires = from.Add(c.cfg.Worker.MessageTTL)
	}
	j := &job.Send{ID: job.NewID(msg.App, now), Message: msg, Urgent: o.Urgent, NotBefore: notBefore, ExpiresAt: expires, Queue: queue, Collapse: o.Collapse,
		CreatedAt: now, IdempotencyKey: o.Key}
	rec := record.New(j) // the job says what the record says: the worker's first run need not read it
	hash := ""           // only an idempotency key's record keeps it (record.Store.Create)
	if o.Key != "" {
		var err error
		if hash, err = bodyHash(&msg, &o); err != nil {
			return "", err
		}
	}
	ttl := expires.Sub(now) + c.cfg.Worker.Retention

	release, err := c.reserveGivenIDs(ctx, &msg, &o, j.ID, expires.Sub(now)+max(c.cfg.Worker.Retention, c.cfg.Worker.InteractiveTTL))
	if err != nil {
		return "", err
	}
	if c.fused && o.Key == "" {
		return c.createAndEnqueue(ctx, rec, j, ttl, release)
	}
	id, created, err := c.records.Create(ctx, rec, hash, ttl)
	if err != nil {
		release()
		return "", fmt.Errorf("producer: send: %w", err)
	}
	if !created { // the same key and body were sent before: finish what that call began
		prev, err := c.records.Get(ctx, msg.App, id)
		if err != nil {
			return "", fmt.Errorf("producer: send: %w", err)
		}
		if prev.State != record.Queued {
			return id, nil // it ran: its task is done or owns the message
		}
		j = prev.Job // enqueue it again: a conflict means it was enqueued
	}
	payload := []byte(nil) // the job's JSON as Create wrote it into the record: encoded once
	if created {
		payload = []byte(rec.JobJSON())
	}
	if err := c.step("created"); err != nil {
		return "", err
	}
	if err := c.enqueue(ctx, j, payload); err != nil {
		return "", err
	}
	if err := c.step("enqueued"); err != nil {
		return "", err
	}
	return id, nil
}

// createAndEnqueue writes the record of a message without an idempotency
// key and enqueues its task in one round trip, the record first (see
// enqueueRedis). A failed record write fails the Send even when the task was
// queued: the worker skips a task without a record, so the message is not
// sent.
func (c *Client) createAndEnqueue(ctx context.Context, rec *record.Record, j *job.Send, ttl time.Duration, release func()) (string, error) {
	call, err := c.records.PrepareCreate(rec, ttl)
	if err != nil {
		release()
		return "", fmt.Errorf("producer: send: %w", err)
	}
	w := &recordWrite{queue: func(p redis.Pipeliner) { call.Queue(ctx, p) }}
	eerr := c.enqueue(withRecordWrite(ctx, w), j, []byte(call.JobJSON()))
	if !w.sent { // asynq failed before its script: nothing was written
		release()
		if eerr == nil {
			eerr = fmt.Errorf("producer: send: enqueue %s: the record was not written", j.ID)
		}
		return "", eerr
	}
	if err := call.Result(); err != nil {
		release()
		return "", fmt.Errorf("producer: send: %w", err)
	}
	if eerr != nil {
		return "", eerr
	}
	for _, step := range []string{"created", "enqueued"} {
		if err := c.step(step); err != nil {
			return "", err
		}
	}
	return rec.ID, nil
}

// reserveGivenIDs refuses an id msg gives itself (a WeCom card's task_id)
// that an earlier message of the app gave: the provider would refuse it
// (WeCom 42014). Each such id is reserved for id — or for the idempotency
// key, so a retried Send keeps it — for ttl, as long as the message can be
// updated. The returned release drops the reservations this call made, for a
// Send that fails before its record exists.
func (c *Client) reserveGivenIDs(ctx context.Context, msg *providers.Message, o *sendOptions, id string, ttl time.Duration) (release func(), err error) {
	given := catalog.GivenIDs(c.cfg.Apps[msg.App], msg)
	owner := id
	if o.Key != "" {
		owner = "key:" + o.Key
	}
	var made []string
	release = func() {
		for _, gid := range made {
			_ = c.records.ReleaseTaskID(context.WithoutCancel(ctx), msg.App, gid, owner)
		}
	}
	for _, field := range slices.Sorted(maps.Keys(given)) {
		gid := given[field]
		holder, fresh, err := c.records.ReserveTaskID(ctx, msg.App, gid, owner, ttl)
		if err != nil {
			release()
			return nil, fmt.Errorf("producer: send: %w", err)
		}
		if fresh {
			made = append(made, gid)
		}
		if holder != owner {
			release()
			by := "message " + holder
			if k, ok := strings.CutPrefix(holder, "key:"); ok {
				by = fmt.Sprintf("the message of idempotency key %q", k)
			}
			return nil, fmt.Errorf("producer: send: %w", providers.Invalid(field,
				"%q was given by %s of app %s: the provider refuses an id it saw before (WeCom: a reused task_id, 42014); give each message its own, or none and the dispatcher makes one", gid, by, msg.App))
		}
	}
	return release, nil
}

// enqueue enqueues j's task; payload is j's JSON when the caller has it
// (nil: encoded here).
func (c *Client) enqueue(ctx context.Context, j *job.Send, payload []byte) error {
	if len(payload) == 0 {
		var err error
		if payload, err = j.Marshal(); err != nil {
			return fmt.Errorf("producer: send: %w", err)
		}
	}
	opts := []asynq.Option{asynq.TaskID(j.ID), asynq.Queue(j.Queue), asynq.MaxRetry(job.MaxRetry), asynq.Retention(job.Retention)}
	if !j.NotBefore.IsZero() {
		opts = append(opts, asynq.ProcessAt(j.NotBefore))
	}
	_, err := c.asynq.EnqueueContext(ctx, asynq.NewTask(job.TypeSend, payload), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("producer: send: enqueue %s: %w", j.ID, err)
	}
	return nil
}

func (c *Client) step(name string) error {
	if c.afterWrite == nil {
		return nil
	}
	return c.afterWrite(name)
}

// validate checks what the producer owns (app, queue, options) and then the
// message by its provider's rules.
func (c *Client) validate(msg *providers.Message, o *sendOptions, now time.Time) error {
	app, ok := c.cfg.Apps[msg.App]
	if !ok {
		return providers.Invalid("app", "%q is not a configured app", msg.App)
	}
	if err := checkRecipientCap(msg.App, app, msg.To); err != nil {
		return err
	}
	if o.Queue != "" {
		if _, ok := c.cfg.Worker.Queues[o.Queue]; !ok {
			return providers.Invalid("queue", "%q is not a configured queue", o.Queue)
		}
	}
	if o.Key != "" && strings.TrimSpace(o.Key) == "" {
		return providers.Invalid("idempotency_key", "blank: give a key with something besides spaces, or none")
	}
	if len(o.Key) > 200 {
		return providers.Invalid("idempotency_key", "longer than 200 bytes")
	}
	for _, r := range o.Key {
		if unicode.IsControl(r) {
			return providers.Invalid("idempotency_key", "contains a control character")
		}
	}
	if err := validateCollapse(o.Collapse); err != nil {
		return err
	}
	if !o.ExpiresAt.IsZero() && !o.ExpiresAt.After(now) {
		return providers.Invalid("expires_at", "is in the past")
	}
	if !o.ExpiresAt.IsZero() && !o.NotBefore.IsZero() && !o.ExpiresAt.After(o.NotBefore) {
		return providers.Invalid("expires_at", "must be after not_before (%s): the message would expire before it may be sent",
			o.NotBefore.Format(time.RFC3339))
	}
	if horizon := c.cfg.Worker.Retention; o.NotBefore.After(now.Add(horizon)) {
		return providers.Invalid("not_before", "%s is more than worker.retention (%s) ahead: a message may be scheduled at most that far ahead",
			o.NotBefore.Format(time.RFC3339), horizon)
	}
	if msg.ReplyTo != nil && app.Block != nil && !app.Block.Capabilities().Reply {
		return providers.Invalid("reply_to", "app %s (provider %s) cannot reply to a chat message", msg.App, app.Provider)
	}
	return catalog.Validate(app, msg)
}

// bodyHash identifies what a caller asked for: the message and the options it
// gave (not the defaults filled in, which change with time).
func bodyHash(msg *providers.Message, o *sendOptions) (string, error) {
	b, err := json.Marshal(struct {
		M *providers.Message `json:"m"`
		O *sendOptions       `json:"o"`
	}{msg, o})
	if err != nil {
		return "", fmt.Errorf("producer: hash message: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
