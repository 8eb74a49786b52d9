package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redisconn"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// sentinelLossWindow is how long before a failover an acknowledged message
// may still be lost: Redis replicates asynchronously, so what the master
// acknowledged but had not yet sent to its replica is gone with it. The
// README states the same window.
const sentinelLossWindow = time.Second

// TestSentinelFailover: the producer and a worker reach Redis through three
// sentinels (redis.sentinel); messages flow while the sentinels fail the
// master over to its replica (SENTINEL FAILOVER). Every message whose Send
// returned at least sentinelLossWindow before the failover began is
// delivered, and so is every message acknowledged after it ended; the worker
// and the producer go on without a restart.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a master, a replica and three sentinels and fails the master over (~20 s)")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sen := redistest.StartSentinel(t)

	sim := wecomsim.New(wecomsim.Options{})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.AddApp(wecomsim.App{CorpID: testCorp, AgentID: testAgent, Secret: testSecret}); err != nil {
		t.Fatal(err)
	}
	users := make([]string, 20)
	for i := range users {
		users[i] = fmt.Sprintf("u%02d", i)
	}
	sim.AddUsers(testCorp, users...)
	cfg, err := config.Parse(fmt.Appendf(nil, `
redis: %s
peak: {enabled: false}
worker: {concurrency: 10, task_check_interval: 10ms, delayed_task_check_interval: 100ms,
         send_timeout: 5s, shutdown_timeout: 10s}
apps:
  %s:
    provider: wecom
    wecom: {base_url: %q, corp_id: %s, agent_id: %d, secret: %q}
    limits: {per_recipient: []}
`, sen.YAML(), testApp, url, testCorp, testAgent, testSecret), nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := redisconn.Open(ctx, cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	w, err := worker.New(worker.Options{Config: cfg, Redis: rdb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	p := producer.New(cfg, rdb)

	type acked struct {
		id, text  string
		began, at time.Time // Send called, Send returned
	}
	var (
		mu       sync.Mutex
		sent     []acked
		failures int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the producer: a message every 20 ms until stopped
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			text := fmt.Sprintf("m%04d", i)
			began := time.Now()
			id, err := p.Send(ctx, providers.Message{App: testApp, To: providers.Recipients{Users: []string{users[i%len(users)]}},
				Kind: providers.KindText, Text: text})
			mu.Lock()
			if err != nil {
				failures++
			} else {
				sent = append(sent, acked{id, text, began, time.Now()})
			}
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(sent) }
	// Let the flow run, fail over, and go on until 50 more messages were acknowledged.
	for count() < 100 {
		time.Sleep(20 * time.Millisecond) // polling the producer goroutine's progress
	}
	failoverStart := time.Now()
	newMaster, err := sen.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failoverEnd := time.Now()
	// The clients follow once the sentinels announce the new master
	// (+switch-master): from then on the shared client talks to it.
	var followed time.Time
	for {
		info, err := rdb.Info(ctx, "server").Result()
		if err == nil && strings.Contains(info, "tcp_port:"+portOf(newMaster)+"\r\n") {
			followed = time.Now()
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the client never followed the new master %s", newMaster)
		}
		time.Sleep(20 * time.Millisecond) // polling go-redis' view of the master
	}
	t.Logf("failover to %s took %s; the client followed %s after it", newMaster,
		failoverEnd.Sub(failoverStart).Round(time.Millisecond), followed.Sub(failoverEnd).Round(time.Millisecond))
	for n := count(); count() < n+60; { // 50 and the few begun before the client followed
		if ctx.Err() != nil {
			t.Fatalf("the producer acknowledged %d messages after the failover, want 60", count()-n)
		}
		time.Sleep(20 * time.Millisecond) // polling the producer goroutine's progress
	}
	close(stop)
	<-done

	mu.Lock()
	defer mu.Unlock()
	var before, after, between []acked
	for _, a := range sent {
		switch {
		case a.at.Before(failoverStart.Add(-sentinelLossWindow)):
			before = append(before, a)
		case a.began.After(followed):
			after = append(after, a)
		default:
			between = append(between, a)
		}
	}
	t.Logf("%d messages acknowledged: %d at least %s before the failover, %d sent after the client followed, %d in between; %d sends refused",
		len(sent), len(before), sentinelLossWindow, len(after), len(between), failures)
	if len(after) < 50 {
		t.Errorf("%d messages sent after the client followed the new master, want ≥ 50", len(after))
	}
	delivered := map[string]bool{}
	for _, u := range users {
		for _, d := range sim.Deliveries(u) {
			delivered[d.Content] = true
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 60*time.Second)
	defer wcancel()
	for _, group := range []struct {
		name string
		msgs []acked
	}{{"acknowledged before the failover", before}, {"sent after the client followed", after}} {
		for _, a := range group.msgs {
			rec := waitTerminal(t, wctx, rdb, testApp, a.id)
			if rec == nil || rec.State != record.Accepted {
				t.Errorf("%s (%s, %s at %s; failover %s–%s): %+v, want accepted", a.id, a.text, group.name, a.at.Format(time.StampMilli),
					failoverStart.Format(time.StampMilli), failoverEnd.Format(time.StampMilli), rec)
				continue
			}
		}
	}
	for _, u := range users {
		for _, d := range sim.Deliveries(u) {
			delivered[d.Content] = true
		}
	}
	for _, a := range append(before, after...) {
		if !delivered[a.text] {
			t.Errorf("%s (%s) acknowledged at %s: not delivered", a.id, a.text, a.at.Format(time.StampMilli))
		}
	}
	lost := 0
	for _, a := range between {
		if !delivered[a.text] {
			lost++
		}
	}
	t.Logf("of the %d acknowledged between, %d not delivered (allowed: the loss window)", len(between), lost)
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
