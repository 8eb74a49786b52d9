package devredis

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestKeyExpiresWithWallClock(t *testing.T) {
	t.Parallel()
	e, err := Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	rdb := redis.NewClient(&redis.Options{Addr: e.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	if err := rdb.Set(ctx, "k", "v", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Exists(ctx, "k").Result(); err != nil || n != 1 {
		t.Fatalf("key right after SET: exists=%d err=%v", n, err)
	}
	set := time.Now()
	// Wait for the condition (key gone), bounded by a deadline.
	deadline := set.Add(5 * time.Second)
	for {
		n, err := rdb.Exists(ctx, "k").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key with a 300ms TTL still exists after 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// No lower bound is asserted: the clock advances by whole ticks (100ms), so
	// a key may expire up to a tick early, and a timing assertion would be flaky.
}

func TestCloseStopsClock(t *testing.T) {
	t.Parallel()
	e, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	select {
	case <-e.clock.done:
	default:
		t.Fatal("clock goroutine still running after Close")
	}
	e.Close() // idempotent
}

func TestClockAdvancesByElapsedTimeAndStops(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		total time.Duration
		ticks = make(chan struct{}, 100)
	)
	c := newTTLClock(func(d time.Duration) {
		mu.Lock()
		total += d
		mu.Unlock()
		select {
		case ticks <- struct{}{}:
		default:
		}
	}, time.Millisecond)
	began := time.Now()
	c.start()
	for range 3 {
		select {
		case <-ticks:
		case <-time.After(5 * time.Second):
			t.Fatal("clock did not tick")
		}
	}
	c.shutdown()
	elapsed := time.Since(began)
	mu.Lock()
	got := total
	mu.Unlock()
	if got <= 0 || got > elapsed {
		t.Fatalf("advanced %v in total; want >0 and <= wall time %v", got, elapsed)
	}
	select {
	case <-c.done:
	default:
		t.Fatal("goroutine still running after shutdown")
	}
	mu.Lock()
	after := total
	mu.Unlock()
	if after != got {
		t.Fatal("clock advanced after shutdown returned")
	}
	c.shutdown() // idempotent
}

func TestStartBadAddr(t *testing.T) {
	t.Parallel()
	e, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// The port is taken: a second server on it must fail, not panic.
	e2, err := Start(e.Addr())
	if err == nil {
		e2.Close()
		t.Fatal("Start on a taken address succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) { // redistest retries on it
		t.Fatalf("Start on a taken address: %v; want it to wrap EADDRINUSE", err)
	}
}
