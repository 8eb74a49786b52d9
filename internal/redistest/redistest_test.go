package redistest

import (
	"context"
	"errors"
	"os/exec"
	"testing"

	"github.com/redis/go-redis/v9"
)

// modes are the values of EnvVar the tests run under; "auto" is a real
// redis-server wherever one is installed.
var modes = []string{"auto", KindMiniredis}

func TestServersAreIndependent(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a, b := start(t, mode), start(t, mode)
			if a.Addr == b.Addr {
				t.Fatalf("both servers on %s", a.Addr)
			}
			if a.Addr == "127.0.0.1:6379" || b.Addr == "127.0.0.1:6379" {
				t.Fatal("a test server took the shared Redis port")
			}
			ca, cb := a.Client(), b.Client()
			if err := ca.Set(ctx, "only-in-a", "1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if got, err := ca.Get(ctx, "only-in-a").Result(); err != nil || got != "1" {
				t.Fatalf("GET on a = %q, %v", got, err)
			}
			if err := cb.Get(ctx, "only-in-a").Err(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET on b = %v, want redis.Nil", err)
			}
			if a.Real() != (a.Kind() == KindRedisServer) {
				t.Fatalf("Real() = %v with Kind() = %s", a.Real(), a.Kind())
			}
			if mode == KindMiniredis && a.Kind() != KindMiniredis {
				t.Fatalf("Kind() = %s, want %s", a.Kind(), KindMiniredis)
			}
		})
	}
}

func TestKillAndRestart(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := start(t, mode)
			rdb := s.Client()
			if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			addr := s.Addr

			s.Kill() // skips on miniredis
			if err := rdb.Ping(ctx).Err(); err == nil {
				t.Fatal("PING answered after Kill")
			}

			s.Restart()
			if s.Addr != addr {
				t.Fatalf("Restart moved the server from %s to %s", addr, s.Addr)
			}
			if err := rdb.Ping(ctx).Err(); err != nil {
				t.Fatalf("PING after Restart: %v", err)
			}
			if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET after Restart = %v, want redis.Nil (empty data)", err)
			}
		})
	}
}

func TestRestartWhileRunning(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := start(t, mode)
			rdb := s.Client()
			if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			s.Restart()
			if err := rdb.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET after Restart = %v, want redis.Nil (empty data)", err)
			}
		})
	}
}

// A server started with AOF comes back from SIGKILL with what it had fsynced.
func TestStartWithAOFKeepsDataAcrossKill(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server")
	}
	t.Parallel()
	s := StartWith(t, "--appendonly", "yes", "--appendfsync", "always")
	ctx := context.Background()
	rdb := s.Client()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := rdb.ConfigGet(ctx, "appendonly").Result(); err != nil || got["appendonly"] != "yes" {
		t.Fatalf("CONFIG GET appendonly = %v, %v", got, err)
	}
	s.Kill()
	s.Restart()
	if got, err := rdb.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET after Kill and Restart = %q, %v, want v", got, err)
	}
}
