package worker_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/bench"
	"github.com/msgdispatch/msgdispatch/providers"
)

// countingHook counts Redis round trips (a pipeline or MULTI is one), split
// into asynq's own and the dispatcher's. A round trip is asynq's when every
// command in it names a key starting with "asynq:" (asynq's keys, and the
// keys its enqueue, dequeue and done scripts are given); a command without a
// key (PING, SCRIPT LOAD, …) is counted as the dispatcher's, to be safe. The
// handshake of a new connection (HELLO, CLIENT SETINFO) is not counted.
type countingHook struct {
	n, asynq atomic.Int64
	// log, when set, receives the commands of each dispatcher round trip.
	mu  sync.Mutex
	log *[]string
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.count(cmds)
		return next(ctx, cmds)
	}
}

func (h *countingHook) count(cmds []redis.Cmder) {
	handshake := true
	for _, c := range cmds {
		switch strings.ToLower(c.Name()) {
		case "hello", "client", "auth", "select":
		default:
			handshake = false
		}
	}
	if handshake { // a new connection's set-up, not a message's round trip
		return
	}
	h.n.Add(1)
	ours := false
	for _, c := range cmds {
		ours = ours || !bench.IsAsynqCmd(c)
	}
	if !ours {
		h.asynq.Add(1)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.log != nil {
		var names []string
		for _, c := range cmds {
			names = append(names, describe(c))
		}
		*h.log = append(*h.log, strings.Join(names, " + "))
	}
}

// dispatcher is the number of the dispatcher's round trips so far.
func (h *countingHook) dispatcher() int64 { return h.n.Load() - h.asynq.Load() }

// reset zeroes the counters and starts logging the dispatcher's round trips.
func (h *countingHook) reset() *[]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n.Store(0)
	h.asynq.Store(0)
	h.log = new([]string)
	return h.log
}

func describe(c redis.Cmder) string {
	if keys := bench.KeysOf(c); len(keys) > 0 {
		return c.Name() + " " + keys[0]
	}
	return c.Name()
}

// BenchmarkEndToEnd sends b.N single-recipient text messages through the producer,
// Redis, one worker process (2 asynq servers, concurrency 10 each) and the WeCom
// simulator over HTTP, and reports messages per second and Redis round trips per
// message: all of them, asynq's own (enqueue, dequeue, done, polling) and the
// dispatcher's (producer and worker).
//
//	go test -run '^$' -bench EndToEnd -benchtime 3000x ./worker/
func BenchmarkEndToEnd(b *testing.B) {
	for _, bc := range []struct {
		desc   string
		quotas bool
	}{
		{desc: "quotas", quotas: true},
		{desc: "no-quotas", quotas: false},
	} {
		b.Run(bc.desc, func(b *testing.B) {
			bb := setupRoundTrips(b, bc.quotas, "  servers: 2")
			users := make([]string, 500)
			for i := range users {
				users[i] = fmt.Sprintf("u%03d", i)
			}
			bb.sim.AddUsers(testCorp, users...)
			bb.hook.reset()
			b.ResetTimer()
			for i := range b.N {
				user := users[i%len(users)]
				if _, err := bb.producer.Send(bb.ctx, providers.Message{App: testApp, To: providers.Recipients{Users: []string{user}},
					Kind: providers.KindText, Text: fmt.Sprintf("message %d", i)}); err != nil {
					b.Fatal(err)
				}
			}
			if err := bb.sim.WaitDeliveries(bb.ctx, b.N); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(n/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(bb.hook.n.Load())/n, "redis-roundtrips/msg")
			b.ReportMetric(float64(bb.hook.asynq.Load())/n, "asynq-roundtrips/msg")
			b.ReportMetric(float64(bb.hook.dispatcher())/n, "dispatcher-roundtrips/msg")
		})
	}
}

// setupRoundTrips is the bundle of the round-trip measurements: a WeCom app
// with its default quotas, or with none (an app whose provider has no
// per-recipient limits), and no rate smoothing.
func setupRoundTrips(tb testing.TB, quotas bool, workerYAML string) *testBundle {
	bb := setup(tb, func(o *setupOpts) {
		o.workerYAML = workerYAML
		o.appYAML = "    limits: {rate: 100000}" // measure the pipeline, not the smoother
		o.noWorker = true
	})
	if !quotas {
		app := bb.cfg.Apps[testApp]
		app.Limits.PerRecipient, app.Limits.Daily = nil, 0
		bb.cfg.Apps[testApp] = app
	}
	bb.worker = bb.startWorker()
	return bb
}
