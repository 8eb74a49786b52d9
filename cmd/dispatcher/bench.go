package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/bench"
)

var benchCommand = command{
	name: "bench",
	synopsis: "[-n N] [-users M] [-servers S] [-concurrency C] [-quotas on|off] [-latency D] [-payload B] [-provider P]\n" +
		"                       [--idle K] [--sweep] [--redis ADDR] [--task-check-interval D] [--procs P] [--cpuprofile FILE] [--json-only]",
	notes: "Measures the dispatcher (real producer, Redis, real worker, provider simulator over HTTP) against a bare\n" +
		"asynq handler making the same HTTP request to the same simulator with the same servers, concurrency and\n" +
		"queues, in one run, and prints a table and one JSON line with both sides and their ratios.\n" +
		"--idle K enqueues K messages one at a time into idle queues and reports the pickup latency;\n" +
		"--sweep runs servers 1, 2, 4 × recipients per message 1, 10, 1000. No positional arguments.",
	example: "dispatcher bench -n 5000 -servers 1 -quotas off",
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 5000, "messages per side and round")
	rounds := fs.Int("rounds", 3, "times each side runs, alternating pipeline and baseline")
	users := fs.Int("users", 1000, "distinct recipients")
	servers := fs.Int("servers", 1, "asynq servers of the worker (and of the baseline)")
	concurrency := fs.Int("concurrency", 10, "tasks per server")
	quotas := fs.String("quotas", "on", "on: the provider's per-recipient windows and a daily cap; off: per_recipient: [] and no daily cap")
	latency := fs.Duration("latency", 0, "simulated provider latency per message request")
	payload := fs.Int("payload", 100, "bytes of text per message")
	provider := fs.String("provider", "wecom", "simulated provider: "+strings.Join(benchProviders(), ", "))
	idle := fs.Int("idle", 0, "idle pickup mode: K messages, one at a time into idle queues")
	sweep := fs.Bool("sweep", false, "run servers 1, 2, 4 × recipients per message 1, 10, 1000")
	redisAddr := fs.String("redis", "", "use this Redis (never flushed: only the run's own keys are written and deleted)")
	embedded := fs.Bool("embedded", false, "use the embedded Redis even when redis-server is on PATH")
	tci := fs.Duration("task-check-interval", 0, "worker.task_check_interval (default the config's, 100ms)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the pipeline side's first round to this file")
	jsonOnly := fs.Bool("json-only", false, "print only the JSON line")
	procs := fs.Int("procs", 0, "GOMAXPROCS of the run (default 0: the CPUs less one when the bench runs its own redis-server, leaving Redis a core; else unchanged)")
	if _, err := benchCommand.parse(fs, args, stdout); err != nil {
		return err
	}
	o := bench.Options{N: *n, Rounds: *rounds, Users: *users, Servers: *servers, Concurrency: *concurrency, Latency: *latency,
		Payload: *payload, Redis: *redisAddr, Embedded: *embedded, TaskCheckInterval: *tci, Progress: stderr,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Procs:  *procs, SpareRedisCore: *procs == 0}
	for _, c := range []struct {
		flag string
		v    int
	}{{"-n", *n}, {"-rounds", *rounds}, {"-users", *users}, {"-servers", *servers}, {"-concurrency", *concurrency}, {"-payload", *payload}} {
		if c.v < 1 {
			return fmt.Errorf("bench: %s %d: must be at least 1", c.flag, c.v)
		}
	}
	switch *quotas {
	case "on":
		o.Quotas = true
	case "off":
	default:
		return fmt.Errorf("bench: -quotas %q: want on or off", *quotas)
	}
	if *procs < 0 {
		return fmt.Errorf("bench: -procs %d: must not be negative", *procs)
	}
	if *latency < 0 {
		return fmt.Errorf("bench: -latency %s: must not be negative", *latency)
	}
	if *tci < 0 {
		return fmt.Errorf("bench: --task-check-interval %s: must not be negative", *tci)
	}
	if *idle < 0 {
		return fmt.Errorf("bench: --idle %d: must not be negative", *idle)
	}
	if *idle > 0 && *sweep {
		return fmt.Errorf("bench: --idle and --sweep: choose one")
	}
	sim, ok := benchSims[*provider]
	if !ok {
		return fmt.Errorf("bench: -provider %q: want one of %s", *provider, strings.Join(benchProviders(), ", "))
	}
	o.Sim = sim
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer f.Close()
		o.CPUProfile = f
	}
	start := time.Now()
	if *sweep {
		rs, err := bench.Sweep(ctx, o)
		if err != nil {
			return err
		}
		if !*jsonOnly {
			if err := bench.WriteSweep(stdout, rs); err != nil {
				return err
			}
		}
		return bench.WriteJSON(stdout, map[string]any{"sweep": rs})
	}
	if *idle > 0 {
		o.N = *idle
	}
	r, err := bench.Run(ctx, o, *idle > 0)
	if err != nil {
		return err
	}
	if !*jsonOnly {
		if err := bench.WriteTable(stdout, r); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "(%.1fs; figures are this machine's, ratios are pipeline ÷ baseline)\n", time.Since(start).Seconds())
	}
	return bench.WriteJSON(stdout, r)
}
