package kv_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/kv"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
)

type testBundle struct {
	ctx context.Context
	rdb redis.UniversalClient
	kv  *kv.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	rdb := redistest.Start(t).Client()
	return &testBundle{ctx: context.Background(), rdb: rdb, kv: kv.New(rdb, "crm")}
}

// A single-use value is taken once: of concurrent takers exactly one gets it.
func TestTakeOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.kv.Set(b.ctx, "rc:wpT:task-1:wmU", []byte("code-1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got []string
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := b.kv.Take(b.ctx, "rc:wpT:task-1:wmU")
			if err == nil {
				mu.Lock()
				got = append(got, string(v))
				mu.Unlock()
			} else if !errors.Is(err, providers.ErrNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(got) != 1 || got[0] != "code-1" {
		t.Errorf("takers got %v, want exactly one code-1", got)
	}
}

// Keys live under the app's hash tag, with their TTL; apps do not share keys.
func TestKeysPerAppWithTTL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.kv.Set(b.ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl, err := b.rdb.PTTL(b.ctx, "msgd:{crm}:kv:k").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL = %v, %v; want (0, 1m]", ttl, err)
	}
	if _, err := kv.New(b.rdb, "other").Get(b.ctx, "k"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("another app's Get = %v, want ErrNotFound", err)
	}
	if err := b.kv.Set(b.ctx, "k", []byte("v"), 0); err == nil {
		t.Error("Set with TTL 0 succeeded")
	}
}

// SetNX writes only the first time.
func TestSetNX(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, want := range []bool{true, false} {
		ok, err := b.kv.SetNX(b.ctx, "used", []byte(strconv.Itoa(i)), time.Hour)
		if err != nil || ok != want {
			t.Fatalf("SetNX #%d = %v, %v; want %v", i, ok, err, want)
		}
	}
	if v, _ := b.kv.Get(b.ctx, "used"); string(v) != "0" {
		t.Errorf("value = %q, want the first write", v)
	}
	if err := b.kv.Delete(b.ctx, "used"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := b.kv.SetNX(b.ctx, "used", []byte("2"), time.Hour); !ok {
		t.Error("SetNX after Delete did not write")
	}
}

// Concurrent Updates of one key lose no increment.
func TestUpdateUnderContention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.kv.Update(b.ctx, "n", func(old []byte, found bool) ([]byte, time.Duration, bool) {
				n, _ := strconv.Atoi(string(old))
				return []byte(strconv.Itoa(n + 1)), time.Hour, true
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v, err := b.kv.Get(b.ctx, "n"); err != nil || string(v) != "8" {
		t.Errorf("n = %q, %v; want 8", v, err)
	}
	// write=false leaves the key alone.
	if err := b.kv.Update(b.ctx, "n", func([]byte, bool) ([]byte, time.Duration, bool) { return []byte("x"), time.Hour, false }); err != nil {
		t.Fatal(err)
	}
	if v, _ := b.kv.Get(b.ctx, "n"); string(v) != "8" {
		t.Errorf("n = %q after a no-write Update, want 8", v)
	}
}
