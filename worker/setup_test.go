package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/bench"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

const (
	testApp    = "hr"
	testCorp   = "wwtest0000000001"
	testAgent  = 1000002
	testSecret = "s3cr3t-never-logged"
)

// testBundle is a whole dispatcher on a private Redis with a WeCom simulator.
type testBundle struct {
	t         testing.TB
	ctx       context.Context
	redis     *redistest.Server  // nil on a cluster
	cluster   *redistest.Cluster // set when MSGDISPATCH_TEST_REDIS=cluster
	rdb       redis.UniversalClient
	sim       *wecomsim.Sim
	simURL    string
	cfg       *config.Config
	cfgYAML   string
	producer  *producer.Client
	records   *record.Store
	inspector *asynq.Inspector
	worker    *worker.Worker
	// sends is signalled each time the worker starts a message/send request.
	sends chan struct{}
	// hook counts Redis round trips of every client of the bundle.
	hook *bench.RoundTrips
}

type setupOpts struct {
	secret string // the secret the dispatcher is configured with
	budget int
	// concurrency is worker.concurrency: tasks one worker runs at once.
	// Default 10.
	concurrency int
	gates       []worker.Gate
	noWorker    bool
	// peak is the peak block; default off, so tests do not depend on the hour.
	peak string
	// workerYAML and appYAML are extra lines of the worker and the app block.
	workerYAML, appYAML string
	simOptions          wecomsim.Options
	// redisArgs, when set, starts a private redis-server with these extra
	// arguments (redistest.StartWith), e.g. to turn AOF on.
	redisArgs []string
}

func setup(t testing.TB, opts ...func(*setupOpts)) *testBundle {
	t.Helper()
	o := setupOpts{secret: testSecret, budget: 10, concurrency: 10}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	b := &testBundle{t: t, ctx: ctx, sends: make(chan struct{}, 100)}
	redisYAML := b.startRedis(o.redisArgs...)
	b.hook = &bench.RoundTrips{}
	b.rdb.AddHook(b.hook)

	b.sim = wecomsim.New(o.simOptions)
	url, err := b.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.sim.Close() })
	b.simURL = url
	if err := b.sim.AddApp(wecomsim.App{CorpID: testCorp, AgentID: testAgent, Secret: testSecret}); err != nil {
		t.Fatal(err)
	}
	b.sim.AddUsers(testCorp, "zhangsan", "lisi", "wangwu")

	peakYAML := "{enabled: false}"
	if o.peak != "" {
		peakYAML = o.peak
	}
	b.cfgYAML = fmt.Sprintf(`
redis: %s
peak: %s
worker:
  concurrency: %d
  task_check_interval: 10ms
  delayed_task_check_interval: 100ms
  failure_budget: %d
  send_timeout: 5s
  shutdown_timeout: 10s
%s
apps:
  %s:
    provider: wecom
    wecom: {base_url: %q, corp_id: %s, agent_id: %d, secret: %q}
%s
`, redisYAML, peakYAML, o.concurrency, o.budget, o.workerYAML, testApp, url, testCorp, testAgent, o.secret, o.appYAML)
	b.cfg, err = config.Parse([]byte(b.cfgYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	b.producer = producer.New(b.cfg, b.rdb)
	b.records = record.NewStore(b.rdb)
	b.inspector = asynq.NewInspectorFromRedisClient(b.rdb)
	if !o.noWorker {
		b.worker = b.startWorker(o.gates...)
	}
	return b
}

// startRedis starts the bundle's Redis — a private server, or a 3-master
// Redis Cluster when MSGDISPATCH_TEST_REDIS=cluster — sets b.rdb, and returns
// the config's redis block.
func (b *testBundle) startRedis(args ...string) string {
	b.t.Helper()
	if len(args) > 0 {
		b.redis = redistest.StartWith(b.t, args...)
		b.rdb = b.redis.Client()
		return fmt.Sprintf("{addr: %q}", b.redis.Addr)
	}
	if os.Getenv(redistest.EnvVar) == redistest.ClusterEnv {
		b.cluster = redistest.StartCluster(b.t)
		b.rdb = b.cluster.Client()
		return b.cluster.YAML()
	}
	b.redis = redistest.Start(b.t)
	b.rdb = b.redis.Client()
	return fmt.Sprintf("{addr: %q}", b.redis.Addr)
}

// newClient returns another client of the bundle's Redis (not counted by
// b.hook).
func (b *testBundle) newClient() redis.UniversalClient {
	if b.cluster != nil {
		return b.cluster.Client()
	}
	return b.redis.Client()
}

// needServer skips the test on a cluster: it needs the one server (to kill
// it, or to watch it with a client of its own).
func (b *testBundle) needServer() {
	b.t.Helper()
	if b.redis == nil {
		b.t.Skip("needs a single redis-server; running on a Redis Cluster")
	}
}

// startWorker starts an in-process worker whose HTTP client signals b.sends.
func (b *testBundle) startWorker(gates ...worker.Gate) *worker.Worker {
	b.t.Helper()
	hc := &http.Client{Transport: signallingTransport{next: http.DefaultTransport, sends: b.sends}}
	w, err := worker.New(worker.Options{Config: b.cfg, Redis: b.rdb, HTTPClient: hc, Gates: gates,
		Logger: slog.New(slog.NewTextHandler(testWriter{b.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(w.Shutdown)
	return w
}

// send enqueues a text message to users.
func (b *testBundle) send(text string, users ...string) string {
	b.t.Helper()
	id, err := b.producer.Send(b.ctx, providers.Message{App: testApp, To: providers.Recipients{Users: users}, Kind: providers.KindText, Text: text})
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

// waitEvent blocks on the app's event stream until an event of message id
// satisfies ok, and returns it.
func (b *testBundle) waitEvent(id string, ok func(record.Event) bool) record.Event {
	b.t.Helper()
	return b.waitAnyEvent(func(ev record.Event) bool { return ev.MessageID == id && ok(ev) })
}

// waitAnyEvent blocks on the app's event stream until an event of any
// message satisfies ok, and returns it.
func (b *testBundle) waitAnyEvent(ok func(record.Event) bool) record.Event {
	b.t.Helper()
	last := "0"
	for {
		streams, err := b.rdb.XRead(b.ctx, &redis.XReadArgs{Streams: []string{record.EventsKey(testApp), last}, Block: 2 * time.Second, Count: 100}).Result()
		if err != nil && err != redis.Nil {
			b.t.Fatalf("waiting for an event: %v", err)
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				ev := record.Event{ID: fmt.Sprint(m.Values["event_id"]), MessageID: fmt.Sprint(m.Values["message_id"]),
					Type: fmt.Sprint(m.Values["type"]), State: record.State(fmt.Sprint(m.Values["state"])), Detail: fmt.Sprint(m.Values["detail"])}
				if ok(ev) {
					return ev
				}
			}
		}
	}
}

// waitFinished waits for message id to reach a terminal state and returns its record.
func (b *testBundle) waitFinished(id string) *record.Record {
	b.t.Helper()
	b.waitEvent(id, func(e record.Event) bool { return e.State.Terminal() })
	return b.get(id)
}

func (b *testBundle) get(id string) *record.Record {
	b.t.Helper()
	rec, err := b.records.Get(b.ctx, testApp, id)
	if err != nil {
		b.t.Fatal(err)
	}
	return rec
}

// archived returns the archived tasks of every queue.
func (b *testBundle) archived() []*asynq.TaskInfo {
	b.t.Helper()
	var out []*asynq.TaskInfo
	for q := range b.cfg.Worker.Queues {
		tasks, err := b.inspector.ListArchivedTasks(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			b.t.Fatal(err)
		}
		out = append(out, tasks...)
	}
	return out
}

// signallingTransport signals each message/send request as it leaves.
type signallingTransport struct {
	next  http.RoundTripper
	sends chan struct{}
}

func (s signallingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/message/send") {
		select {
		case s.sends <- struct{}{}:
		default:
		}
	}
	return s.next.RoundTrip(r)
}

// testWriter sends logs to t.Log, and fails the test if a log line holds the secret.
type testWriter struct{ t testing.TB }

var logMu sync.Mutex

func (w testWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(string(p), testSecret) {
		w.t.Errorf("a log line holds the app secret: %s", p)
	}
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = testWriter{}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChildWorker()
		return
	}
	os.Exit(m.Run())
}
