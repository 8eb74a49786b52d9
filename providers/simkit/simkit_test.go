package simkit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestManualClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewManualClock(start)
	if got := c.Advance(time.Minute); !got.Equal(start.Add(time.Minute)) || !c.Now().Equal(got) {
		t.Errorf("Advance = %v, Now = %v", got, c.Now())
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Errorf("after Set: %v", c.Now())
	}
}

// Wait returns once a Notify makes cond true, and with ctx's error when none does.
func TestSignalWait(t *testing.T) {
	t.Parallel()
	var s Signal
	var n atomic.Int32
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background(), func() bool { return n.Load() >= 3 }) }()
	for range 3 {
		n.Add(1)
		s.Notify()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Wait(ctx, func() bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context = %v", err)
	}
}
