package worker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/sony/gobreaker/v2"

	"github.com/msgdispatch/msgdispatch/internal/metrics"
	"github.com/msgdispatch/msgdispatch/providers"
)

// observeSend logs the one line of a send task's run — its outcome with the
// message id, app, provider, attempt, duration and error class — and counts
// a message that this run finished. Neither the message's content nor any
// credential is logged: the line holds ids, states and classes, and the
// error text only of a run that ended in error or a retry (provider errors
// name the API and the provider's code, never a token or a body).
func (w *Worker) observeSend(ctx context.Context, t *asynq.Task, r *sendRun, start time.Time, err error) {
	var d *DeferError
	var re *retryError
	deferred, retried := errors.As(err, &d), errors.As(err, &re)
	finished := r != nil && !deferred && !retried && r.rec.State.Terminal()
	if finished {
		w.metrics.Finished(r.j.Message.App, string(r.rec.State))
	}
	if !w.log.Enabled(ctx, slog.LevelInfo) { // the line's attributes cost allocations
		return
	}
	taskID, _ := asynq.GetTaskID(ctx)
	retries, _ := asynq.GetRetryCount(ctx)
	attrs := []any{"task", taskID, "duration", time.Since(start).Round(time.Microsecond)}
	attempt := retries + 1
	outcome, class := "", ""
	switch {
	case r == nil && err == nil:
		outcome = "done_before" // a repeated run of a finished message
	case deferred:
		outcome, class = "deferred", deferReason(d.Reason)
	case retried:
		outcome, class = "retry", providers.ClassOf(re.Err).String()
		attrs = append(attrs, "err", re.Err.Error())
	case finished:
		outcome, class = string(r.rec.State), r.lastClass
	case err != nil:
		outcome, class = "error", "internal"
		attrs = append(attrs, "err", err.Error())
	default:
		outcome = string(r.rec.State) // waiting for booked recipients
	}
	if r != nil {
		attempt = r.rec.Runs
		attrs = append(attrs, "message", r.j.ID, "app", r.j.Message.App, "provider", r.prov.Name())
	}
	attrs = append(attrs, "attempt", attempt, "outcome", outcome, "error_class", class)
	w.log.Info("send task", attrs...)
}

// deferReason is the metrics reason of a deferral, from the reason text the
// pipeline's steps give it.
func deferReason(reason string) string {
	switch {
	case strings.HasPrefix(reason, "peak minute"):
		return metrics.ReasonPeak
	case strings.HasPrefix(reason, "quota"):
		return metrics.ReasonQuota
	case strings.HasPrefix(reason, "circuit breaker"):
		return metrics.ReasonBreaker
	case strings.HasPrefix(reason, "throttled"):
		return metrics.ReasonThrottled
	case strings.Contains(reason, "requests already in flight"):
		return metrics.ReasonConcurrency
	case strings.HasPrefix(reason, "app paused"), strings.HasPrefix(reason, "tenant paused"):
		return metrics.ReasonPaused
	default:
		return metrics.Other
	}
}

// requestClass is the metrics class of a provider request's outcome.
func requestClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	default:
		return providers.ClassOf(err).String()
	}
}

// breakerState is the metrics value of a breaker state.
func breakerState(s gobreaker.State) int {
	switch s {
	case gobreaker.StateOpen:
		return metrics.BreakerOpen
	case gobreaker.StateHalfOpen:
		return metrics.BreakerHalfOpen
	default:
		return metrics.BreakerClosed
	}
}

// countedTokens counts the access token fetches of one app.
type countedTokens struct {
	providers.TokenStore
	m   *metrics.Metrics
	app string
}

// Token counts each fetch the store makes (a refresh) and whether it failed.
func (c countedTokens) Token(ctx context.Context, key string, fetch providers.FetchFunc) (string, error) {
	return c.TokenStore.Token(ctx, key, func(ctx context.Context) (string, time.Duration, error) {
		tok, life, err := fetch(ctx)
		c.m.TokenFetched(c.app, err != nil)
		return tok, life, err
	})
}
