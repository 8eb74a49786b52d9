package worker_test

// Fault drills (issue 15): Redis SIGKILLed under AOF, a provider outage, tokens
// revoked mid-run, a network partition between the worker and Redis. Each
// prints its figures; run them with
//
//	go test -run TestDrill -v ./worker/
//
// MSGDISPATCH_DRILL_FULL=1 runs the outage and the partition for 30 s instead
// of 3 s.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// drillFaultDuration is how long an outage or a partition lasts: 3 s, or 30 s
// with MSGDISPATCH_DRILL_FULL=1.
func drillFaultDuration() time.Duration {
	if os.Getenv("MSGDISPATCH_DRILL_FULL") == "1" {
		return 30 * time.Second
	}
	return 3 * time.Second
}

func skipDrillShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault drill")
	}
}

// drillUser is the recipient of drill message i: one member per message, so
// no per-member quota slows a drill down.
func drillUser(b *testBundle, i int) string {
	u := fmt.Sprintf("drill%03d", i)
	b.sim.AddUsers(testCorp, u)
	return u
}

// countingTransport counts the requests that leave through it.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// startDrillWorker starts an in-process worker on rdb whose provider calls
// go through ct.
func startDrillWorker(t *testing.T, b *testBundle, rdb redis.UniversalClient, ct *countingTransport) {
	t.Helper()
	w, err := worker.New(worker.Options{Config: b.cfg, Redis: rdb, HTTPClient: &http.Client{Transport: ct},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
}

// deliveriesByText counts the simulator's deliveries per message text.
func deliveriesByText(sim *wecomsim.Sim) map[string]int {
	n := map[string]int{}
	for _, d := range sim.Deliveries("") {
		n[d.Content]++
	}
	return n
}

// Redis SIGKILLed under appendonly yes / appendfsync everysec, then restarted
// on the same port and directory: every enqueue acknowledged at least 1 s
// before the kill is delivered.
func TestDrillRedisKilledUnderAOF(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	const early, late = 40, 200
	b := setup(t, func(o *setupOpts) {
		o.noWorker = true
		o.redisArgs = []string{"--appendonly", "yes", "--appendfsync", "everysec"}
	})
	users := make([]string, early+late)
	for i := range users {
		users[i] = drillUser(b, i)
	}
	var earlyTexts []string
	for i := range early {
		text := fmt.Sprintf("aof early %d", i)
		b.send(text, users[i])
		earlyTexts = append(earlyTexts, text)
	}
	lastEarly := time.Now()
	// Enqueues keep coming up to the kill: these may be lost (up to 1 s of
	// writes); the kill lands 1.2 s after the last early one was acknowledged.
	var lateAcked []time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range late {
			_, err := b.producer.Send(b.ctx, providers.Message{App: testApp, To: providers.Recipients{Users: []string{users[early+i]}},
				Kind: providers.KindText, Text: fmt.Sprintf("aof late %d", i)})
			if err != nil {
				return
			}
			lateAcked = append(lateAcked, time.Now())
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(1200 * time.Millisecond) // the window under test
	b.redis.Kill()
	killed := time.Now()
	<-done
	b.redis.Restart()
	b.worker = b.startWorker()

	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := b.sim.WaitFor(ctx, func() bool {
		n := deliveriesByText(b.sim)
		for _, text := range earlyTexts {
			if n[text] == 0 {
				return false
			}
		}
		return true
	}); err != nil {
		n := deliveriesByText(b.sim)
		missing := 0
		for _, text := range earlyTexts {
			if n[text] == 0 {
				missing++
			}
		}
		t.Fatalf("%d of %d enqueues acknowledged %v before the kill not delivered", missing, early, killed.Sub(lastEarly).Round(time.Millisecond))
	}
	// Let the late survivors finish too before counting them.
	time.Sleep(500 * time.Millisecond)
	n := deliveriesByText(b.sim)
	lateDelivered, dup := 0, 0
	for text, c := range n {
		if c > 1 {
			dup++
		}
		if len(text) > 8 && text[:8] == "aof late" {
			lateDelivered++
		}
	}
	if dup != 0 {
		t.Errorf("%d messages delivered more than once", dup)
	}
	lastSecond := 0
	for _, at := range lateAcked {
		if killed.Sub(at) < time.Second {
			lastSecond++
		}
	}
	t.Logf("%d/%d enqueues acknowledged ≥ %v before the SIGKILL delivered; of %d acknowledged while the kill approached (%d in its last second), %d delivered",
		early, early, killed.Sub(lastEarly).Round(100*time.Millisecond), len(lateAcked), lastSecond, lateDelivered)
}

// A WeCom outage: every API request answered 503 for drillFaultDuration. The
// breaker opens, calls during the outage stay bounded, everything is delivered
// after, nothing is archived.
func TestDrillProviderOutageWecom(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	const n = 20
	outage := drillFaultDuration()
	b := setup(t, func(o *setupOpts) { o.workerYAML = "  breaker: {failures: 3, timeout: 1s}"; o.noWorker = true })
	ct := &countingTransport{next: http.DefaultTransport}
	b.sim.SetDown(true)
	startDrillWorker(t, b, b.rdb, ct)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.send(fmt.Sprintf("outage %d", i), drillUser(b, i))
	}
	time.Sleep(outage) // the outage itself: the condition under test
	during := int(ct.n.Load())
	breakerWaits := 0
	for _, id := range ids {
		if rec := b.get(id); rec.Wait != nil && containsFold(rec.Wait.Reason, "breaker") {
			breakerWaits++
		}
	}
	b.sim.SetDown(false)
	maxFailures := 0
	for _, id := range ids {
		rec := b.waitFinished(id)
		if rec.State != record.Accepted {
			t.Errorf("%s: state %s failures %d (%s)", id, rec.State, rec.Failures, rec.LastError)
		}
		maxFailures = max(maxFailures, rec.Failures)
	}
	if breakerWaits == 0 {
		t.Errorf("no message waits on the breaker at the end of the outage")
	}
	if limit := 10 + int(outage/time.Second) + 2; during > limit {
		t.Errorf("%d calls during a %s outage, want at most %d", during, outage, limit)
	}
	if a := b.archived(); len(a) != 0 {
		t.Errorf("%d archived", len(a))
	}
	if got := b.sim.DeliveryCount(); got != n {
		t.Errorf("%d deliveries, want %d", got, n)
	}
	t.Logf("wecom: %d API calls during the %s outage for %d messages (%d waiting on the breaker at its end); %d/%d delivered after, max failures %d, 0 archived",
		during, outage, n, breakerWaits, b.sim.DeliveryCount(), n, maxFailures)
}

// Tokens expired at the simulator mid-run, three times: no failure is visible.
func TestDrillTokenRevokedWecom(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	const n = 30
	b := setup(t)
	ids := make([]string, n)
	for i := range ids {
		if i%10 == 5 {
			b.waitFinished(ids[i-1])
			b.sim.ExpireTokens()
		}
		ids[i] = b.send(fmt.Sprintf("token %d", i), drillUser(b, i))
	}
	failures := 0
	for _, id := range ids {
		rec := b.waitFinished(id)
		if rec.State != record.Accepted {
			t.Errorf("%s: state %s failures %d (%s)", id, rec.State, rec.Failures, rec.LastError)
		}
		failures += rec.Failures
	}
	if failures != 0 {
		t.Errorf("%d failures recorded, want 0", failures)
	}
	t.Logf("wecom: %d/%d accepted across 3 token revocations, %d failures, %d token fetches",
		b.sim.DeliveryCount(), n, failures, b.sim.TokenFetches(testCorp, testAgent))
}

// The worker's Redis connection cut for drillFaultDuration while messages
// flow (a proxy closes every connection and refuses new ones): no message is
// lost or sent twice, and the same worker recovers.
func TestDrillRedisPartition(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	partition := drillFaultDuration()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	b.needServer()
	px := startCutProxy(t, b.redis.Addr)
	wrdb := redis.NewClient(&redis.Options{Addr: px.addr()})
	t.Cleanup(func() { _ = wrdb.Close() })
	startDrillWorker(t, b, wrdb, &countingTransport{next: http.DefaultTransport})

	// Messages flow every 50 ms from before the partition to 1 s after it.
	var ids []string
	var texts []string
	stop := time.Now().Add(time.Second + partition + time.Second)
	cutAt := time.Now().Add(time.Second)
	cut := false
	for i := 0; time.Now().Before(stop); i++ {
		if !cut && time.Now().After(cutAt) {
			px.set(true)
			cut = true
			time.AfterFunc(partition, func() { px.set(false) })
		}
		text := fmt.Sprintf("partition %d", i)
		ids = append(ids, b.send(text, drillUser(b, i)))
		texts = append(texts, text)
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range ids {
		if rec := b.waitFinished(id); rec.State != record.Accepted {
			t.Errorf("%s: state %s failures %d (%s)", id, rec.State, rec.Failures, rec.LastError)
		}
	}
	n := deliveriesByText(b.sim)
	lost, twice := 0, 0
	for _, text := range texts {
		switch {
		case n[text] == 0:
			lost++
		case n[text] > 1:
			twice++
		}
	}
	if lost != 0 || twice != 0 {
		t.Errorf("%d lost, %d sent twice, of %d", lost, twice, len(texts))
	}
	if a := b.archived(); len(a) != 0 {
		t.Errorf("%d archived", len(a))
	}
	t.Logf("%d messages across a %s partition (%d connections cut, %d refused): %d lost, %d sent twice, %d suppressed by the simulator's duplicate check; the worker recovered without a restart",
		len(texts), partition, px.cutCount.Load(), px.refused.Load(), lost, twice, len(b.sim.Suppressed()))
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := range len(sub) {
			c, d := s[i+j], sub[j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != d {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// cutProxy forwards TCP connections to a target; when cut, it closes every
// proxied connection and refuses new ones.
type cutProxy struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	cut      bool
	conns    map[net.Conn]struct{}
	cutCount atomic.Int64 // connections closed by a cut
	refused  atomic.Int64 // connections refused while cut
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.set(true) })
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) set(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
			p.cutCount.Add(1)
		}
		clear(p.conns)
	}
}

func (p *cutProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(in)
	}
}

func (p *cutProxy) handle(in net.Conn) {
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		p.refused.Add(1)
		in.Close()
		return
	}
	p.mu.Unlock()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		p.refused.Add(1)
		in.Close()
		out.Close()
		return
	}
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
	<-done
	in.Close()
	out.Close()
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}
