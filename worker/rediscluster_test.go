package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// crossSlotHook records every command or pipeline error that names CROSSSLOT
// (a script or MULTI over keys of two hash slots) on a cluster client.
type crossSlotHook struct {
	mu   sync.Mutex
	seen []string
}

func (h *crossSlotHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *crossSlotHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(cmd)
		return err
	}
}

func (h *crossSlotHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.check(c)
		}
		return err
	}
}

func (h *crossSlotHook) check(cmd redis.Cmder) {
	if err := cmd.Err(); err != nil && strings.Contains(err.Error(), "CROSSSLOT") {
		h.mu.Lock()
		h.seen = append(h.seen, fmt.Sprintf("%v: %v", cmd.Args(), err))
		h.mu.Unlock()
	}
}

func (h *crossSlotHook) errors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

// clusterWeComApps are three WeCom apps whose hash tags {a}, {b} and {c} land
// on the three masters of a fresh 3-master cluster (slots 15495, 3300, 7365).
var clusterWeComApps = []string{"a", "b", "c"}

// clusterWPSApp is the WPS 协作 app of the cluster test.
const clusterWPSApp = "w"

// TestRedisClusterEndToEnd runs the dispatcher on a real 3-master Redis
// Cluster: three WeCom apps (their tags on three different masters) and one
// WPS 协作 app, two workers, sending through the producer to wecomsim and
// xiezuosim — quota follow-ups (six texts to a user allowed two a second),
// card updates applied, a scheduled message cancelled, a send repeated with
// its idempotency key, a WPS card updated by
// its ctx_id. Everything is delivered, nothing archived, and no command,
// script or MULTI of the project or of asynq is refused with CROSSSLOT.
func TestRedisClusterEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-master Redis Cluster and sends for ~10 s")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := redistest.StartCluster(t)
	rdb := cl.Client()
	hook := &crossSlotHook{}
	rdb.AddHook(hook)

	masters := map[string]string{}
	for _, app := range append(clusterWeComApps, clusterWPSApp) {
		m, err := cl.MasterOf(ctx, record.EventsKey(app))
		if err != nil {
			t.Fatal(err)
		}
		masters[app] = m
	}
	if masters["a"] == masters["b"] || masters["b"] == masters["c"] || masters["a"] == masters["c"] {
		t.Fatalf("apps a, b, c on masters %v, want three different ones", masters)
	}

	limits := []wecomsim.Limit{{Count: 2, Window: time.Second}}
	wsim := wecomsim.New(wecomsim.Options{PerMemberLimits: limits})
	wURL, err := wsim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wsim.Close() })
	xsim := xiezuosim.New(xiezuosim.Options{})
	xURL, err := xsim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = xsim.Close() })

	var apps strings.Builder
	for i, app := range clusterWeComApps {
		corp := fmt.Sprintf("wwcluster%07d", i)
		if err := wsim.AddApp(wecomsim.App{CorpID: corp, AgentID: 1000002, Secret: testSecret}); err != nil {
			t.Fatal(err)
		}
		wsim.AddUsers(corp, app+"-u1", app+"-u2", app+"-u3")
		// Margin 400 ms: two workers on a busy machine; a request delayed
		// past the margin would let WeCom see a window exceeded.
		fmt.Fprintf(&apps, `  %s:
    provider: wecom
    wecom: {base_url: %q, corp_id: %s, agent_id: 1000002, secret: %q}
    limits: {per_recipient: [{count: 2, window: 1s}], margin: 400ms}
`, app, wURL, corp, testSecret)
	}
	const xKey, xCompany, xUpdate = "AKCLUSTER", "c-cluster", "/o/woa/api/v2/developer/app/messages/update"
	if err := xsim.AddApp(xiezuosim.App{Key: xKey, Secret: testSecret, Signature: "wps4", HeaderStyle: xiezuo.HeaderStyleWPSDocs,
		UnsignedPrefix: "/o/woa", CompanyID: xCompany}); err != nil {
		t.Fatal(err)
	}
	xsim.AddUsers(xCompany, "w-u1", "w-u2")
	fmt.Fprintf(&apps, `  %s:
    provider: xiezuo
    xiezuo: {base_url: %q, app_key: %s, app_secret: %q, signature: wps4, header_style: wps_docs,
             company_token_path: /o/woa/oauthapi/v3/inner/company/token, update_path: %s,
             biz_type: approval, company_id: %s, company_uid: bot-1}
`, clusterWPSApp, xURL, xKey, testSecret, xUpdate, xCompany)
	yml := fmt.Sprintf(`
redis: %s
peak: {enabled: false}
worker: {concurrency: 10, task_check_interval: 10ms, delayed_task_check_interval: 100ms,
         send_timeout: 5s, shutdown_timeout: 10s}
apps:
%s`, cl.YAML(), apps.String())
	cfg, err := config.Parse([]byte(yml), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, yml)
	}
	for range 2 {
		w, err := worker.New(worker.Options{Config: cfg, Redis: rdb,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Shutdown)
	}
	p := producer.New(cfg, rdb)
	send := func(msg providers.Message, opts ...producer.SendOption) string {
		t.Helper()
		id, err := p.Send(ctx, msg, opts...)
		if err != nil {
			t.Fatalf("send to %s: %v", msg.App, err)
		}
		return id
	}

	type sent struct{ app, id string }
	var texts, cards []sent
	scheduled := map[string]string{}
	for _, app := range clusterWeComApps {
		for i := range 6 {
			texts = append(texts, sent{app, send(providers.Message{App: app, To: providers.Recipients{Users: []string{app + "-u1"}},
				Kind: providers.KindText, Text: fmt.Sprintf("%s text %d", app, i)})})
		}
		cards = append(cards, sent{app, send(providers.Message{App: app, To: providers.Recipients{Users: []string{app + "-u2", app + "-u3"}},
			Kind: providers.KindCard, Body: card("v0")})})
		// An idempotency key (the record's create script): the same send
		// twice is one message.
		keyed := providers.Message{App: app, To: providers.Recipients{Users: []string{app + "-u2"}}, Kind: providers.KindText, Text: "once"}
		id1, id2 := send(keyed, producer.IdempotencyKey("k-"+app)), send(keyed, producer.IdempotencyKey("k-"+app))
		if id1 != id2 {
			t.Errorf("%s: the same idempotency key gave %s and %s", app, id1, id2)
		}
		texts = append(texts, sent{app, id1})
		scheduled[app] = send(providers.Message{App: app, To: providers.Recipients{Users: []string{app + "-u3"}},
			Kind: providers.KindText, Text: "later"}, producer.NotBefore(time.Now().Add(time.Hour)))
	}
	xcard := json.RawMessage(`{"header":{"title":{"tag":"text","content":{"type":"plainText","text":"v0"}}},"elements":[{"tag":"text","content":{"type":"markdown","text":"**v0**"}}]}`)
	wpsCard := send(providers.Message{App: clusterWPSApp, To: providers.Recipients{Users: []string{"w-u1", "w-u2"}}, Kind: providers.KindCard, Body: xcard})

	// Cancel the scheduled messages while their tasks wait in asynq.
	for app, id := range scheduled {
		o, err := p.Cancel(ctx, id)
		if err != nil {
			t.Fatalf("cancel in %s: %v", app, err)
		}
		if o.State != record.Cancelled || len(o.Removed) == 0 {
			t.Errorf("cancel in %s: %+v, want cancelled with its task removed", app, o)
		}
	}

	followUps := 0
	for _, s := range texts {
		rec := waitTerminal(t, ctx, rdb, s.app, s.id)
		if rec == nil {
			t.Fatalf("%s %s: not finished in time", s.app, s.id)
		}
		if rec.State != record.Accepted || rec.Failures != 0 {
			t.Errorf("%s %s: state %s failures %d (%s)", s.app, s.id, rec.State, rec.Failures, rec.Reason)
		}
		if rec.Generations > 1 {
			followUps++
		}
	}
	if followUps == 0 {
		t.Error("no text went through a quota follow-up")
	}
	for _, s := range append(cards, sent{clusterWPSApp, wpsCard}) {
		if rec := waitTerminal(t, ctx, rdb, s.app, s.id); rec == nil || rec.State != record.Accepted {
			t.Fatalf("card %s of %s: %+v, want accepted", s.id, s.app, rec)
		}
	}
	// Updates of the sent cards, WeCom's and WPS's.
	for _, s := range cards {
		if _, err := p.Update(ctx, s.id, producer.Content{Kind: providers.KindCard, Body: card("v1")}); err != nil {
			t.Fatalf("update in %s: %v", s.app, err)
		}
	}
	if _, err := p.Update(ctx, wpsCard, producer.Content{Kind: providers.KindCard, Body: json.RawMessage(strings.ReplaceAll(string(xcard), "v0", "v1"))}); err != nil {
		t.Fatalf("update in %s: %v", clusterWPSApp, err)
	}
	for _, s := range append(cards, sent{clusterWPSApp, wpsCard}) {
		if waitEventOf(t, ctx, rdb, s.app, s.id, func(v map[string]any) bool {
			return v["type"] == "update" && strings.HasPrefix(fmt.Sprint(v["detail"]), "update 1 ")
		}) == nil {
			t.Fatalf("update of %s in %s: not finished in time", s.id, s.app)
		}
		st, err := p.Status(ctx, s.id)
		if err != nil {
			t.Fatal(err)
		}
		if u := st.Updates; u == nil || len(u.History) != 1 || u.History[0].State != record.UpdateApplied {
			t.Errorf("update of %s in %s: %+v, want update 1 applied", s.id, s.app, st.Updates)
		}
	}
	for app, id := range scheduled {
		if st, err := p.Status(ctx, id); err != nil || st.State != record.Cancelled {
			t.Errorf("scheduled message of %s: %v, %v; want cancelled", app, st, err)
		}
	}

	for _, app := range clusterWeComApps {
		if n := len(wsim.Deliveries(app + "-u2")); n != 2 {
			t.Errorf("%s-u2 got %d messages, want 2 (the card and one of the keyed texts)", app, n)
		}
		if n := len(wsim.Deliveries(app + "-u1")); n != 6 {
			t.Errorf("%s-u1 got %d texts, want 6", app, n)
		}
		if over := overLimit(wsim.Deliveries(app+"-u1"), limits); over != "" {
			t.Errorf("%s-u1: %s", app, over)
		}
		if n := len(wsim.Deliveries(app + "-u3")); n != 1 {
			t.Errorf("%s-u3 got %d messages, want 1 (the card; the scheduled text was cancelled)", app, n)
		}
	}
	if d := wsim.Drops(); len(d) != 0 {
		t.Errorf("WeCom dropped %d messages: %+v", len(d), d)
	}
	if n := len(wsim.RequestsTo(wecomsim.EndpointUpdate)); n < len(cards) {
		t.Errorf("%d WeCom update requests, want ≥ %d", n, len(cards))
	}
	for _, u := range []string{"w-u1", "w-u2"} {
		if ds := xsim.Deliveries(u); len(ds) != 1 {
			t.Errorf("WPS deliveries of %s = %d, want 1", u, len(ds))
		} else if c, ok := xsim.CardOf(u, ds[0].CtxID); !ok || !strings.Contains(string(c), "v1") {
			t.Errorf("WPS card of %s = %s, want the update", u, c)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	for q := range cfg.Worker.Queues {
		tasks, err := insp.ListArchivedTasks(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatal(err)
		}
		if len(tasks) != 0 {
			t.Errorf("queue %s: %d archived tasks, want none", q, len(tasks))
		}
	}
	if seen := hook.errors(); len(seen) != 0 {
		t.Errorf("CROSSSLOT errors:\n%s", strings.Join(seen, "\n"))
	}
}

// waitEventOf blocks on app's events stream until an event of message id
// satisfies ok, and returns its fields; nil when ctx ends first.
func waitEventOf(t *testing.T, ctx context.Context, rdb redis.UniversalClient, app, id string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	last := "0"
	for {
		streams, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{record.EventsKey(app), last}, Block: 2 * time.Second, Count: 100}).Result()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("waiting for an event of %s: %v", id, err)
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if m.Values["message_id"] == id && ok(m.Values) {
					return m.Values
				}
			}
		}
	}
}

// waitTerminal waits for message id of app to end and returns its record;
// nil when ctx ends first.
func waitTerminal(t *testing.T, ctx context.Context, rdb redis.UniversalClient, app, id string) *record.Record {
	t.Helper()
	if waitEventOf(t, ctx, rdb, app, id, func(v map[string]any) bool { return record.State(fmt.Sprint(v["state"])).Terminal() }) == nil {
		return nil
	}
	rec, err := record.NewStore(rdb).Get(ctx, app, id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
