package tokenstore

import (
	"context"
	"testing"
	"time"
)

func TestLocalCopy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		elapsed time.Duration // after the token was fetched (lifetime 2h, refresh point 1h36m)
		// invalidate: Invalidate the token before the call.
		invalidate bool
		wantCmds   int // Redis commands of the Token call
		wantFetch  bool
	}{
		{desc: "fresh copy: no Redis call", elapsed: time.Hour, wantCmds: 0},
		{desc: "past the refresh point: Redis decides", elapsed: 100 * time.Minute, wantCmds: 1, wantFetch: true},
		{desc: "invalidated: fetched again", elapsed: time.Minute, invalidate: true, wantCmds: 1, wantFetch: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			rdb := b.srv.Client()
			log := &commandLog{}
			rdb.AddHook(log)
			s := New(rdb, Options{Now: b.clock.now, Local: true})
			b.seed(t, s, "old", 2*time.Hour)
			b.clock.advance(tc.elapsed)
			if tc.invalidate {
				if err := s.Invalidate(ctx, b.key, "old"); err != nil {
					t.Fatal(err)
				}
			}
			log.take()
			f := fixed("new", 2*time.Hour, nil)
			tok, err := s.Token(ctx, b.key, f.fetch)
			if err != nil {
				t.Fatal(err)
			}
			cmds := log.take()
			if tc.wantCmds == 0 && len(cmds) != 0 {
				t.Errorf("Token sent %v; want nothing", cmds)
			}
			if tc.wantCmds > 0 && (len(cmds) == 0 || cmds[0] != "get") {
				t.Errorf("Token sent %v; want a GET first", cmds)
			}
			if fetched := f.calls.Load() == 1; fetched != tc.wantFetch {
				t.Errorf("fetched = %v, want %v", fetched, tc.wantFetch)
			}
			if want := map[bool]string{false: "old", true: "new"}[tc.wantFetch]; tok != want {
				t.Errorf("Token = %q, want %q", tok, want)
			}
		})
	}
}

// Another process's newer token is not dropped by invalidating an older one,
// nor is this process's newer copy.
func TestLocalCopyKeptOnStaleInvalidate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := b.newStore(Options{Local: true})
	b.seed(t, s, "B", 2*time.Hour)
	if err := s.Invalidate(ctx, b.key, "A"); err != nil {
		t.Fatal(err)
	}
	if err := b.rdb.Del(ctx, b.keys().tok).Err(); err != nil { // only the local copy is left
		t.Fatal(err)
	}
	if tok, err := s.Token(ctx, b.key, mustNotFetch(t)); err != nil || tok != "B" {
		t.Fatalf("Token = %q, %v; want the local B", tok, err)
	}
}

// A reader that loaded a token from Redis before it was invalidated cannot put
// it back into the local copy afterwards (found by worker's
// TestDrillTokenRevokedWPS: the invalidating caller got the refused token back).
func TestLocalCopyRefusesDroppedToken(t *testing.T) {
	t.Parallel()
	var c localCache
	c.put("k", &entry{Tok: "old"})
	c.drop("k", "old")
	c.put("k", &entry{Tok: "old"}) // a late reader keeps what it read
	if e := c.get("k"); e != nil {
		t.Fatalf("local copy holds %q after it was invalidated", e.Tok)
	}
	c.put("k", &entry{Tok: "new"})
	if e := c.get("k"); e == nil || e.Tok != "new" {
		t.Fatalf("local copy = %v, want new", e)
	}
}
