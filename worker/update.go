package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
)

// takeOverLockScript renews the update lease when token already holds it.
var takeOverLockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// updateLease bounds how long one update task holds a message's lease
// without finishing (a crashed task's lease lapses after it).
const updateLease = 5 * time.Minute

// newestContent renders msg with the newest update of the message, if any,
// and returns its sequence number (0: the original content).
func (w *Worker) newestContent(getNewest func() (int64, *record.Content, error), caps providers.Capabilities, msg *providers.Message) (int64, error) {
	seq, c, err := getNewest()
	if err != nil || c == nil || caps.UpdateOnly(c.Kind) {
		return 0, err // update-only content (a new button text) only changes a message already sent
	}
	msg.Kind, msg.Text, msg.Body = c.Kind, c.Text, c.Body
	return seq, nil
}

// markRendered records, after the send rendered parts with update seq, that
// seq went out with the send itself and older pending updates are superseded.
func (w *Worker) markRendered(ctx context.Context, rec *record.Record, seq int64) {
	if seq == 0 {
		return
	}
	now := w.now()
	uw := record.UpdateWrite{}
	for s := int64(1); s < seq; s++ {
		uw.Entries = append(uw.Entries, record.UpdateEntry{Seq: s, State: record.UpdateSuperseded, At: now, Reason: fmt.Sprintf("update %d was newer when the send rendered its parts", seq)})
	}
	uw.Entries = append(uw.Entries, record.UpdateEntry{Seq: seq, State: record.UpdateRendered, At: now})
	if err := w.records.WriteUpdates(context.WithoutCancel(ctx), rec.App, rec.ID, uw, w.stateTTL(rec)); err != nil {
		w.log.Warn("update history not written", "message", rec.ID, "err", err)
		return
	}
	if err := w.records.PublishUpdate(context.WithoutCancel(ctx), rec.App, rec.ID, uw.Entries[len(uw.Entries)-1]); err != nil {
		w.log.Warn("update event not published", "message", rec.ID, "err", err)
	}
}

// stateTTL is how long a message's record and side state are kept after it
// ends: worker.retention, or worker.interactive_ttl for cards.
func (w *Worker) stateTTL(rec *record.Record) time.Duration {
	wc := w.cfg.Worker
	if rec.Job != nil {
		if prov, ok := w.providers[rec.App]; ok && prov.Capabilities().Updatable(rec.Job.Message.Kind) {
			return max(wc.Retention, wc.InteractiveTTL)
		}
	}
	return wc.Retention
}

// handleUpdate is the coalescing update task of one message: it applies the
// newest content to every recipient already sent an older one, and runs
// again while newer updates arrive.
func (w *Worker) handleUpdate(ctx context.Context, t *asynq.Task) error {
	ref, err := job.DecodeRef(t.Payload())
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	prov, ok := w.providers[ref.App]
	if !ok {
		return Defer(time.Minute, fmt.Sprintf("app %q is not configured on this worker", ref.App))
	}
	// The lease names the task: a run of the same task that asynq recovered
	// after its worker died takes the dead run's lease over instead of
	// waiting it out (asynq never runs one task twice at once).
	var b [8]byte
	_, _ = rand.Read(b[:])
	token := "run:" + hex.EncodeToString(b[:])
	if tid, ok := asynq.GetTaskID(ctx); ok {
		token = "task:" + tid
	}
	got, err := w.records.AcquireUpdateLock(ctx, ref.App, ref.ID, token, updateLease)
	if err != nil {
		return err
	}
	if !got {
		if got, err = takeOverLockScript.Run(ctx, w.rdb, []string{record.UpdateLockKey(ref.App, ref.ID)}, token, updateLease.Milliseconds()).Bool(); err != nil {
			return err
		}
	}
	if !got {
		return Defer(time.Second, "another update task of this message is running")
	}
	for {
		d, err := w.records.UpdateData(ctx, ref.App, ref.ID)
		if err != nil {
			w.records.ReleaseUpdateLock(context.WithoutCancel(ctx), ref.App, ref.ID, token)
			return err
		}
		if err := w.applyUpdate(ctx, ref, prov, d); err != nil {
			w.records.ReleaseUpdateLock(context.WithoutCancel(ctx), ref.App, ref.ID, token)
			return err
		}
		done, err := w.records.FinishUpdate(context.WithoutCancel(ctx), ref.App, ref.ID, token, d.Seq)
		if err != nil || done {
			return err
		}
	}
}

// applyUpdate applies update d.NewestSeq. Only the upd hash is written.
func (w *Worker) applyUpdate(ctx context.Context, ref *job.Ref, prov providers.Provider, d *record.UpdateData) error {
	n := d.NewestSeq
	if n == 0 || d.Newest == nil {
		return nil
	}
	now := w.now()
	rec, err := w.records.Get(ctx, ref.App, ref.ID)
	if errors.Is(err, record.ErrNotFound) {
		return fmt.Errorf("message %s: no delivery record: %w", ref.ID, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	ttl := w.stateTTL(rec) + max(rec.Job.ExpiresAt.Sub(now), 0)
	endAll := func(reason string) error {
		uw := record.UpdateWrite{}
		for s := int64(1); s <= n; s++ {
			uw.Entries = append(uw.Entries, record.UpdateEntry{Seq: s, State: record.UpdateFailed, At: now, Reason: reason})
		}
		if err := w.records.WriteUpdates(ctx, ref.App, ref.ID, uw, ttl); err != nil {
			return err
		}
		return w.records.PublishUpdate(context.WithoutCancel(ctx), ref.App, ref.ID, uw.Entries[len(uw.Entries)-1])
	}
	if tomb, err := w.records.Tombstone(ctx, ref.App, ref.ID); err != nil {
		return err
	} else if tomb != nil {
		return endAll("the message is cancelled: " + tomb.Reason)
	}
	switch rec.State {
	case record.Cancelled, record.Failed, record.Expired, record.Unknown:
		return endAll(fmt.Sprintf("the message ended %s: %s", rec.State, rec.Reason))
	}
	// Content the provider cannot apply to this message is refused here,
	// before any code is marked consumed or taken: nothing is used up by a
	// request that would never leave. (The producer refuses it at enqueue;
	// this guards update state written before it did.)
	if rec.Job != nil {
		if err := catalog.ValidateUpdate(w.cfg.Apps[ref.App], &rec.Job.Message, d.Newest.Kind, d.Newest.Text, d.Newest.Body); err != nil {
			uw := record.UpdateWrite{}
			for s := int64(1); s < n; s++ {
				uw.Entries = append(uw.Entries, record.UpdateEntry{Seq: s, State: record.UpdateSuperseded, At: now, Reason: fmt.Sprintf("update %d is newer", n)})
			}
			uw.Entries = append(uw.Entries, record.UpdateEntry{Seq: n, State: record.UpdateFailed, At: now, Reason: "the content cannot apply to this message: " + err.Error()})
			if err := w.records.WriteUpdates(ctx, ref.App, ref.ID, uw, ttl); err != nil {
				return err
			}
			return w.records.PublishUpdate(context.WithoutCancel(ctx), ref.App, ref.ID, uw.Entries[len(uw.Entries)-1])
		}
	}
	// Parts rendered with older content and not done yet: wait for them (a
	// message always ends by its expires_at, so this wait is bounded).
	for _, p := range rec.Parts {
		if !p.State.Done() && p.ContentSeq < n && !rec.State.Terminal() {
			return Defer(time.Second, fmt.Sprintf("part %d (content of update %d) is not sent yet", p.Index, p.ContentSeq))
		}
	}
	results := map[string]record.RecipientState{}
	updated, unreachable := 0, 0
	var retry error
	for i := range rec.Parts {
		p := &rec.Parts[i]
		if p.State != record.PartAccepted {
			continue
		}
		var need []string
		for _, u := range p.To.Users {
			if rs, ok := d.Users[u]; ok && rs.State == record.RecipientUpdated && rs.Seq >= n {
				continue
			}
			if p.ContentSeq >= n {
				continue
			}
			if p.Result != nil && containsFold(p.Result.Invalid.Users, u) {
				continue
			}
			need = append(need, u)
		}
		if len(need) == 0 {
			continue
		}
		res, err := w.updatePart(ctx, rec, p, prov, d, need)
		for u, rs := range res {
			results[u] = rs
			if rs.State == record.RecipientUpdated {
				updated++
			} else {
				unreachable++
			}
		}
		if err != nil {
			retry = err
			break
		}
	}
	uw := record.UpdateWrite{Users: results}
	if retry == nil {
		for s := int64(1); s < n; s++ {
			uw.Entries = append(uw.Entries, record.UpdateEntry{Seq: s, State: record.UpdateSuperseded, At: now, Reason: fmt.Sprintf("update %d is newer", n)})
		}
		e := record.UpdateEntry{Seq: n, State: record.UpdateApplied, At: now}
		switch {
		case updated == 0 && unreachable > 0:
			e.State, e.Reason = record.UpdateUnreachable, fmt.Sprintf("%d recipients update_unreachable (see recipients)", unreachable)
		case unreachable > 0:
			e.Reason = fmt.Sprintf("%d recipients updated, %d update_unreachable (see recipients)", updated, unreachable)
		}
		if updated == 0 && unreachable == 0 && len(rec.Parts) == 0 {
			e.State = record.UpdatePending // nothing sent yet: the send renders it
		}
		if e.State != record.UpdatePending {
			uw.Entries = append(uw.Entries, e)
		}
	}
	if err := w.records.WriteUpdates(context.WithoutCancel(ctx), ref.App, ref.ID, uw, ttl); err != nil {
		return err
	}
	if retry == nil && len(uw.Entries) > 0 {
		if err := w.records.PublishUpdate(context.WithoutCancel(ctx), ref.App, ref.ID, uw.Entries[len(uw.Entries)-1]); err != nil {
			w.log.Warn("update event not published", "message", ref.ID, "err", err)
		}
	}
	return retry
}

// updatePart asks the provider to give the users need of accepted part p
// the newest content. The provider keeps its own rules (WeCom's single-use
// response codes) and reports each user updated or unreachable; an error
// means the rest was not tried and the task is retried.
func (w *Worker) updatePart(ctx context.Context, rec *record.Record, p *record.Part, prov providers.Provider, d *record.UpdateData, need []string) (map[string]record.RecipientState, error) {
	n, c := d.NewestSeq, d.Newest
	out := map[string]record.RecipientState{}
	// prev is the content the user sees now: the newest update applied to
	// them (an update_unreachable entry keeps the seq the user still sees),
	// else what their part was sent with.
	prev := func(u string) int64 {
		if rs, ok := d.Users[u]; ok && rs.Seq > p.ContentSeq && (rs.State == record.RecipientUpdated || rs.State == record.RecipientUnreachable) {
			return rs.Seq
		}
		return p.ContentSeq
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.Worker.SendTimeout)
	defer cancel()
	res, err := prov.Update(sctx, &providers.UpdateRequest{MessageID: rec.ID, Generation: p.Generation, Part: &p.Part, Sent: p.Result,
		Users: need, Content: providers.Content{Kind: c.Kind, Text: c.Text, Body: c.Body}})
	now := w.now()
	if res != nil {
		for _, u := range res.Updated {
			out[u] = record.RecipientState{Seq: n, State: record.RecipientUpdated, At: now}
		}
		for u, reason := range res.Unreachable {
			out[u] = record.RecipientState{Seq: prev(u), State: record.RecipientUnreachable, Reason: reason, At: now}
		}
	}
	if err == nil {
		return out, nil
	}
	switch providers.ClassOf(err) {
	case providers.ClassRetryable, providers.ClassThrottled, providers.ClassAppDisabled:
		return out, w.updateRetry(ctx, err)
	case providers.ClassPermanent:
		for _, u := range need { // refused for good: nothing else will change for them
			if _, done := out[u]; !done {
				out[u] = record.RecipientState{Seq: prev(u), State: record.RecipientUnreachable, Reason: "the update failed: " + err.Error(), At: now}
			}
		}
		return out, nil
	default:
		return out, w.updateRetry(ctx, err) // a store blip
	}
}

// updateRetry turns a failure the provider refused before applying into a
// retry of the update task, or ends it once the failure budget is spent.
func (w *Worker) updateRetry(ctx context.Context, err error) error {
	if n, ok := asynq.GetRetryCount(ctx); ok && n+1 >= w.cfg.Worker.FailureBudget {
		return fmt.Errorf("update: failure budget spent: %w: %w", err, asynq.SkipRetry)
	}
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Class == providers.ClassThrottled {
		return Defer(max(pe.RetryAfter, time.Second), "throttled by the provider: "+err.Error())
	}
	n, _ := asynq.GetRetryCount(ctx)
	return &retryError{After: backoff(n + 1), Err: err}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
