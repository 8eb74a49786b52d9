package worker

import (
	"context"
	"fmt"

	"github.com/msgdispatch/msgdispatch/internal/peak"
)

// peakGate defers non-urgent work due inside a peak window to a uniformly random
// point of the spread after it (step 3 of the pipeline).
func peakGate(rule peak.Rule) Gate {
	return GateFunc(func(_ context.Context, a *Attempt) error {
		if a.Job.Urgent {
			return nil
		}
		if at := rule.Defer(a.Now, nil); at.After(a.Now) {
			return Defer(at.Sub(a.Now), fmt.Sprintf("peak minute: moved to %s", at.Format("15:04:05")))
		}
		return nil
	})
}
