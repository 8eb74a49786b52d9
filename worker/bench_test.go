package worker_test

import (
	"fmt"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

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
			bb.hook.Reset()
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
			all, asynq := bb.hook.Counts()
			b.ReportMetric(float64(all)/n, "redis-roundtrips/msg")
			b.ReportMetric(float64(asynq)/n, "asynq-roundtrips/msg")
			b.ReportMetric(float64(all-asynq)/n, "dispatcher-roundtrips/msg")
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
