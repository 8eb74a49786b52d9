package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/bench"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	_ "github.com/msgdispatch/msgdispatch/providers/wecom" // registers the provider
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// wecom is the bench's simulator: a WeCom app on wecomsim.
func wecom() (*bench.Sim, error) {
	sim := wecomsim.New(wecomsim.Options{})
	const corp, agent, secret = "wwbenchtest00001", 1000002, "bench-test-secret"
	if err := sim.AddApp(wecomsim.App{CorpID: corp, AgentID: agent, Secret: secret}); err != nil {
		return nil, err
	}
	return &bench.Sim{Provider: "wecom", Handler: sim,
		AppYAML: func(url string) string {
			return fmt.Sprintf("    provider: wecom\n    wecom: {base_url: %q, corp_id: %s, agent_id: %d, secret: %q}\n", url, corp, agent, secret)
		},
		AddUsers: func(users ...string) { sim.AddUsers(corp, users...) },
	}, nil
}

type testBundle struct {
	ctx context.Context
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &testBundle{ctx: ctx}
}

// decode prints r as the JSON line and decodes it generically, as a reader
// of the bench's output would.
func decode(t *testing.T, v any) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := bench.WriteJSON(&buf, v); err != nil {
		t.Fatal(err)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("JSON output is not one line: %q", buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A tiny run end to end: both sides deliver every message, and the JSON
// line holds both sides' figures and their ratios, each present and sane.
func TestTinyRunJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		quotas bool
		idle   bool
	}{
		{desc: "quotas on", quotas: true},
		{desc: "quotas off", quotas: false},
		{desc: "idle pickup", quotas: true, idle: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			n := 50
			if tc.idle {
				n = 5
			}
			const rounds = 2
			r, err := bench.Run(b.ctx, bench.Options{Sim: wecom, N: n, Rounds: rounds, Users: 20, Quotas: tc.quotas, Payload: 64,
				TaskCheckInterval: 10 * time.Millisecond}, tc.idle)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, r)
			wantMode := "throughput"
			if tc.idle {
				wantMode = "idle"
			}
			if m["mode"] != wantMode || m["provider"] != "wecom" || m["n"] != float64(n) || m["quotas"] != tc.quotas {
				t.Errorf("settings = mode %v provider %v n %v quotas %v", m["mode"], m["provider"], m["n"], m["quotas"])
			}
			for _, name := range []string{"pipeline", "baseline"} {
				s, ok := m[name].(map[string]any)
				if !ok {
					t.Fatalf("%s: missing", name)
				}
				for _, f := range []string{"msgs_per_s", "p50_ms", "p90_ms", "p99_ms", "redis_roundtrips_per_msg", "asynq_roundtrips_per_msg", "peak_rss_mb"} {
					if v, ok := s[f].(float64); !ok || v <= 0 {
						t.Errorf("%s.%s = %v, want a positive number", name, f, s[f])
					}
				}
				if s["messages"] != float64(n*rounds) {
					t.Errorf("%s.messages = %v, want %d (%d rounds of %d)", name, s["messages"], n*rounds, rounds, n)
				}
				if s["p50_ms"].(float64) > s["p99_ms"].(float64) {
					t.Errorf("%s: p50 %v above p99 %v", name, s["p50_ms"], s["p99_ms"])
				}
				if _, ok := s["redis_cpu_us_per_msg"]; !ok {
					t.Errorf("%s.redis_cpu_us_per_msg: missing (null when unknown)", name)
				}
			}
			p, bl := r.Pipeline, r.Baseline
			// The pipeline's round trips beyond asynq's, producer included: 3
			// for a message alone, with quotas or without (the worker's
			// TestRoundTripsPerAcceptedMessage has the exact count). Here
			// handlers share round trips (the worker's group commit), and a
			// loaded machine may re-admit a part that waited past half the
			// margin (one more round trip for that message), so only a sane
			// range is checked: at least the producer's one per message, at
			// most 3 and a re-admission. (An idle run's few messages also
			// carry the background work of its seconds: not checked.)
			if own := p.OwnRoundTrips; !tc.idle && (own < 1 || own > 4.5) {
				t.Errorf("pipeline: %.2f round trips beyond asynq's per message, want 1 to 4.5", own)
			}
			if bl.OwnRoundTrips > 0.5 {
				t.Errorf("baseline: %.2f round trips beyond asynq's per message, want about 0", bl.OwnRoundTrips)
			}
			ratio := m["ratio"].(map[string]any)
			if per, _ := ratio["throughput_rounds"].([]any); len(per) != rounds {
				t.Errorf("ratio.throughput_rounds = %v, want one ratio per round (%d)", ratio["throughput_rounds"], rounds)
			}
			if v := ratio["throughput"].(float64); v <= 0 || v != p.MsgsPerSec/bl.MsgsPerSec {
				t.Errorf("ratio.throughput = %v, want %v", v, p.MsgsPerSec/bl.MsgsPerSec)
			}
			var table bytes.Buffer
			if err := bench.WriteTable(&table, r); err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"pipeline", "baseline", "latency p50", "beyond asynq's", "peak rss"} {
				if !strings.Contains(table.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, table.String())
				}
			}
		})
	}
}

// Settings a run would measure wrongly are refused before anything starts,
// naming what to change.
func TestOptionsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		o    bench.Options
		want string
	}{
		{desc: "quotas on, too many messages per user", o: bench.Options{Sim: wecom, N: 5000, Rounds: 3, Users: 100, Quotas: true}, want: "messages per user"},
		{desc: "negative rounds", o: bench.Options{Sim: wecom, Rounds: -1}, want: "rounds"},
		{desc: "negative procs", o: bench.Options{Sim: wecom, Procs: -1}, want: "procs"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := bench.Run(context.Background(), tc.o, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// A run on a Redis the bench did not start writes only into a database it
// claimed empty, and leaves it empty (the quota ledger's keys too); what
// others keep there is untouched.
func TestExternalRedisLeftAsFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := redistest.Start(t)
	foreign := map[int]string{0: "theirs:0", 15: "theirs:15"}
	for db, key := range foreign {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
		if err := c.Set(b.ctx, key, "keep", 0).Err(); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if _, err := bench.Run(b.ctx, bench.Options{Sim: wecom, Redis: srv.Addr, N: 20, Rounds: 1, Users: 10, Quotas: true,
		TaskCheckInterval: 10 * time.Millisecond}, false); err != nil {
		t.Fatal(err)
	}
	for db := 0; db <= 15; db++ {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: db})
		keys, err := c.Keys(b.ctx, "*").Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if _, ok := foreign[db]; ok {
			want = 1
		}
		if len(keys) != want || (want == 1 && keys[0] != foreign[db]) {
			t.Errorf("db %d holds %v after the run, want only what was there before (%q)", db, keys, foreign[db])
		}
	}
}
