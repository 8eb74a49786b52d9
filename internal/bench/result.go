package bench

import (
	"slices"
	"time"
)

// Side is what one side (the pipeline or the baseline) measured.
type Side struct {
	// Messages is the number of messages sent.
	Messages int `json:"messages"`
	// Seconds is the time from the first enqueue to the last message's
	// receipt by the simulator.
	Seconds float64 `json:"seconds"`
	// MsgsPerSec is Messages / Seconds.
	MsgsPerSec float64 `json:"msgs_per_s"`
	// P50Ms, P90Ms and P99Ms are enqueue-to-provider latencies: the
	// simulator's receipt time minus the time the message was enqueued.
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
	// RoundTrips is Redis round trips per message, all clients of the
	// process; AsynqRoundTrips those whose keys are all asynq's (enqueue,
	// dequeue, done, polling, heartbeats); OwnRoundTrips the rest.
	RoundTrips      float64 `json:"redis_roundtrips_per_msg"`
	AsynqRoundTrips float64 `json:"asynq_roundtrips_per_msg"`
	OwnRoundTrips   float64 `json:"own_roundtrips_per_msg"`
	// RedisCPUMicros is Redis CPU time (used_cpu_sys + used_cpu_user) per
	// message in µs; nil when the bench did not start the Redis (or it is
	// the embedded one).
	RedisCPUMicros *float64 `json:"redis_cpu_us_per_msg"`
	// ProcessCPUMicros is the bench process's CPU time (user + system) per
	// message in µs: the worker (or the baseline's servers), the producer
	// loop and the simulator together; nil where the platform does not say.
	ProcessCPUMicros *float64 `json:"process_cpu_us_per_msg"`
	// PeakRSSMB is the bench process's peak RSS during the side (worker,
	// producer and simulator together), in MiB; over several rounds, the
	// lowest round's.
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// Ratios are the pipeline's figures divided by the baseline's.
type Ratios struct {
	// Throughput is over all rounds; ThroughputRounds is each round's.
	Throughput       float64   `json:"throughput"`
	ThroughputRounds []float64 `json:"throughput_rounds"`
	P50              float64   `json:"p50"`
	P99              float64   `json:"p99"`
	RoundTrips       float64   `json:"redis_roundtrips"`
	RedisCPU         *float64  `json:"redis_cpu"`
	PeakRSS          float64   `json:"peak_rss"`
}

// Result is one run: its settings, both sides and their ratios.
type Result struct {
	// Mode is "throughput" or "idle".
	Mode                string  `json:"mode"`
	Provider            string  `json:"provider"`
	Redis               string  `json:"redis"` // redis-server, embedded or external
	N                   int     `json:"n"`
	Rounds              int     `json:"rounds"`
	Users               int     `json:"users"`
	Recipients          int     `json:"recipients"`
	Servers             int     `json:"servers"`
	Concurrency         int     `json:"concurrency"`
	Quotas              bool    `json:"quotas"`
	LatencyMs           float64 `json:"latency_ms"`
	Payload             int     `json:"payload"`
	TaskCheckIntervalMs float64 `json:"task_check_interval_ms"`
	Procs               int     `json:"procs"` // GOMAXPROCS of the run
	Pipeline            Side    `json:"pipeline"`
	Baseline            Side    `json:"baseline"`
	Ratio               Ratios  `json:"ratio"`
}

func (r *Result) ratios() {
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	p, b := r.Pipeline, r.Baseline
	r.Ratio = Ratios{
		Throughput:       div(p.MsgsPerSec, b.MsgsPerSec),
		ThroughputRounds: r.Ratio.ThroughputRounds,
		P50:              div(p.P50Ms, b.P50Ms),
		P99:              div(p.P99Ms, b.P99Ms),
		RoundTrips:       div(p.RoundTrips, b.RoundTrips),
		PeakRSS:          div(p.PeakRSSMB, b.PeakRSSMB),
	}
	if p.RedisCPUMicros != nil && b.RedisCPUMicros != nil {
		v := div(*p.RedisCPUMicros, *b.RedisCPUMicros)
		r.Ratio.RedisCPU = &v
	}
}

// percentiles returns the p50, p90 and p99 of ds in milliseconds.
func percentiles(ds []time.Duration) (p50, p90, p99 float64) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s)-1) + 0.5)
		return float64(s[i]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.90), at(0.99)
}

// combine sums the rounds of one side: messages and seconds add up (the
// throughput is all messages over all the time), latency percentiles are
// over every message, per-message figures are means. The peak RSS is the
// lowest of the rounds' peaks: each bounds the worker's from above, and a
// later round's also holds the simulator's record of the rounds before.
func combine(rounds []Side, lats [][]time.Duration) Side {
	if len(rounds) == 1 {
		return rounds[0]
	}
	var c Side
	var all []time.Duration
	var redisCPU, procCPU float64
	redisOK, procOK := true, true
	for i, s := range rounds {
		c.Messages += s.Messages
		c.Seconds += s.Seconds
		n := float64(s.Messages)
		c.RoundTrips += s.RoundTrips * n
		c.AsynqRoundTrips += s.AsynqRoundTrips * n
		if s.RedisCPUMicros != nil {
			redisCPU += *s.RedisCPUMicros * n
		} else {
			redisOK = false
		}
		if s.ProcessCPUMicros != nil {
			procCPU += *s.ProcessCPUMicros * n
		} else {
			procOK = false
		}
		if i == 0 || s.PeakRSSMB < c.PeakRSSMB {
			c.PeakRSSMB = s.PeakRSSMB
		}
		all = append(all, lats[i]...)
	}
	n := float64(c.Messages)
	if n == 0 {
		return c
	}
	if c.Seconds > 0 {
		c.MsgsPerSec = n / c.Seconds
	}
	c.P50Ms, c.P90Ms, c.P99Ms = percentiles(all)
	c.RoundTrips /= n
	c.AsynqRoundTrips /= n
	c.OwnRoundTrips = c.RoundTrips - c.AsynqRoundTrips
	if redisOK {
		v := redisCPU / n
		c.RedisCPUMicros = &v
	}
	if procOK {
		v := procCPU / n
		c.ProcessCPUMicros = &v
	}
	return c
}
