package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/internal/webhook"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	_ "github.com/msgdispatch/msgdispatch/providers/all"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

const (
	app    = "hr"
	secret = "whsec-test-0123456789abcdef"
	corp   = "wwcorp1"
)

// receiver is a webhook endpoint that refuses (503) until up, verifies
// every signature, and records what it took.
type receiver struct {
	t    *testing.T
	up   time.Time
	mu   sync.Mutex
	got  map[string]int            // event id → deliveries taken
	evs  map[string]map[string]any // event id → body
	bad  []string                  // signature failures
	down int                       // refused attempts
	tick chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	err := webhook.Verify([]byte(secret), req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, time.Now(), 0)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if time.Now().Before(r.up) {
		r.down++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil || ev["event_id"] != req.Header.Get(webhook.HeaderEventID) {
		r.bad = append(r.bad, fmt.Sprintf("body %s, header %s", body, req.Header.Get(webhook.HeaderEventID)))
	}
	id := req.Header.Get(webhook.HeaderEventID)
	r.got[id]++
	r.evs[id] = ev
	select {
	case r.tick <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusNoContent)
}

// TestWebhooksEveryOutcomeOnceAcrossOutage: while the receiver is down (3 s
// under -short, 30 s otherwise), messages end accepted, partially accepted,
// failed and cancelled, a card is updated and a provider event published;
// after the outage the receiver has every event of the app's stream at least
// once, each exactly once by event id, every delivery validly signed, and
// the refusals prove the retries.
func TestWebhooksEveryOutcomeOnceAcrossOutage(t *testing.T) {
	t.Parallel()
	outage := 30 * time.Second
	if testing.Short() {
		outage = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), outage+2*time.Minute)
	defer cancel()
	rdb := redistest.Start(t).Client()
	sim := wecomsim.New(wecomsim.Options{})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.AddApp(wecomsim.App{CorpID: corp, AgentID: 1000002, Secret: "wecom-s"}); err != nil {
		t.Fatal(err)
	}
	sim.AddUsers(corp, "zhangsan", "lisi")

	rcv := &receiver{t: t, up: time.Now().Add(outage), got: map[string]int{}, evs: map[string]map[string]any{}, tick: make(chan struct{}, 1)}
	hook := httptest.NewServer(rcv)
	t.Cleanup(hook.Close)

	cfg, err := config.Parse([]byte(fmt.Sprintf(`
peak: {enabled: false}
worker: {concurrency: 4, task_check_interval: 10ms, delayed_task_check_interval: 100ms, send_timeout: 5s, shutdown_timeout: 10s}
apps:
  %s:
    provider: wecom
    wecom: {base_url: %q, corp_id: %s, agent_id: 1000002, secret: wecom-s}
api:
  webhooks:
    secret: %s
    urls: {%s: [%q]}
    max_backoff: 2s
`, app, simURL, corp, secret, app, hook.URL+"/hook")), nil)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	// An event whose enqueue failed (a Redis timeout on a loaded machine)
	// stays pending and is claimed again after ClaimIdle: short here, so
	// that it is within the test's time.
	d, err := webhook.New(webhook.Options{Config: cfg, Redis: rdb, Logger: quiet, ClaimIdle: 5 * time.Second})
	if err != nil || d == nil {
		t.Fatalf("webhook.New = %v, %v", d, err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Shutdown)
	w, err := worker.New(worker.Options{Config: cfg, Redis: rdb, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	p := producer.New(cfg, rdb)

	send := func(msg providers.Message, opts ...producer.SendOption) string {
		t.Helper()
		msg.App = app
		id, err := p.Send(ctx, msg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	text := func(users ...string) providers.Message {
		return providers.Message{To: providers.Recipients{Users: users}, Kind: providers.KindText, Text: "hi"}
	}
	want := map[string]record.State{
		send(text("zhangsan")):         record.Accepted,
		send(text("lisi", "ghost")):    record.PartiallyAccepted,
		send(text("ghost1", "ghost2")): record.Failed,
	}
	later := send(text("zhangsan"), producer.NotBefore(time.Now().Add(time.Hour)))
	if _, err := p.Cancel(ctx, later); err != nil {
		t.Fatal(err)
	}
	want[later] = record.Cancelled
	card := send(providers.Message{To: providers.Recipients{Users: []string{"lisi"}}, Kind: providers.KindCard,
		Body: json.RawMessage(`{"card_type":"button_interaction","main_title":{"title":"v1"},"button_list":[{"text":"OK","style":1,"key":"ok"}]}`)})
	want[card] = record.Accepted
	store := record.NewStore(rdb)
	waitEnd(t, ctx, rdb, card)
	if _, err := p.Update(ctx, card, producer.Content{Kind: providers.KindCard,
		Body: json.RawMessage(`{"card_type":"button_interaction","main_title":{"title":"v2"},"button_list":[{"text":"OK","style":1,"key":"ok"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if err := store.Publish(ctx, &record.ProviderEvent{ID: "click-1", App: app, Type: "test.card_click", At: time.Now(), MessageID: card}); err != nil {
		t.Fatal(err)
	}
	for id, st := range want {
		if got := waitEnd(t, ctx, rdb, id); got != st {
			t.Errorf("message %s ended %s, want %s", id, got, st)
		}
	}
	waitType(t, ctx, rdb, "update")

	// every event of the stream, delivered
	stream, err := rdb.XRange(ctx, record.EventsKey(app), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range stream {
		ids[m.Values["event_id"].(string)] = true
	}
	for {
		rcv.mu.Lock()
		missing := 0
		for id := range ids {
			if rcv.got[id] == 0 {
				missing++
			}
		}
		rcv.mu.Unlock()
		if missing == 0 {
			break
		}
		select {
		case <-rcv.tick:
		case <-ctx.Done():
			t.Fatalf("%d of %d events never delivered: %s", missing, len(ids), undelivered(rdb, rcv, stream))
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.bad) > 0 {
		t.Errorf("bad deliveries: %v", rcv.bad)
	}
	if rcv.down == 0 {
		t.Error("no delivery was refused: the outage was not exercised")
	}
	states := map[string]bool{}
	for id, n := range rcv.got {
		if !ids[id] {
			t.Errorf("delivered event %s is not in the stream", id)
		}
		if n != 1 {
			t.Errorf("event %s taken %d times, want once (an event is enqueued once per URL)", id, n)
		}
		if s, _ := rcv.evs[id]["state"].(string); s != "" {
			states[rcv.evs[id]["type"].(string)+":"+s] = true
		}
	}
	for _, s := range []string{"accepted", "partially_accepted", "failed", "cancelled"} {
		found := false
		for k := range states {
			found = found || strings.HasSuffix(k, ":"+s)
		}
		if !found {
			t.Errorf("no %s event delivered (got %v)", s, states)
		}
	}
	if rcv.got["click-1"] != 1 {
		t.Error("the provider event was not delivered")
	}
	t.Logf("%d events delivered after %d refused attempts during a %s outage", len(rcv.got), rcv.down, outage)
}

// undelivered says, for a failure, which events the receiver never took
// (type, state, message) and where their delivery tasks are.
func undelivered(rdb *redis.Client, rcv *receiver, stream []redis.XMessage) string {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	ins := asynq.NewInspectorFromRedisClient(rdb)
	var out []string
	for _, m := range stream {
		id, _ := m.Values["event_id"].(string)
		if rcv.got[id] > 0 {
			continue
		}
		where := "no delivery task found"
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
			ins.ListPendingTasks, ins.ListActiveTasks, ins.ListRetryTasks, ins.ListArchivedTasks, ins.ListCompletedTasks} {
			tasks, _ := list(webhook.Queue)
			for _, ti := range tasks {
				if strings.Contains(string(ti.Payload), `"event_id":"`+id+`"`) {
					where = fmt.Sprintf("task %s %s, retried %d, last error %q", ti.ID, ti.State, ti.Retried, ti.LastErr)
				}
			}
		}
		out = append(out, fmt.Sprintf("%s (%v %v of %v): %s", id, m.Values["type"], m.Values["state"], m.Values["message_id"], where))
	}
	return strings.Join(out, "; ")
}

// waitEnd blocks on the events stream until message id ends, and returns
// its terminal state.
func waitEnd(t *testing.T, ctx context.Context, rdb *redis.Client, id string) record.State {
	t.Helper()
	var st record.State
	waitEvent(t, ctx, rdb, func(v map[string]any) bool {
		if v["message_id"] != id {
			return false
		}
		st = record.State(fmt.Sprint(v["state"]))
		return st.Terminal()
	})
	return st
}

func waitType(t *testing.T, ctx context.Context, rdb *redis.Client, typ string) {
	t.Helper()
	waitEvent(t, ctx, rdb, func(v map[string]any) bool { return v["type"] == typ })
}

func waitEvent(t *testing.T, ctx context.Context, rdb *redis.Client, ok func(map[string]any) bool) {
	t.Helper()
	last := "0"
	for {
		streams, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{record.EventsKey(app), last}, Block: 2 * time.Second}).Result()
		if err != nil && err != redis.Nil {
			t.Fatalf("waiting for an event: %v", err)
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if ok(m.Values) {
					return
				}
			}
		}
	}
}
