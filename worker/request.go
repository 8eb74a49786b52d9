package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// beforeRequest admits one provider request: this process's call rate for the
// app, the (provider, app) breaker, and the company's cluster-wide concurrency. A
// refusal is a *DeferError. after must be called with the request's outcome.
func (w *Worker) beforeRequest(ctx context.Context, j *job.Send, prov providers.Provider) (after func(error), err error) {
	app := w.cfg.Apps[j.Message.App]
	if err := w.rates[j.Message.App].Wait(ctx); err != nil {
		return nil, Defer(0, "worker shutting down")
	}
	cb := w.breakers.get(prov.Name(), j.Message.App)
	done, err := cb.Allow()
	if err != nil { // open, or its half-open probe is already out
		return nil, Defer(w.cfg.Worker.Breaker.Timeout, fmt.Sprintf("circuit breaker %s/%s: %v", prov.Name(), j.Message.App, err))
	}
	key := ratelimit.SemaphoreKey(prov.Name(), corpOf(app, j.Message.Tenant))
	release, ok, err := w.sem.Acquire(ctx, key, app.Limits.Concurrency, w.cfg.Worker.SendTimeout+5*time.Second)
	if err != nil || !ok {
		done(context.Canceled) // not a provider outcome
		if err != nil {
			return nil, err
		}
		return nil, Defer(100*time.Millisecond+rand.N(400*time.Millisecond), fmt.Sprintf("%d requests already in flight to the company", app.Limits.Concurrency))
	}
	return func(err error) { release(); done(err) }, nil
}

// breakerGate defers work of an app whose breaker is open, before quota is charged.
func (w *Worker) breakerGate() Gate {
	return GateFunc(func(_ context.Context, a *Attempt) error {
		prov := w.providers[a.Job.Message.App]
		if w.breakers.get(prov.Name(), a.Job.Message.App).State() == gobreaker.StateOpen {
			return Defer(w.cfg.Worker.Breaker.Timeout, fmt.Sprintf("circuit breaker %s/%s is open", prov.Name(), a.Job.Message.App))
		}
		return nil
	})
}

// corpOf is the provider company a request of app for tenant goes to (it
// scopes the company semaphore).
func corpOf(app config.App, tenant string) string { return app.Block.Company(tenant) }

// asDefer runs a deferral through deferRun, and returns other errors as they are.
func (w *Worker) asDefer(ctx context.Context, rec *record.Record, j *job.Send, err error) error {
	var d *DeferError
	if errors.As(err, &d) {
		return w.deferRun(ctx, rec, j, d.For, d.Reason)
	}
	return err
}
