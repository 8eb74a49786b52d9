package bench

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Options configure a run. Zero values take the defaults named.
type Options struct {
	// Sim makes the provider simulator. Required.
	Sim NewSim
	// N is the number of messages per side and round. Default 5000.
	N int
	// Rounds is how many times each side runs, alternating (pipeline,
	// baseline, pipeline, …), each with N messages: on a machine whose load
	// drifts, both sides see it alike. The figures are over all rounds; the
	// throughput ratio is also given per round. Default 3.
	Rounds int
	// Users is the number of distinct recipients (message i goes to user
	// i mod Users, and the next Recipients-1). Default 1000.
	Users int
	// Recipients is the number of users per message. Default 1.
	Recipients int
	// Servers is the number of asynq servers of the worker (and of the
	// baseline). Default 1.
	Servers int
	// Concurrency is the number of tasks one server runs at once. Default 10.
	Concurrency int
	// Quotas keeps the app's per-recipient windows (the provider's
	// defaults) and sets a daily cap of 10,000,000; false sets
	// per_recipient: [] and no daily cap.
	Quotas bool
	// Latency is how long the simulator takes to answer a message request.
	// Default 0.
	Latency time.Duration
	// Payload is the size of each message's text in bytes. Default 100.
	Payload int
	// TaskCheckInterval is worker.task_check_interval (and the baseline's
	// asynq TaskCheckInterval). Default the config's default (100ms).
	TaskCheckInterval time.Duration
	// Redis is the address of a Redis to use instead of starting one. The
	// bench never flushes it: it claims an empty database (15 down to 1),
	// runs there and deletes its keys at the end. Its Redis CPU is not
	// reported (other clients share it).
	Redis string
	// Embedded uses the embedded Redis even when redis-server is on PATH.
	Embedded bool
	// Timeout bounds each side. Default 3 minutes.
	Timeout time.Duration
	// Progress receives a progress line while a side runs. nil: none.
	Progress io.Writer
	// CPUProfile, when set, receives a CPU profile of the pipeline side's
	// first round (throughput mode).
	CPUProfile io.Writer
	// Procs, when above 0, is GOMAXPROCS for the run (restored after it).
	// Default 0: unchanged, unless SpareRedisCore.
	Procs int
	// SpareRedisCore, when Procs is 0 and the bench starts its own
	// redis-server, runs with GOMAXPROCS one less than the machine's CPUs (at
	// least 1): Redis then has a core the process's threads do not also run
	// on, as it would on a machine of its own, instead of the Go scheduler's
	// idle threads spinning on the core Redis needs. `dispatcher bench` sets
	// it unless told -procs. Default false.
	SpareRedisCore bool
	// Logger receives the worker's and asynq's logs. Default: discarded (a
	// side that does not finish is an error saying how far it got).
	Logger *slog.Logger
}

func (o *Options) defaults() error {
	if o.Sim == nil {
		return fmt.Errorf("bench: Options.Sim is required")
	}
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	set(&o.N, 5000)
	set(&o.Rounds, 3)
	set(&o.Users, 1000)
	set(&o.Recipients, 1)
	set(&o.Servers, 1)
	set(&o.Concurrency, 10)
	set(&o.Payload, 100)
	for _, c := range []struct {
		name string
		v    int
	}{{"n", o.N}, {"rounds", o.Rounds}, {"users", o.Users}, {"recipients", o.Recipients}, {"servers", o.Servers}, {"concurrency", o.Concurrency}, {"payload", o.Payload}} {
		if c.v < 1 {
			return fmt.Errorf("bench: %s must be at least 1, got %d", c.name, c.v)
		}
	}
	if o.Recipients > o.Users {
		return fmt.Errorf("bench: recipients (%d) must be at most users (%d)", o.Recipients, o.Users)
	}
	if o.N > 99_999_999 {
		return fmt.Errorf("bench: n must be at most 99999999, got %d", o.N)
	}
	// A user gets Rounds × N × Recipients / Users pipeline messages in a
	// minute or so: with quotas, more than 25 would meet the per-recipient
	// window (30 a minute by default) and measure the booking, not the send.
	if per := o.Rounds * o.N * o.Recipients / o.Users; o.Quotas && per > 25 {
		return fmt.Errorf("bench: rounds × n × recipients / users = %d messages per user with quotas on: at most 25 (the per-recipient window is 30 a minute); raise users or lower n or rounds", per)
	}
	if o.Procs < 0 {
		return fmt.Errorf("bench: procs must not be negative, got %d", o.Procs)
	}
	if o.Latency < 0 || o.TaskCheckInterval < 0 {
		return fmt.Errorf("bench: latency and task check interval must not be negative")
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
