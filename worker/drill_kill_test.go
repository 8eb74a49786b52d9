package worker_test

// The 20-kill worker drill (issue 15): a worker process SIGKILLed 20 times at
// random points of the send path, restarted each time. Run it with
//
//	go test -count=1 -run TestDrillWorkerKilled -v ./worker/
//
// MSGDISPATCH_DRILL_SEED=<n> replays the kill points of a printed seed.
//
// The killed workers reach Redis and the provider through proxies a few
// milliseconds away (latencyProxy), which makes the windows between the
// steps as wide as a real network does; the kills are timed by signals —
// Redis keyspace events of what admission writes, the simulator's front
// (simFront) — and where each landed is told afterwards from the record and
// the simulator.
//
// asynq hands a dead worker's task back only once its lease has run out
// (~60 s); the drill ends the leases at once (expireLeases) instead of
// waiting.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
)

// killPhase is where in the send path a kill landed, told from what the
// killed worker left behind.
type killPhase int

const (
	// killAfterAdmission: the message was admitted — a later run's
	// admission written (WeCom's quota ledger, xiezuo's ctx_id index, the
	// WPS 365 company slot), or a first run's task taken (its admission is
	// written with its first begin, see waitAdmitted) — no part was marked
	// sending and no request of it reached the provider.
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
// arrives twice. With on_unknown give_up (WeCom's duplicate check off)
// exactly the messages killed with a part marked sending end unknown; with
// resend none does, WeCom's duplicate check absorbing the re-sends of what
// had been applied. xiezuo and wps365 document no duplicate check: give_up
// only (resend needs a dedupe window, which they do not have).
func TestDrillWorkerKilled(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	tests := []struct {
		desc      string
		provider  string
		onUnknown string
		// minDuring is the fewest kills that must land during the request:
		// the wps365 simulator, like a server that does not watch its
		// client, applies a request whose worker died while it was held.
		minDuring int
	}{
		{desc: "wecom give_up, duplicate check off", provider: "wecom", onUnknown: "give_up", minDuring: 3},
		{desc: "wecom resend within the duplicate-check window", provider: "wecom", onUnknown: "resend", minDuring: 3},
		{desc: "xiezuo give_up", provider: "xiezuo", onUnknown: "give_up", minDuring: 3},
		{desc: "wps365 give_up", provider: "wps365", onUnknown: "give_up", minDuring: 0},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			seed := drillKillSeed(t)
			d := newKillDrill(t, tc.provider, tc.onUnknown, seed)
			d.run()
			d.check(tc.onUnknown == "resend", tc.minDuring)
		})
	}
}

// killDrill is one run of the drill: the bundle (Redis, producer), the
// simulator and its front, the worker processes' links and the messages.
type killDrill struct {
	t        *testing.T
	provider string
	// onUnknown is the app's on_unknown.
	onUnknown string
	b         *testBundle
	sim       *killSim
	front     *simFront
	seed      uint64
	rng       *rand.Rand
	// childYAML is the worker processes' config: Redis through px, the
	// provider through simPx.
	childYAML string
	px, simPx *latencyProxy
	ids       []string
	texts     []string
	byID      map[string]int // id → index
	// kills counts the kills per phase; hit lists the message each kill
	// landed on (index), per phase.
	kills [numKillPhases]int
	hit   [numKillPhases][]int
	// firstRunKills counts the kills after admission of first runs, made
	// once the worker took the task (waitAdmitted).
	firstRunKills int
	// leaseQueue is the keyspace channel of each queue's asynq leases → the queue.
	leaseQueue map[string]string
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
	// killDrillProviderDelay is the link between the killed workers and the
	// provider, each way: an answer takes this long to reach the worker, the
	// window in which a kill lands after the provider applied a request and
	// before the worker learns it.
	killDrillProviderDelay = 5 * time.Millisecond
	// killDrillMaxLatency bounds the provider's latency, uniform from 0.
	killDrillMaxLatency = 300 * time.Millisecond
)

// killText is the text of drill message i; killMessage finds it in a body.
func killText(i int) string { return fmt.Sprintf("kill m%03d", i) }

func newKillDrill(t *testing.T, provider, onUnknown string, seed uint64) *killDrill {
	d := &killDrill{t: t, provider: provider, onUnknown: onUnknown, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), byID: map[string]int{}}
	d.front = newSimFront(t)
	d.simPx = startLatencyProxy(t, d.front.addr(), killDrillProviderDelay)
	d.b, d.sim = setupKillSim(t, provider, onUnknown, seed, "http://"+d.simPx.addr())
	d.front.start(d.sim.handler)
	b := d.b
	b.needServer()
	if !b.redis.Real() { // the embedded Redis has no keyspace notifications
		t.Skip("needs a real redis-server: keyspace notifications tell when a worker admitted a message")
	}
	d.px = startLatencyProxy(t, b.redis.Addr, killDrillRedisDelay)
	d.childYAML = strings.Replace(b.cfgYAML, b.redis.Addr, d.px.addr(), 1)
	if d.childYAML == b.cfgYAML {
		t.Fatalf("%s is not in the config", b.redis.Addr)
	}
	// What admission writes is the signal that a worker admitted a message.
	if err := b.rdb.ConfigSet(b.ctx, "notify-keyspace-events", "KA").Err(); err != nil {
		t.Fatal(err)
	}
	users := make([]string, killDrillUsers)
	for i := range users {
		users[i] = fmt.Sprintf("kill%d", i)
	}
	d.sim.addUsers(users...)
	for i := range killDrillMessages {
		text := killText(i)
		id := b.send(text, users[i%len(users)])
		d.ids, d.texts = append(d.ids, id), append(d.texts, text)
		d.byID[id] = i
	}
	return d
}

// run kills a worker process drillKills times, each at a target phase drawn
// without replacement (a third each), after letting 0–2 of its requests
// through, and classifies where each kill landed.
func (d *killDrill) run() {
	t, b, f := d.t, d.b, d.front
	targets := make([]killPhase, drillKills)
	for i := range targets {
		targets[i] = killPhase(i % 3)
	}
	d.rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	ctx, cancel := context.WithTimeout(b.ctx, 80*time.Second)
	defer cancel()
	d.leaseQueue = map[string]string{}
	patterns := []string{d.sim.admitted, admittedMarker}
	for q := range b.cfg.Worker.Queues {
		ch := "__keyspace@0__:asynq:{" + q + "}:lease"
		d.leaseQueue[ch] = q
		patterns = append(patterns, ch)
	}
	ps := b.rdb.PSubscribe(ctx, patterns...)
	defer ps.Close()
	for range patterns {
		if _, err := ps.Receive(ctx); err != nil { // the subscriptions are live
			t.Fatal(err)
		}
	}
	events := ps.Channel(redis.WithChannelSize(100000))
	for k, target := range targets {
		d.skipAdmittedEvents(ctx, events)
		base := f.answered()
		delivered := d.delivered()
		skip := d.rng.IntN(3)
		child := b.startChildConfig(d.childYAML, 0)
		var m int         // the message the kill lands on
		var firstRun bool // a first run, killed once taken
		switch target {
		case killAfterAdmission:
			m, firstRun = d.waitAdmitted(ctx, events, base+skip)
		case killDuringRequest:
			d.waitFront(ctx, func() bool { return f.holding() > 0 && f.answered() >= base+skip })
			// A random point of the request (its latency is 0–300 ms), or
			// its answer if that comes first.
			at, cancelAt := context.WithTimeout(ctx, time.Duration(d.rng.Int64N(int64(killDrillMaxLatency/3))))
			_ = f.sig.Wait(at, func() bool { return f.answered() > base+skip })
			cancelAt()
		case killBeforeOutcome:
			d.waitFront(ctx, func() bool { return f.answered() > base+skip })
		}
		if ctx.Err() != nil {
			t.Fatalf("kill %d: %v", k+1, ctx.Err())
		}
		if err := child.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = child.Wait()
		// What the dead worker had sent lands, and the simulator finishes
		// its request (cancelled, or applied), before the state is read.
		for _, px := range []*latencyProxy{d.px, d.simPx} {
			if err := px.waitIdle(ctx); err != nil {
				t.Fatalf("kill %d: %v", k+1, err)
			}
		}
		d.waitFront(ctx, func() bool { return f.holding() == 0 })
		reqs := f.since(base)
		if target != killAfterAdmission {
			if len(reqs) == 0 {
				t.Fatalf("kill %d: no request reached the simulator", k+1)
			}
			m = reqs[len(reqs)-1].msg
		}
		phase := d.classify(m, reqs, delivered)
		d.kills[phase]++
		d.hit[phase] = append(d.hit[phase], m)
		if phase == killAfterAdmission && firstRun {
			d.firstRunKills++
		}
		d.expireLeases(ctx)
	}
	// The last worker runs to the end.
	b.startChildConfig(d.childYAML, 0)
}

// admittedMarker is a channel the drill publishes on to mark a point in the
// stream of admission events.
const admittedMarker = "drill:kill:marker"

// skipAdmittedEvents consumes the admission events published so far (by
// workers already dead): it publishes a marker and reads up to it.
func (d *killDrill) skipAdmittedEvents(ctx context.Context, events <-chan *redis.Message) {
	if err := d.b.rdb.Publish(ctx, admittedMarker, "marker").Err(); err != nil {
		d.t.Fatal(err)
	}
	for {
		select {
		case <-ctx.Done():
			d.t.Fatalf("the marker never came back: %v", ctx.Err())
		case msg := <-events:
			if msg.Channel == admittedMarker {
				return
			}
		}
	}
}

// waitAdmitted waits for a worker to admit a message, once the simulator has
// answered n requests, and returns it. A later run (and any run of a
// provider whose admission writes before the begin: xiezuo's ctx_id index)
// is admitted at a write of admission (d.sim.admitted) while its record is
// not finished and has no part marked sending. A first run writes its
// admission in the round trip of its first begin (worker/first_run.go):
// between the two there is no moment to kill it in, and what a kill after
// its admission leaves is what a kill leaves once the worker has taken the
// task — so a first run counts as admitted when the worker takes it (asynq's
// lease), firstRun true.
func (d *killDrill) waitAdmitted(ctx context.Context, events <-chan *redis.Message, n int) (m int, firstRun bool) {
	t, b := d.t, d.b
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("no message admitted: %v", ctx.Err())
		case msg := <-events:
			if d.front.answered() < n {
				continue
			}
			if q, ok := d.leaseQueue[msg.Channel]; ok {
				if d.sim.admitsBeforeBegin {
					continue
				}
				if m, ok := d.takenFirstRun(ctx, q); ok {
					return m, true
				}
				continue
			}
			id, ok := d.sim.admittedID(ctx, msg.Channel)
			if !ok {
				continue
			}
			m, ok := d.byID[id]
			if !ok {
				continue
			}
			rec := b.get(id)
			if !rec.State.Terminal() && !slices.ContainsFunc(rec.Parts, func(p record.Part) bool { return p.State == record.PartSending }) {
				return m, false
			}
		}
	}
}

// takenFirstRun returns the message whose task a worker has just taken from
// queue q (its live lease) when that is the task's first run.
func (d *killDrill) takenFirstRun(ctx context.Context, q string) (int, bool) {
	b := d.b
	ids, err := b.rdb.ZRangeByScore(ctx, "asynq:{"+q+"}:lease", &redis.ZRangeBy{Min: strconv.FormatInt(time.Now().Unix(), 10), Max: "+inf"}).Result()
	if err != nil {
		d.t.Fatal(err)
	}
	for _, id := range ids {
		m, ok := d.byID[id]
		if !ok {
			continue
		}
		info, err := b.inspector.GetTaskInfo(q, id)
		if err != nil || info.Retried > 0 {
			continue
		}
		if rec := b.get(id); !rec.State.Terminal() && len(rec.Parts) == 0 {
			return m, true
		}
	}
	return 0, false
}

// waitFront waits on the simulator front's signal for cond.
func (d *killDrill) waitFront(ctx context.Context, cond func() bool) {
	d.t.Helper()
	if err := d.front.sig.Wait(ctx, cond); err != nil {
		d.t.Fatalf("waiting on the simulator: %v", err)
	}
}

// delivered counts the simulator's deliveries per message.
func (d *killDrill) delivered() map[int]int {
	n := map[int]int{}
	for _, s := range d.sim.deliveries() {
		if m, ok := killMessage(s); ok {
			n[m]++
		}
	}
	return n
}

// classify tells where the kill that landed on message m did, from its
// record, the requests the front saw from the killed worker and the
// deliveries before it started.
func (d *killDrill) classify(m int, reqs []frontRequest, before map[int]int) killPhase {
	rec := d.b.get(d.ids[m])
	sending := slices.ContainsFunc(rec.Parts, func(p record.Part) bool { return p.State == record.PartSending })
	applied := d.delivered()[m] > before[m]
	asked := false
	for _, r := range reqs {
		if r.msg == m {
			asked = true
			applied = applied || !r.cancelled
		}
	}
	switch {
	case sending && applied:
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
func (d *killDrill) check(resend bool, minDuring int) {
	t, b := d.t, d.b
	states := map[record.State]int{}
	final := make([]record.State, len(d.ids))
	for i, id := range d.ids {
		rec := b.waitFinished(id)
		states[rec.State]++
		final[i] = rec.State
	}
	delivered := d.delivered()
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
		if delivered[i] > 1 {
			twice++
		}
		if delivered[i] != wantN {
			t.Errorf("%s delivered %d times, want %d (state %s)", text, delivered[i], wantN, final[i])
		}
	}
	for ph, min := range map[killPhase]int{killAfterAdmission: 3, killDuringRequest: minDuring, killBeforeOutcome: 3} {
		if d.kills[ph] < min {
			t.Errorf("%d kills %s, want at least %d", d.kills[ph], ph, min)
		}
	}
	suppressed := 0
	if d.sim.suppressed != nil {
		suppressed = d.sim.suppressed()
	}
	if resend && suppressed != d.kills[killBeforeOutcome] {
		t.Errorf("%d re-sends suppressed by the duplicate check, want %d (one per kill after the provider applied the request)", suppressed, d.kills[killBeforeOutcome])
	}
	archived := len(b.archived())
	if archived != 0 {
		t.Errorf("%d tasks archived, want 0", archived)
	}
	t.Logf("%s %s, seed %d: %d kills (%d after admission [%d first runs, once taken], %d during the request, %d before the outcome was recorded, %d after it); %d messages: %d accepted, %d unknown, %d failed; %d delivered twice, %d re-sends suppressed by the duplicate check, %d archived",
		d.provider, d.onUnknown, d.seed, drillKills, d.kills[killAfterAdmission], d.firstRunKills, d.kills[killDuringRequest], d.kills[killBeforeOutcome], d.kills[killAfterOutcome],
		len(d.ids), states[record.Accepted], states[record.Unknown], states[record.Failed], twice, suppressed, archived)
}
