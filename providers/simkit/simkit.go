// Package simkit holds what the provider simulators (wecomsim, xiezuosim,
// wps365sim) share: a manual clock for tests, a change signal that lets a
// test wait on what a simulator did instead of on time, a receipt-time quota
// audit ([Audit]: exact sliding windows per app and recipient, recording or
// dropping what exceeds them) and seeded probabilistic transport faults
// ([FaultRates]: 5xx, lost answers, latency). Provider packages do not
// import it; only simulators do.
package simkit

import (
	"context"
	"sync"
	"time"
)

// ManualClock is a clock that only moves when told to, for a simulator's
// clock option in tests: token expiry, limit windows and signed dates then
// follow Advance and Set instead of the wall clock. It is safe for
// concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock returns a clock reading start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{t: start} }

// Now returns the clock's time; pass the method value as the clock option.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d and returns the new time.
func (c *ManualClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Set moves the clock to t. Moving it backwards is allowed but makes windows
// meaningless for what was already received.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Signal tells waiters that something changed. The zero value is ready to
// use; it is safe for concurrent use.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// current returns the channel the next Notify closes.
func (s *Signal) current() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes every waiter.
func (s *Signal) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
	}
	s.ch = make(chan struct{})
}

// Wait blocks until cond reports true or ctx ends. cond is checked at once
// and again after each Notify; it is called with no lock of the Signal held,
// so it may read the simulator's state.
func (s *Signal) Wait(ctx context.Context, cond func() bool) error {
	for {
		ch := s.current()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
