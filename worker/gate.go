package worker

import (
	"context"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
)

// Gate is one admission step between "this message may be sent" and the send:
// peak-minute avoidance, the provider breaker, quotas. Admit returns nil to let
// the attempt go on, a *DeferError (see Defer) to try again later without
// spending the failure budget, or another error to fail the run.
type Gate interface {
	Admit(ctx context.Context, a *Attempt) error
}

// GateFunc adapts a function to a Gate.
type GateFunc func(ctx context.Context, a *Attempt) error

// Admit calls f.
func (f GateFunc) Admit(ctx context.Context, a *Attempt) error { return f(ctx, a) }

// Attempt is what a gate sees of the run it admits.
type Attempt struct {
	Job    *job.Send
	Record *record.Record
	Now    time.Time
}
