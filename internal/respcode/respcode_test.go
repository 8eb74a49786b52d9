package respcode_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/internal/respcode"
)

type testBundle struct {
	ctx   context.Context
	store *respcode.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{ctx: context.Background(), store: respcode.New(redistest.Start(t).Client())}
}

// A code is taken once: of concurrent takers exactly one gets it.
func TestTakeOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.store.Put(b.ctx, "crm", "wpT", "task-1", "wmU", "code-1", time.Hour); err != nil {
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
			code, err := b.store.Take(b.ctx, "crm", "wpT", "task-1", "wmU")
			if err == nil {
				mu.Lock()
				got = append(got, code)
				mu.Unlock()
			} else if !errors.Is(err, respcode.ErrNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(got) != 1 || got[0] != "code-1" {
		t.Errorf("takers got %v, want exactly one code-1", got)
	}
}

// Codes are kept per (app, tenant, task, user); the latest click's wins.
func TestCodesAreKeyedAndReplaced(t *testing.T) {
	t.Parallel()
	b := setup(t)
	put := func(app, tenant, task, user, code string) {
		t.Helper()
		if err := b.store.Put(b.ctx, app, tenant, task, user, code, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	put("crm", "wpT", "task", "wmU", "old")
	put("crm", "wpT", "task", "wmU", "new")
	put("crm", "wpT", "task", "wmu", "lower") // encrypted ids are case-sensitive
	put("crm", "", "task", "wmU", "self-built")
	put2 := b.store.Put(b.ctx, "crm", "a:b", "c", "d", "colon", time.Hour)
	if put2 != nil {
		t.Fatal(put2)
	}
	for _, tt := range []struct{ tenant, task, user, want string }{
		{"wpT", "task", "wmU", "new"},
		{"wpT", "task", "wmu", "lower"},
		{"", "task", "wmU", "self-built"},
		{"a", "b:c", "d", ""}, // a ':' cannot shift the parts
		{"a:b", "c", "d", "colon"},
	} {
		code, err := b.store.Take(b.ctx, "crm", tt.tenant, tt.task, tt.user)
		if code != tt.want || (tt.want == "" && !errors.Is(err, respcode.ErrNotFound)) {
			t.Errorf("Take(%q, %q, %q) = %q, %v; want %q", tt.tenant, tt.task, tt.user, code, err, tt.want)
		}
	}
}

func TestCodesExpire(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client()
	s := respcode.New(rdb)
	ctx := context.Background()
	if err := s.Put(ctx, "crm", "", "task", "u", "c", 72*time.Hour); err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(ctx, respcode.Key("crm", "", "task", "u")).Result()
	if err != nil || ttl <= 71*time.Hour || ttl > 72*time.Hour {
		t.Errorf("TTL %v, %v; want 72h", ttl, err)
	}
}
