package worker_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/providers"
)

// countingHook counts Redis round trips (a pipeline or MULTI is one).
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// BenchmarkEndToEnd sends b.N single-recipient text messages through the producer,
// Redis, one worker process (2 asynq servers, concurrency 10 each) and the WeCom
// simulator over HTTP, and reports messages per second and Redis round trips per
// message — all of them: producer, worker, asynq's enqueue, dequeue and polling.
//
//	go test -run '^$' -bench EndToEnd -benchtime 2000x ./worker/
func BenchmarkEndToEnd(b *testing.B) {
	bb := setup(b, func(o *setupOpts) {
		o.workerYAML = "  servers: 2"
		o.appYAML = "    limits: {rate: 100000}" // measure the pipeline, not the smoother
	})
	users := make([]string, 500)
	for i := range users {
		users[i] = fmt.Sprintf("u%03d", i)
	}
	bb.sim.AddUsers(testCorp, users...)
	bb.hook.n.Store(0)
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(bb.hook.n.Load())/float64(b.N), "redis-roundtrips/msg")
}
