package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

// measure runs one side: it starts its consumers, enqueues the messages
// (all at once from one goroutine, or, idle, one at a time after the
// previous one arrived) and collects the side's figures.
func (e *env) measure(ctx context.Context, sd side, idle bool) (Side, []time.Duration, error) {
	n := e.o.N
	send, stop, err := sd.start(ctx, e)
	if err != nil {
		return Side{}, nil, err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	tci := e.cfg.Worker.TaskCheckInterval
	if idle {
		time.Sleep(2 * tci) // let the servers find their queues empty
	}
	e.rec.reset(sd.letter, n)
	resetPeakRSS()
	cpu0, cpuOK := e.redisCPU(ctx)
	proc0, procOK := processCPU()
	all0, asynq0 := e.hook.Counts()
	if e.o.CPUProfile != nil && sd.letter == 'p' && !idle && !e.profiled {
		e.profiled = true
		if err := pprof.StartCPUProfile(e.o.CPUProfile); err != nil {
			return Side{}, nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	var enqueued atomic.Int64
	done := make(chan struct{})
	defer close(done)
	if e.o.Progress != nil {
		go e.progress(sd.name, &enqueued, done)
	}

	enq := make([]time.Time, n)
	t0 := time.Now()
	for seq := range n {
		if idle {
			// A random point of the servers' polling cycle. A server that
			// found its queues empty sleeps tci/2 plus up to tci (asynq) and
			// looks again; its cycle starts over at each delivery. A wait
			// of under one cycle would land in the first sleep after the
			// last delivery and be late by its phase (p50 about 0.62×tci
			// instead of 0.5×tci); after one to four cycles the phase is
			// spread over the cycle, as a message arriving at any time
			// finds it.
			time.Sleep(tci + time.Duration(rand.Int64N(3*int64(tci)+1)))
		}
		enq[seq] = time.Now()
		if err := send(ctx, seq); err != nil {
			return Side{}, nil, err
		}
		enqueued.Add(1)
		if idle {
			if _, err := e.rec.wait(ctx, seq+1); err != nil {
				return Side{}, nil, fmt.Errorf("bench: %s: %w", sd.name, err)
			}
		}
	}
	last, err := e.rec.wait(ctx, n)
	if err != nil {
		return Side{}, nil, fmt.Errorf("bench: %s: %w", sd.name, err)
	}
	all1, asynq1 := e.hook.Counts()
	cpu1, cpuOK1 := e.redisCPU(ctx)
	proc1, procOK1 := processCPU()
	s := Side{Messages: n, Seconds: last.Sub(t0).Seconds(), PeakRSSMB: float64(peakRSS()) / (1 << 20)}
	if s.Seconds > 0 {
		s.MsgsPerSec = float64(n) / s.Seconds
	}
	got := e.rec.receipts()
	lat := make([]time.Duration, n)
	for i := range n {
		lat[i] = got[i].Sub(enq[i])
	}
	s.P50Ms, s.P90Ms, s.P99Ms = percentiles(lat)
	fn := float64(n)
	s.RoundTrips = float64(all1-all0) / fn
	s.AsynqRoundTrips = float64(asynq1-asynq0) / fn
	s.OwnRoundTrips = s.RoundTrips - s.AsynqRoundTrips
	if procOK && procOK1 {
		v := (proc1 - proc0).Seconds() * 1e6 / fn
		s.ProcessCPUMicros = &v
	}
	if cpuOK && cpuOK1 {
		v := (cpu1 - cpu0) * 1e6 / fn
		s.RedisCPUMicros = &v
	}
	return s, lat, nil
}

// progress writes one overwritten line every half second until done.
func (e *env) progress(name string, enqueued *atomic.Int64, done chan struct{}) {
	t0 := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			fmt.Fprintf(e.o.Progress, "\r%-100s\r", "")
			return
		case <-tick.C:
			fmt.Fprintf(e.o.Progress, "\rbench %s: enqueued %d/%d, at the provider %d/%d, %.1fs   ",
				name, enqueued.Load(), e.o.N, e.rec.progress(), e.o.N, time.Since(t0).Seconds())
		}
	}
}

// Run runs the pipeline and then the baseline, Rounds times, against the
// same Redis and simulator. idle enqueues one message at a time into idle queues, waiting
// for each to reach the simulator (N is then the number of messages).
func Run(ctx context.Context, o Options, idle bool) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	e, err := setupEnv(ctx, o)
	if err != nil {
		return nil, err
	}
	defer e.close()
	r := &Result{Mode: "throughput", Provider: e.sim.Provider, Redis: e.redis, N: o.N, Users: o.Users, Recipients: o.Recipients,
		Rounds: o.Rounds, Servers: o.Servers, Concurrency: o.Concurrency, Quotas: o.Quotas, LatencyMs: ms(o.Latency), Payload: o.Payload,
		TaskCheckIntervalMs: ms(e.cfg.Worker.TaskCheckInterval), Procs: e.procs}
	if idle {
		r.Mode = "idle"
	}
	// The sides alternate, round after round, so that a machine whose load
	// drifts weighs on both alike.
	var ps, bs []Side
	var plat, blat [][]time.Duration
	for range o.Rounds {
		p, pl, err := e.measure(ctx, pipelineSide, idle)
		if err != nil {
			return nil, err
		}
		b, bl, err := e.measure(ctx, baselineSide, idle)
		if err != nil {
			return nil, err
		}
		ps, plat = append(ps, p), append(plat, pl)
		bs, blat = append(bs, b), append(blat, bl)
		if p.MsgsPerSec > 0 && b.MsgsPerSec > 0 {
			r.Ratio.ThroughputRounds = append(r.Ratio.ThroughputRounds, p.MsgsPerSec/b.MsgsPerSec)
		}
	}
	r.Pipeline, r.Baseline = combine(ps, plat), combine(bs, blat)
	r.ratios()
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
