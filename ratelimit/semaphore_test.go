package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

func TestSemaphore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	a, b := NewSemaphore(srv.Client()), NewSemaphore(srv.Client()) // two "processes"
	key := SemaphoreKey("wecom", "ww1")
	var releases []func()
	for i := range 3 {
		s := a
		if i%2 == 1 {
			s = b
		}
		rel, ok, err := s.Acquire(ctx, key, 3, time.Minute)
		if err != nil || !ok {
			t.Fatalf("acquire %d: ok %v err %v", i, ok, err)
		}
		releases = append(releases, rel)
	}
	if _, ok, _ := b.Acquire(ctx, key, 3, time.Minute); ok {
		t.Fatal("a fourth holder got a slot of three")
	}
	if _, ok, _ := a.Acquire(ctx, SemaphoreKey("wecom", "ww2"), 3, time.Minute); !ok {
		t.Fatal("another company's semaphore is full too")
	}
	releases[0]()
	if _, ok, _ := b.Acquire(ctx, key, 3, time.Minute); !ok {
		t.Fatal("no slot after a release")
	}
	// A holder that dies frees its slot when its lease ends.
	dead := SemaphoreKey("wecom", "ww3")
	if _, ok, _ := a.Acquire(ctx, dead, 1, time.Millisecond); !ok {
		t.Fatal("first acquire failed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok, _ := b.Acquire(ctx, dead, 1, time.Minute); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired lease was never reclaimed")
		}
	}
}
