package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// The send path's Redis round trips for one accepted single-recipient message
// (asynq's own aside; README "How a message travels"):
//
//	producer  create the record (marked to be enqueued), in the round trip of
//	          asynq's enqueue script (producer/enqueue_redis.go)
//	worker    quota admission (quotas on)
//	          begin: first-run checks + tombstone check + company slot + part sending + ledger sending (one script)
//	          settle: ledger sent + part + record state + event (one script) + give the slot back,
//	          in the round trip of asynq's completion of the task (complete_redis.go)
//
// That is a first run (first_run.go). A later run, and a first run on Redis
// Cluster, first reads the record, tombstone, pauses and newest update and
// takes a company slot (one pipeline), then begins with the plain begin
// script. The token comes from the process's copy (tokenstore Options.Local).

// quotaOn reports whether app has quotas to enforce: per-recipient windows, a
// daily cap, or tenants whose seats make one. Without, the quota steps
// (admission, ledger) are skipped.
func (w *Worker) quotaOn(app string) bool {
	a := w.cfg.Apps[app]
	return len(a.Limits.PerRecipient) > 0 || a.Limits.Daily > 0 || a.MultiTenant()
}

// pipelined runs fn as one pipeline, in one round trip with the pipelines
// of other handlers that reach Redis at the same time (batch.go). When a
// script in it was not in Redis' script cache (Redis restarted), it loads the
// send path's scripts and runs fn once more: a command refused with NOSCRIPT
// did nothing, and the others of fn are reads or idempotent.
func (w *Worker) pipelined(ctx context.Context, fn func(redis.Pipeliner) error) error {
	for attempt := 0; ; attempt++ {
		p := w.rdb.Pipeline()
		if err := fn(p); err != nil {
			return err
		}
		cmds := p.Cmds()
		err := w.batch.exec(ctx, cmds)
		if attempt == 0 && err != nil && noScript(cmds) {
			if err := w.records.LoadScripts(ctx); err != nil {
				return err
			}
			if err := w.sem.Load(ctx); err != nil {
				return err
			}
			if err := w.quota.Load(ctx); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

func noScript(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// semaphoreOf is the company semaphore a request of j goes through, and its limit.
func (w *Worker) semaphoreOf(j *job.Send, prov providers.Provider) (key string, limit int, lease time.Duration) {
	app := w.cfg.Apps[j.Message.App]
	return ratelimit.SemaphoreKey(prov.Name(), corpOf(app, j.Message.Tenant)), app.Limits.Concurrency, w.cfg.Worker.SendTimeout + 5*time.Second
}

// inFlight is one admitted provider request: its company slot and its breaker
// ticket.
type inFlight struct {
	lease *ratelimit.Lease // nil until a first run's begin took it
	done  func(error)
}

// end gives the slot back and reports the outcome to the breaker.
func (f *inFlight) end(ctx context.Context, err error) {
	if f.lease != nil {
		f.lease.Release(context.WithoutCancel(ctx))
	}
	f.done(err)
}

// beforeRequest admits one provider request of r: this process's call rate
// for the app, the (provider, app) breaker, and the company's cluster-wide
// concurrency — the slot r held when the run took one with its first read (it
// is then used, and r.held set to nil); a first run on an assumed record
// takes it in its begin (BeginFirst). A refusal is a *DeferError.
func (w *Worker) beforeRequest(ctx context.Context, r *sendRun) (*inFlight, error) {
	j, prov := r.j, r.prov
	if err := w.rates[j.Message.App].Wait(ctx); err != nil {
		return nil, Defer(0, "worker shutting down")
	}
	cb := w.breakers.get(prov.Name(), j.Message.App)
	done, err := cb.Allow()
	if err != nil { // open, or its half-open probe is already out
		return nil, Defer(w.cfg.Worker.Breaker.Timeout, fmt.Sprintf("circuit breaker %s/%s: %v", prov.Name(), j.Message.App, err))
	}
	if r.rec.IsAssumed() {
		return &inFlight{done: done}, nil
	}
	lease := r.held
	r.held = nil
	if lease == nil {
		key, limit, d := w.semaphoreOf(j, prov)
		lease, err = w.sem.QueueAcquire(ctx, w.rdb, key, limit, d)()
		if err != nil || lease == nil {
			done(context.Canceled) // not a provider outcome
			if err != nil {
				return nil, err
			}
			return nil, w.slotsBusy(j)
		}
	}
	return &inFlight{lease: lease, done: done}, nil
}

// slotsBusy is the deferral of a request whose company has every slot taken.
func (w *Worker) slotsBusy(j *job.Send) error {
	return Defer(100*time.Millisecond+rand.N(400*time.Millisecond), fmt.Sprintf("%d requests already in flight to the company", w.cfg.Apps[j.Message.App].Limits.Concurrency))
}

// begin marks part i sending before its request leaves — attempt number and
// time in the record, its recipients in the quota ledger — in one step with
// checking the tombstone (record.Begin): a re-run after a crash then tells
// "never left" from "may have left" (G3), and no request leaves after a cancel
// (G2). On a record assumed as its producer wrote it, the same step checks
// that assumption and takes req's company slot (record.BeginFirst). Refused,
// it writes nothing and leaves rec as it was: the error wraps
// record.ErrCancelled or record.ErrAssumed, or is a *DeferError when the
// ledger refused (the next run re-admits the part) or no slot was free.
func (w *Worker) begin(ctx context.Context, r *sendRun, i int, req *inFlight) error {
	rec, j := r.rec, r.j
	p := &rec.Parts[i]
	was, state, wait, at := *p, rec.State, rec.Wait, rec.UpdatedAt
	now := w.now()
	p.State = record.PartSending
	p.Attempts++
	p.SentAt = now
	if p.FirstSentAt.IsZero() {
		p.FirstSentAt = now
	}
	rec.State, rec.Wait, rec.UpdatedAt = record.Sending, nil, now
	undo := func() { *p, rec.State, rec.Wait, rec.UpdatedAt = was, state, wait, at }
	var call *ratelimit.LedgerCall
	if w.quotaOn(j.Message.App) {
		var err error
		if call, err = w.quota.PrepareMarkSending(w.ref(j, p)); err != nil {
			undo()
			return fmt.Errorf("message %s: quota ledger: %w", j.ID, err)
		}
	}
	var reply any
	var err error
	if rec.IsAssumed() {
		reply, err = w.beginFirst(ctx, r, i, call, req)
	} else {
		reply, err = w.records.Begin(context.WithoutCancel(ctx), rec, i, call, w.liveTTL(rec))
	}
	if err == nil {
		return nil
	}
	undo()
	if errors.Is(err, record.ErrSemaphoreFull) {
		return w.slotsBusy(j)
	}
	if errors.Is(err, record.ErrLedgerRefused) && call != nil {
		tr, terr := call.Transition(reply)
		if terr != nil || len(tr.Refused) == 0 {
			return errors.Join(err, terr)
		}
		r := tr.Refused[0]
		return Defer(0, fmt.Sprintf("quota ledger refused %s (%s): re-admitting", r.Recipient, r.Why))
	}
	return err
}

// settleAccepted records that part i was accepted — the ledger's "sent", the
// part, the record's state and, when it is the message's last, its terminal
// state and event — in one script call, pipelined with giving the company
// slot back; when the message is finished, in the round trip of the task's
// completion (complete_redis.go). It reports whether the message is finished.
func (w *Worker) settleAccepted(ctx context.Context, rec *record.Record, j *job.Send, i int, req *inFlight) (bool, error) {
	now := w.now()
	rec.UpdatedAt = now
	final := len(rec.Booked) == 0
	for _, q := range rec.Parts {
		final = final && q.State != record.PartPending
	}
	typ, detail := "", ""
	if final {
		rec.State, rec.Wait, rec.FinishedAt = outcome(rec, false), nil, now
		typ, detail = string(rec.State), rec.Reason
	}
	var call *ratelimit.LedgerCall
	if w.quotaOn(j.Message.App) {
		c, err := w.quota.PrepareMarkSent(w.ref(j, &rec.Parts[i]))
		if err != nil {
			w.log.Warn("quota ledger not updated; the next run repairs it", "message", j.ID, "err", err)
		}
		call = c
	}
	st, err := w.records.PrepareSettle(rec, i, call, typ, detail, w.liveTTL(rec), w.stateTTL(rec))
	if err != nil {
		req.end(ctx, nil)
		return false, err
	}
	queue := func(ctx context.Context, p redis.Pipeliner) {
		st.Queue(ctx, p)
		req.lease.QueueRelease(ctx, p)
	}
	result := func() error {
		reply, err := st.Result()
		if err != nil {
			return err
		}
		if call != nil {
			if tr, err := call.Transition(reply); err != nil || len(tr.Refused) > 0 {
				w.log.Warn("quota ledger not updated; the next run repairs it", "message", j.ID, "err", err)
			}
		}
		return nil
	}
	// The message's last write leaves with the task's completion
	// (complete_redis.go): nothing follows it in this run.
	handedOver := final && w.settles != nil && w.settles.add(ctx, &pendingSettle{queue: queue, after: func() bool { return result() == nil }})
	if !handedOver {
		perr := w.pipelined(context.WithoutCancel(ctx), func(p redis.Pipeliner) error {
			queue(ctx, p)
			return nil
		})
		if err := result(); err != nil {
			req.done(nil)
			return false, errors.Join(err, perr)
		}
	}
	req.done(nil)
	if final && w.log.Enabled(ctx, slog.LevelInfo) {
		w.log.Info("message finished", "message", rec.ID, "state", rec.State, "parts", len(rec.Parts), "failures", rec.Failures)
	}
	return final, nil
}

// liveTTL is how long a record that has not ended lives.
func (w *Worker) liveTTL(rec *record.Record) time.Duration {
	wc := w.cfg.Worker
	return max(rec.Job.ExpiresAt.Sub(w.now())+wc.Retention, wc.Retention)
}
