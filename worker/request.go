package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/sony/gobreaker/v2"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
)

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
