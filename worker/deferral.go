package worker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// DeferError asks for the task to run again after For, without spending the
// message's failure budget and without counting as a failure in asynq.
type DeferError struct {
	For    time.Duration
	Reason string
}

func (e *DeferError) Error() string { return fmt.Sprintf("deferred %s: %s", e.For, e.Reason) }

// Defer returns a *DeferError: run the task again after d because of reason.
func Defer(d time.Duration, reason string) error { return &DeferError{For: max(d, 0), Reason: reason} }

// retryError is a failed attempt to be retried after a backoff computed from the
// failure budget spent.
type retryError struct {
	After time.Duration
	Err   error
}

func (e *retryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.After, e.Err) }
func (e *retryError) Unwrap() error { return e.Err }

// isFailure tells asynq which errors are failures: everything but a deferral.
func isFailure(err error) bool {
	var d *DeferError
	return !errors.As(err, &d)
}

// retryDelay is asynq's RetryDelayFunc: deferrals and retries carry their own
// delay; anything else (Redis unreachable, a bug) backs off by asynq's count.
func retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var d *DeferError
	if errors.As(err, &d) {
		return d.For
	}
	var r *retryError
	if errors.As(err, &r) {
		return r.After
	}
	return backoff(n + 1)
}

const (
	backoffBase = time.Second
	backoffMax  = 5 * time.Minute
)

// backoff is the delay before retry number n (from 1): exponential from 1s,
// capped at 5m, with jitter over its upper half so that retries of a burst spread.
func backoff(n int) time.Duration {
	d := backoffMax
	if n < 20 {
		d = min(backoffBase<<max(n-1, 0), backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}
