package worker_test

// The providers of the 20-kill worker drill: each simulator behind a front
// that signals its requests, and the dispatcher configured for it.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers/simkit"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

// killTextRE finds a drill message's text (killText) in a body.
var killTextRE = regexp.MustCompile(`kill m(\d{3})`)

// killMessage is the drill message whose text s holds.
func killMessage(s string) (int, bool) {
	sub := killTextRE.FindStringSubmatch(s)
	if sub == nil {
		return 0, false
	}
	m, err := strconv.Atoi(sub[1])
	return m, err == nil
}

// killSim is what the drill needs of one provider's simulator.
type killSim struct {
	// handler is the simulator, served to the workers by a simFront.
	handler  http.Handler
	addUsers func(users ...string)
	// deliveries is one string per delivery, holding its message's text.
	deliveries func() []string
	// suppressed counts the re-sends the duplicate check answered without
	// delivering (nil: the provider has none).
	suppressed func() int
	// admitted is the pattern of the keyspace events of what admission
	// writes, admittedID the message an event is about.
	admitted   string
	admittedID func(ctx context.Context, channel string) (string, bool)
	// admitsBeforeBegin is true when a first run too writes its admission
	// before its first begin.
	admitsBeforeBegin bool
}

// setupKillSim starts a private Redis, provider's simulator and the
// dispatcher configured for one app (testApp) of it, whose workers reach the
// provider at baseURL and run one task at a time.
func setupKillSim(t *testing.T, provider, onUnknown string, seed uint64, baseURL string) (*testBundle, *killSim) {
	t.Helper()
	// Up to one company slot leaks per kill until its lease ends.
	app := "    limits: {concurrency: 50}\n    on_unknown: " + onUnknown
	latency := rand.New(rand.NewPCG(seed, 0x1a7e)) // the provider's latencies
	const latencies = 400                          // more than the drill's requests
	switch provider {
	case "wecom":
		b := setup(t, func(o *setupOpts) {
			o.noWorker = true
			o.concurrency = 1 // one task at a time: each kill lands on one message
			o.appYAML = app
			o.simOptions.IgnoreDuplicateCheck = onUnknown == "give_up"
			o.simOptions.Seed = int64(seed)
		})
		if err := b.sim.SetFaults(wecomsim.FaultRates{Endpoints: []string{wecomsim.EndpointSend},
			Latency: 1, MinLatency: 0, MaxLatency: killDrillMaxLatency}); err != nil {
			t.Fatal(err)
		}
		b.cfgYAML = strings.Replace(b.cfgYAML, b.simURL, baseURL, 1)
		return b, &killSim{
			handler:  b.sim,
			addUsers: func(users ...string) { b.sim.AddUsers(testCorp, users...) },
			deliveries: func() []string {
				var out []string
				for _, d := range b.sim.Deliveries("") {
					out = append(out, d.Content)
				}
				return out
			},
			suppressed: func() int { return len(b.sim.Suppressed()) },
			// The quota ledger (ratelimit's prefix "rl"): the message's
			// recipient charged (a first run: with its first begin).
			admitted: "__keyspace@0__:*:{" + testApp + "}:l:*",
			admittedID: func(_ context.Context, ch string) (string, bool) {
				_, id, ok := strings.Cut(ch, "}:l:")
				return id, ok
			},
		}
	case "xiezuo":
		sim := xiezuosim.New(xiezuosim.Options{})
		addXiezuoDrillApp(t, sim)
		for range latencies {
			d := time.Duration(latency.Int64N(int64(killDrillMaxLatency)))
			if err := sim.Inject(xiezuosim.Latency(d).On(xiezuosim.EndpointSend)); err != nil {
				t.Fatal(err)
			}
		}
		var users []string
		b := newKillBundle(t, xiezuoDrillYAML(baseURL)+"\n"+app)
		return b, &killSim{
			handler:  sim,
			addUsers: func(u ...string) { users = append(users, u...); sim.AddUsers(xzDrillCompany, u...) },
			deliveries: func() []string {
				var out []string
				for _, u := range users {
					for _, d := range sim.Deliveries(u) {
						out = append(out, string(d.Body))
					}
				}
				return out
			},
			// The index of the part's ctx_id, written when the parts are
			// rendered, after admission, by every run.
			admitted:          "__keyspace@0__:" + record.RefKey(testApp, "*"),
			admitsBeforeBegin: true,
			admittedID: func(ctx context.Context, ch string) (string, bool) {
				id, err := b.rdb.Get(ctx, strings.TrimPrefix(ch, "__keyspace@0__:")).Result()
				return id, err == nil
			},
		}
	case "wps365":
		sim := wps365sim.New(wps365sim.Options{})
		sim.AddApp(w365DrillID, w365DrillSecret, w365DrillComp)
		for range latencies {
			sim.Inject(wps365sim.Fault{Endpoint: wps365sim.EndpointCreate, Latency: time.Duration(latency.Int64N(int64(killDrillMaxLatency)))})
		}
		var users []string
		b := newKillBundle(t, wps365DrillYAML(baseURL)+"\n"+app)
		return b, &killSim{
			handler:  sim,
			addUsers: func(u ...string) { users = append(users, u...); sim.AddUsers(u...) },
			deliveries: func() []string {
				var out []string
				for _, u := range users {
					for _, d := range sim.Deliveries(u) {
						out = append(out, string(d.Content))
					}
				}
				return out
			},
			// WPS 365 has no quota and no reference: what admission
			// writes is the company slot a later run's first read takes
			// (a first run: its first begin).
			admitted: "__keyspace@0__:msgd:sem:{wps365:" + w365DrillComp + "}",
			admittedID: func(context.Context, string) (string, bool) {
				for q := range b.cfg.Worker.Queues {
					tasks, err := b.inspector.ListActiveTasks(q)
					if err == nil && len(tasks) == 1 {
						return tasks[0].ID, true
					}
				}
				return "", false
			},
		}
	}
	t.Fatalf("no kill drill for provider %q", provider)
	return nil, nil
}

// newKillBundle is setup's bundle (no worker, no WeCom simulator) for the
// app block appYAML of testApp, whose workers run one task at a time.
func newKillBundle(t *testing.T, appYAML string) *testBundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	b := &testBundle{t: t, ctx: ctx, sends: make(chan struct{}, 100)}
	b.redis = redistest.Start(t)
	b.rdb = b.redis.Client()
	b.cfgYAML = fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
worker:
  concurrency: 1
  task_check_interval: 10ms
  delayed_task_check_interval: 100ms
  failure_budget: 10
  send_timeout: 5s
  shutdown_timeout: 10s
apps:
  %s:
%s
`, b.redis.Addr, testApp, appYAML)
	var err error
	if b.cfg, err = config.Parse([]byte(b.cfgYAML), nil); err != nil {
		t.Fatal(err)
	}
	b.producer = producer.New(b.cfg, b.rdb)
	b.records = record.NewStore(b.rdb)
	b.inspector = asynq.NewInspectorFromRedisClient(b.rdb)
	return b
}

// simFront serves a simulator to the killed workers and signals each request
// carrying a drill message: when it reaches the simulator and when the
// simulator has answered it.
type simFront struct {
	ln  net.Listener
	srv *http.Server
	h   http.Handler
	sig simkit.Signal

	mu   sync.Mutex
	hold int            // requests the simulator is handling
	done []frontRequest // requests it answered, in order
}

// frontRequest is one answered request: its message, and whether its worker
// had gone when the simulator answered.
type frontRequest struct {
	msg       int
	cancelled bool
}

// newSimFront listens for the front; start serves it.
func newSimFront(t *testing.T) *simFront {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &simFront{ln: ln}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

// start serves h behind the front.
func (f *simFront) start(h http.Handler) {
	f.h = h
	go func() { _ = f.srv.Serve(f.ln) }()
}

func (f *simFront) addr() string { return f.ln.Addr().String() }

func (f *simFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	m, ok := killMessage(string(body))
	if !ok {
		f.h.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	f.hold++
	f.mu.Unlock()
	f.sig.Notify()
	f.h.ServeHTTP(w, r)
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	gone := r.Context().Err() != nil
	f.mu.Lock()
	f.hold--
	f.done = append(f.done, frontRequest{msg: m, cancelled: gone})
	f.mu.Unlock()
	f.sig.Notify()
}

// holding is how many drill requests the simulator is handling.
func (f *simFront) holding() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hold
}

// answered is how many drill requests the simulator has answered.
func (f *simFront) answered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.done)
}

// since returns the requests answered after the first n.
func (f *simFront) since(n int) []frontRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]frontRequest(nil), f.done[n:]...)
}
