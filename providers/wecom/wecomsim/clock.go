package wecomsim

import (
	"time"

	"github.com/msgdispatch/msgdispatch/providers/simkit"
)

// ManualClock is a clock that only moves when told to, for [Options.Clock] in
// tests (see simkit.ManualClock).
type ManualClock = simkit.ManualClock

// NewManualClock returns a clock reading start.
func NewManualClock(start time.Time) *ManualClock { return simkit.NewManualClock(start) }
