package worker_test

// The 20-kill worker drill (issue 15): a worker process SIGKILLed 20 times at
// random points of the send path, restarted each time. Run it with
//
//	go test -count=1 -run TestDrillWorkerKilled -v ./worker/
//
// MSGDISPATCH_DRILL_SEED=<n> replays the kill points of a printed seed.
//
// The killed workers reach Redis and WeCom through proxies a few
// milliseconds away (latencyProxy), which makes the windows between the
// steps as wide as a real network does; the kills are timed by signals —
// Redis keyspace events of the quota ledger, the simulator's WaitFor — and
// where each landed is told afterwards from the record and the simulator.
// asynq hands a dead worker's task back only once its lease has run out
// (~60 s); the drill ends the leases at once (expireLeases) instead of
// waiting.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// killPhase is where in the send path a kill landed, told from what the
// killed worker left behind.
type killPhase int

const (
	// killAfterAdmission: the message's recipient was charged in the quota
	// ledger, no part was marked sending.
	killAfterAdmission killPhase = iota
	// killDuringRequest: a part marked sending, its request not applied at
	// the provider (cancelled there when the worker died, or not sent yet).
	killDuringRequest
	// killBeforeOutcome: the provider applied (or answered) the request, the
	// part is still marked sending.
	killBeforeOutcome
	// killAfterOutcome: the outcome was recorded before the kill landed (a
	// target missed).
	killAfterOutcome
	numKillPhases
)

func (p killPhase) String() string {
	return [...]string{"after admission", "during the request", "before the outcome was recorded", "after the outcome was recorded"}[p]
}

// drillKills is how many times the drill kills the worker.
const drillKills = 20

// drillKillSeed is the seed of the drill's random kill points: the value of
// MSGDISPATCH_DRILL_SEED, else the time.
func drillKillSeed(t *testing.T) uint64 {
	if s := os.Getenv("MSGDISPATCH_DRILL_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MSGDISPATCH_DRILL_SEED: %v", err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// A worker process SIGKILLed 20 times at random points — after admission,
// during the request, after the provider answered but before the outcome
// was recorded — and restarted each time, then a last one run to the end:
// every message ends terminal, nothing is archived, no (message, recipient)
// arrives twice. With on_unknown give_up (the simulator's duplicate check
// off) exactly the messages killed with a part marked sending end unknown;
// with resend none does, the duplicate check absorbing the re-sends of what
// had been applied.
func TestDrillWorkerKilled(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	tests := []struct {
		desc      string
		onUnknown string
	}{
		{desc: "wecom give_up, duplicate check off", onUnknown: "give_up"},
		{desc: "wecom resend within the duplicate-check window", onUnknown: "resend"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			seed := drillKillSeed(t)
			d := newKillDrill(t, tc.onUnknown, seed)
			d.run()
			d.check(tc.onUnknown == "resend")
		})
	}
}

// killDrill is one run of the drill: the bundle (Redis, WeCom simulator,
// producer), the worker processes' links and the messages.
type killDrill struct {
	t    *testing.T
	b    *testBundle
	seed uint64
	rng  *rand.Rand
	// childYAML is the worker processes' config: Redis through px, WeCom
	// through simPx.
	childYAML string
	px, simPx *latencyProxy
	ids       []string
	texts     []string
	byText    map[string]int // text → index
	byID      map[string]int // id → index
	// kills counts the kills per phase; hit lists the message each kill
	// landed on (index), per phase.
	kills [numKillPhases]int
	hit   [numKillPhases][]int
}

const (
	killDrillMessages = 80
	killDrillUsers    = 8
	// killDrillRedisDelay is the Redis link of the killed workers: every
	// command and every reply arrives this much later (a 5 ms round trip), so
	// that the windows between admission and marking sending, and between the
	// answer and recording it, are as wide as a Redis a few milliseconds away
	// makes them.
	killDrillRedisDelay = 2500 * time.Microsecond
	// killDrillWecomDelay is the link between the killed workers and WeCom,
	// each way: an answer takes this long to reach the worker, the window in
	// which a kill lands after WeCom applied a request and before the worker
	// learns it.
	killDrillWecomDelay = 5 * time.Millisecond
)

func newKillDrill(t *testing.T, onUnknown string, seed uint64) *killDrill {
	b := setup(t, func(o *setupOpts) {
		o.noWorker = true
		o.concurrency = 1 // one task at a time: each kill lands on one message
		// Up to one company slot leaks per kill until its lease ends.
		o.appYAML = "    limits: {concurrency: 50}\n    on_unknown: " + onUnknown
		o.simOptions.IgnoreDuplicateCheck = onUnknown == "give_up"
		o.simOptions.Seed = int64(seed)
	})
	b.needServer()
	d := &killDrill{t: t, b: b, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)),
		byText: map[string]int{}, byID: map[string]int{}}
	if err := b.sim.SetFaults(wecomsim.FaultRates{Endpoints: []string{wecomsim.EndpointSend},
		Latency: 1, MinLatency: 0, MaxLatency: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	d.px = startLatencyProxy(t, b.redis.Addr, killDrillRedisDelay)
	simAddr := strings.TrimPrefix(b.simURL, "http://")
	d.simPx = startLatencyProxy(t, simAddr, killDrillWecomDelay)
	d.childYAML = b.cfgYAML
	for _, r := range [][2]string{{b.redis.Addr, d.px.addr()}, {b.simURL, "http://" + d.simPx.addr()}} {
		if !strings.Contains(d.childYAML, r[0]) {
			t.Fatalf("%s is not in the config", r[0])
		}
		d.childYAML = strings.Replace(d.childYAML, r[0], r[1], 1)
	}
	// The ledger's writes are the signal that a worker admitted a message.
	if err := b.rdb.ConfigSet(b.ctx, "notify-keyspace-events", "Kh").Err(); err != nil {
		t.Fatal(err)
	}
	users := make([]string, killDrillUsers)
	for i := range users {
		users[i] = fmt.Sprintf("kill%d", i)
	}
	b.sim.AddUsers(testCorp, users...)
	for i := range killDrillMessages {
		text := fmt.Sprintf("kill m%03d", i)
		id := b.send(text, users[i%len(users)])
		d.ids, d.texts = append(d.ids, id), append(d.texts, text)
		d.byText[text], d.byID[id] = i, i
	}
	return d
}

// run kills a worker process drillKills times, each at a target phase drawn
// without replacement (a third each), after letting 0–2 of its requests
// through, and classifies where each kill landed.
func (d *killDrill) run() {
	t, b := d.t, d.b
	targets := make([]killPhase, drillKills)
	for i := range targets {
		targets[i] = killPhase(i % 3)
	}
	d.rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	ps := b.rdb.PSubscribe(ctx, ledgerEvents)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription is live
		t.Fatal(err)
	}
	ledger := ps.Channel(redis.WithChannelSize(10000))
	for k, target := range targets {
		d.skipLedgerEvents(ctx, ledger)
		base := len(b.sim.RequestsTo(wecomsim.EndpointSend))
		skip := d.rng.IntN(3)
		child := b.startChildConfig(d.childYAML, 0)
		var m int // the message the kill lands on
		switch target {
		case killAfterAdmission:
			m = d.waitAdmitted(ctx, ledger, base+skip)
		case killDuringRequest:
			d.waitSim(ctx, func() bool {
				cur, _ := b.sim.Concurrency(testCorp, wecomsim.EndpointSend)
				return cur > 0 && len(b.sim.RequestsTo(wecomsim.EndpointSend)) >= base+skip
			})
			// A random point of the request (its latency is 0–300 ms), or
			// its answer if that comes first.
			at, cancelAt := context.WithTimeout(ctx, time.Duration(d.rng.Int64N(int64(100*time.Millisecond))))
			_ = b.sim.WaitFor(at, func() bool { return len(b.sim.RequestsTo(wecomsim.EndpointSend)) > base+skip })
			cancelAt()
			if ctx.Err() != nil {
				t.Fatalf("kill %d: %v", k+1, ctx.Err())
			}
		case killBeforeOutcome:
			d.waitSim(ctx, func() bool { return len(b.sim.RequestsTo(wecomsim.EndpointSend)) > base+skip })
		}
		if err := child.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = child.Wait()
		// What the dead worker had sent lands before its state is read.
		for _, px := range []*latencyProxy{d.px, d.simPx} {
			if err := px.waitIdle(ctx); err != nil {
				t.Fatalf("kill %d: %v", k+1, err)
			}
		}
		// The simulator finishes the dead worker's request (cancelled, or
		// applied if its latency ended first) before the state is read.
		d.waitSim(ctx, func() bool { cur, _ := b.sim.Concurrency(testCorp, wecomsim.EndpointSend); return cur == 0 })
		reqs := b.sim.RequestsTo(wecomsim.EndpointSend)[base:]
		if target != killAfterAdmission {
			if len(reqs) == 0 {
				t.Fatalf("kill %d: no request reached the simulator", k+1)
			}
			m = d.messageOf(reqs[len(reqs)-1])
		}
		phase := d.classify(m, reqs)
		d.kills[phase]++
		d.hit[phase] = append(d.hit[phase], m)
		d.expireLeases(ctx)
	}
	// The last worker runs to the end.
	b.startChildConfig(d.childYAML, 0)
}

// ledgerEvents is the pattern of the keyspace events of the app's quota
// ledgers; ledgerMarker is a channel it matches that no key has.
const (
	ledgerEvents = "__keyspace@0__:*:{" + testApp + "}:l:*"
	ledgerMarker = "__keyspace@0__:drill:{" + testApp + "}:l:marker"
)

// skipLedgerEvents consumes the ledger events published so far (by workers
// already dead): it publishes a marker and reads up to it.
func (d *killDrill) skipLedgerEvents(ctx context.Context, ledger <-chan *redis.Message) {
	if err := d.b.rdb.Publish(ctx, ledgerMarker, "marker").Err(); err != nil {
		d.t.Fatal(err)
	}
	for {
		select {
		case <-ctx.Done():
			d.t.Fatalf("the marker never came back: %v", ctx.Err())
		case msg := <-ledger:
			if msg.Channel == ledgerMarker {
				return
			}
		}
	}
}

// waitAdmitted waits for a worker to admit a message — a write to its quota
// ledger while its record is not finished and has no part marked sending —
// once the simulator has answered n requests, and returns the message.
func (d *killDrill) waitAdmitted(ctx context.Context, ledger <-chan *redis.Message, n int) int {
	t, b := d.t, d.b
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("no message admitted: %v", ctx.Err())
		case msg := <-ledger:
			if len(b.sim.RequestsTo(wecomsim.EndpointSend)) < n {
				continue
			}
			_, id, ok := strings.Cut(msg.Channel, ":l:")
			if !ok {
				continue
			}
			m, ok := d.byID[id]
			if !ok {
				continue
			}
			rec := b.get(id)
			if !rec.State.Terminal() && !slices.ContainsFunc(rec.Parts, func(p record.Part) bool { return p.State == record.PartSending }) {
				return m
			}
		}
	}
}

// waitSim waits on the simulator's signal for cond.
func (d *killDrill) waitSim(ctx context.Context, cond func() bool) {
	d.t.Helper()
	if err := d.b.sim.WaitFor(ctx, cond); err != nil {
		d.t.Fatalf("waiting on the simulator: %v", err)
	}
}

// messageOf is the message a message/send request carried.
func (d *killDrill) messageOf(r wecomsim.Request) int {
	for text, i := range d.byText {
		if strings.Contains(r.Body, strconv.Quote(text)) {
			return i
		}
	}
	d.t.Fatalf("a request of no drill message: %s", r.Body)
	return -1
}

// classify tells where the kill that landed on message m did, from its
// record and the requests the simulator saw from the killed worker.
func (d *killDrill) classify(m int, reqs []wecomsim.Request) killPhase {
	rec := d.b.get(d.ids[m])
	sending := slices.ContainsFunc(rec.Parts, func(p record.Part) bool { return p.State == record.PartSending })
	answered, asked := false, false
	for _, r := range reqs {
		if d.messageOf(r) == m {
			asked = true
			answered = answered || !r.Cancelled
		}
	}
	switch {
	case sending && answered:
		return killBeforeOutcome
	case sending:
		return killDuringRequest
	case !asked && !rec.State.Terminal():
		return killAfterAdmission
	default:
		return killAfterOutcome
	}
}

// expireLeases ends the asynq leases of the killed worker's tasks, as their
// running out does ~60 s after a crash (a 30 s lease, then the recoverer's
// 30 s allowance for clock skew): the next worker's recoverer, which runs
// when it starts, hands them back to the queue. Only one worker runs at a
// time, so every lease is the dead one's.
func (d *killDrill) expireLeases(ctx context.Context) {
	for q := range d.b.cfg.Worker.Queues {
		key := "asynq:{" + q + "}:lease"
		ids, err := d.b.rdb.ZRange(ctx, key, 0, -1).Result()
		if err != nil {
			d.t.Fatal(err)
		}
		for _, id := range ids {
			if err := d.b.rdb.ZAddXX(ctx, key, redis.Z{Score: 1, Member: id}).Err(); err != nil {
				d.t.Fatal(err)
			}
		}
	}
}

// check waits for every message to end and checks and prints the outcome.
func (d *killDrill) check(resend bool) {
	t, b := d.t, d.b
	states := map[record.State]int{}
	final := make([]record.State, len(d.ids))
	for i, id := range d.ids {
		rec := b.waitFinished(id)
		states[rec.State]++
		final[i] = rec.State
	}
	delivered := deliveriesByText(b.sim)
	// A message is at risk when a kill left a part of it marked sending;
	// applied when the simulator had also applied that request.
	atRisk, applied := map[int]bool{}, map[int]bool{}
	for _, m := range d.hit[killDuringRequest] {
		atRisk[m] = true
	}
	for _, m := range d.hit[killBeforeOutcome] {
		atRisk[m], applied[m] = true, true
	}
	twice := 0
	for i, text := range d.texts {
		want, wantN := record.Accepted, 1
		if !resend && atRisk[i] {
			want = record.Unknown // given up: it may have been applied
			if !applied[i] {
				wantN = 0 // the simulator dropped the request when the worker died
			}
		}
		if final[i] != want {
			t.Errorf("%s (%s) ended %s, want %s (killed with a part marked sending: %v)", text, d.ids[i], final[i], want, atRisk[i])
		}
		if delivered[text] > 1 {
			twice++
		}
		if delivered[text] != wantN {
			t.Errorf("%s delivered %d times, want %d (state %s)", text, delivered[text], wantN, final[i])
		}
	}
	for ph, min := range map[killPhase]int{killAfterAdmission: 3, killDuringRequest: 3, killBeforeOutcome: 3} {
		if d.kills[ph] < min {
			t.Errorf("%d kills %s, want at least %d", d.kills[ph], ph, min)
		}
	}
	suppressed := len(b.sim.Suppressed())
	if resend && suppressed != d.kills[killBeforeOutcome] {
		t.Errorf("%d re-sends suppressed by the duplicate check, want %d (one per kill after WeCom applied the request)", suppressed, d.kills[killBeforeOutcome])
	}
	archived := len(b.archived())
	if archived != 0 {
		t.Errorf("%d tasks archived, want 0", archived)
	}
	t.Logf("seed %d: %d kills (%d after admission, %d during the request, %d before the outcome was recorded, %d after it); %d messages: %d accepted, %d unknown, %d failed; %d delivered twice, %d re-sends suppressed by the duplicate check, %d archived",
		d.seed, drillKills, d.kills[killAfterAdmission], d.kills[killDuringRequest], d.kills[killBeforeOutcome], d.kills[killAfterOutcome],
		len(d.ids), states[record.Accepted], states[record.Unknown], states[record.Failed], twice, suppressed, archived)
}

// latencyProxy forwards TCP connections to a target, delaying what either
// side sends by a fixed latency, in order: a server that far away. What a
// client sent just before it died still arrives, late.
type latencyProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu      sync.Mutex
	open    int           // proxied connections not yet closed
	changed chan struct{} // closed when open drops
}

func startLatencyProxy(t *testing.T, target string, delay time.Duration) *latencyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &latencyProxy{ln: ln, target: target, delay: delay, changed: make(chan struct{})}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close() })
	return p
}

func (p *latencyProxy) addr() string { return p.ln.Addr().String() }

// waitIdle waits until every proxied connection is closed: after its client
// died, once what it had sent was delivered.
func (p *latencyProxy) waitIdle(ctx context.Context) error {
	for {
		p.mu.Lock()
		open, changed := p.open, p.changed
		p.mu.Unlock()
		if open == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d proxied connections still open: %w", open, ctx.Err())
		}
	}
}

func (p *latencyProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.open++
		p.mu.Unlock()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); p.delayed(out, in) }()
		go func() { defer wg.Done(); p.delayed(in, out) }()
		go func() {
			wg.Wait()
			p.mu.Lock()
			p.open--
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}()
	}
}

// delayed copies src to dst, each chunk p.delay after it was read.
func (p *latencyProxy) delayed(dst, src net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{bytes.Clone(buf[:n]), time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at)) // the latency itself, not a synchronisation
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	src.Close()
	for range chunks { // the reader ends on the closed src
	}
	dst.Close()
}
