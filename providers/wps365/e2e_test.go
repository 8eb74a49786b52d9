package wps365_test

// End-to-end tests through the dispatcher's core: producer → Redis (a
// private redis-server) → worker → this provider → wps365sim over HTTP, and
// callbacks through catalog.CallbackHandler into the app's events stream.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wps365"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// coreApp is the configured app name of the core tests.
const coreApp = "w365"

// countingHook counts Redis round trips (a pipeline or MULTI is one) and
// the bytes of the arguments sent.
type countingHook struct{ trips, bytes atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.trips.Add(1)
		h.bytes.Add(argBytes(cmd))
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.trips.Add(1)
		for _, c := range cmds {
			h.bytes.Add(argBytes(c))
		}
		return next(ctx, cmds)
	}
}

func argBytes(cmd redis.Cmder) int64 {
	var n int64
	for _, a := range cmd.Args() {
		switch v := a.(type) {
		case string:
			n += int64(len(v))
		case []byte:
			n += int64(len(v))
		default:
			n += 8
		}
	}
	return n
}

// core is the dispatcher around a simulator.
type core struct {
	ctx  context.Context
	rdb  *redis.Client // the core's client, counted by hook
	read *redis.Client // the tests' own client (XREAD), not counted
	hook *countingHook
	conf *config.Config
	prod *producer.Client
}

// withCore makes setup start the core around the simulator, which then
// runs on the wall clock (the worker signs with it).
func withCore(o *setupOpts) { o.core, o.sim.Clock = true, time.Now }

// withAppYAML adds lines to the core's app block.
func withAppYAML(y string) func(*setupOpts) { return func(o *setupOpts) { o.appYAML += y } }

// startCore starts a private redis-server, a worker and a producer for app
// coreApp of provider wps365 pointing at b's simulator.
func startCore(t testing.TB, b *testBundle, appYAML string) *core {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	srv := redistest.Start(t)
	rdb := srv.Client()
	hook := &countingHook{}
	rdb.AddHook(hook)
	conf, err := config.Parse([]byte(fmt.Sprintf(`
peak: {enabled: false}
worker: {concurrency: 8, task_check_interval: 10ms, delayed_task_check_interval: 100ms}
apps:
  %s:
    provider: wps365
%s    wps365: {base_url: %q, app_id: %s, app_secret: %s, company_id: %s}
`, coreApp, appYAML, b.base, appID, appSecret, companyID)), nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Options{Config: conf, Redis: rdb, Logger: coreLogger})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return &core{ctx: ctx, rdb: rdb, read: srv.Client(), hook: hook, conf: conf, prod: producer.New(conf, rdb)}
}

// waitEvent blocks on the app's events stream (XREAD BLOCK) until an event
// satisfies ok, and returns its fields.
func (c *core) waitEvent(t testing.TB, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	last := "0"
	for {
		streams, err := c.read.XRead(c.ctx, &redis.XReadArgs{Streams: []string{record.EventsKey(coreApp), last}, Block: 2 * time.Second}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("waiting for an event: %v", err)
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if ok(m.Values) {
					return m.Values
				}
			}
		}
	}
}

// waitDone waits for the terminal event of message id and returns its
// delivery record.
func (c *core) waitDone(t testing.TB, id string) *producer.Status {
	t.Helper()
	c.waitEvent(t, func(v map[string]any) bool {
		return v["message_id"] == id && record.State(fmt.Sprint(v["state"])).Terminal() && v["type"] != "update"
	})
	st, err := c.prod.Status(c.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// events returns the app's events of type typ.
func (c *core) events(t testing.TB, typ string) []map[string]any {
	t.Helper()
	msgs, err := c.read.XRange(c.ctx, record.EventsKey(coreApp), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, m := range msgs {
		if m.Values["type"] == typ {
			out = append(out, m.Values)
		}
	}
	return out
}

// send enqueues msg for coreApp and waits until it is accepted, with a
// provider message id recorded for every part.
func (c *core) send(t testing.TB, msg providers.Message) (string, *producer.Status) {
	t.Helper()
	msg.App = coreApp
	id, err := c.prod.Send(c.ctx, msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	st := c.waitDone(t, id)
	if st.State != record.Accepted {
		t.Fatalf("message %s ended %s (%s; %s)", id, st.State, st.Reason, st.LastError)
	}
	for _, p := range st.Parts {
		if p.State != record.PartAccepted || p.Result == nil || p.Result.ProviderMessageID == "" {
			t.Fatalf("part %d: %s, result %+v: want accepted with data.message_id recorded", p.Index, p.State, p.Result)
		}
	}
	return id, st
}

func TestCoreSendsToUserAndChat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		msg      providers.Message
		typ      string   // the outer type the simulator stored
		style    string   // text.type of a text message
		users    []string // who must see it
		notUser  string   // who must not
		chat     string
		contains string
	}{
		{desc: "text to a user", msg: providers.Message{Kind: providers.KindText, Text: "hello u1", To: providers.Recipients{Users: []string{"u1"}}},
			typ: "text", style: "plain", users: []string{"u1"}, notUser: "u2", contains: "hello u1"},
		{desc: "markdown to a user", msg: providers.Message{Kind: providers.KindMarkdown, Text: "**hi** u2", To: providers.Recipients{Users: []string{"u2"}}},
			typ: "text", style: "markdown", users: []string{"u2"}, notUser: "u1", contains: "**hi** u2"},
		{desc: "card to a user", msg: providers.Message{Kind: providers.KindCard, Body: testCard("for u3", 2), To: providers.Recipients{Users: []string{"u3"}}},
			typ: "card", users: []string{"u3"}, notUser: "u1", contains: "for u3"},
		{desc: "text to a chat", msg: providers.Message{Kind: providers.KindText, Text: "hello c1", To: providers.Recipients{Chats: []string{"c1"}}},
			typ: "text", style: "plain", users: []string{"u1", "u2"}, notUser: "u3", chat: "c1", contains: "hello c1"},
		{desc: "markdown to a chat", msg: providers.Message{Kind: providers.KindMarkdown, Text: "# c1 news", To: providers.Recipients{Chats: []string{"c1"}}},
			typ: "text", style: "markdown", users: []string{"u1", "u2"}, notUser: "u3", chat: "c1", contains: "# c1 news"},
		{desc: "card to a chat", msg: providers.Message{Kind: providers.KindCard, Body: testCard("for c1", 1), To: providers.Recipients{Chats: []string{"c1"}}},
			typ: "card", users: []string{"u1", "u2"}, notUser: "u3", chat: "c1", contains: "for c1"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withCore)
			_, st := b.core.send(t, tc.msg)
			if len(st.Parts) != 1 {
				t.Fatalf("%d parts, want 1", len(st.Parts))
			}
			mid := st.Parts[0].Result.ProviderMessageID
			m, ok := b.sim.MessageOf(mid)
			if !ok || m.Type != tc.typ || m.Via != wps365sim.EndpointCreate || m.ChatID != tc.chat {
				t.Fatalf("simulator view of the recorded message_id %s: %+v, want a %s create in chat %q", mid, m, tc.typ, tc.chat)
			}
			for _, u := range tc.users {
				ds := b.sim.Deliveries(u)
				if len(ds) != 1 || ds[0].MessageID != mid || !bytes.Contains(ds[0].Content, []byte(tc.contains)) {
					t.Fatalf("%s sees %+v, want message %s with %q", u, ds, mid, tc.contains)
				}
				if tc.style != "" {
					if _, style := textOf(t, ds[0].Content); style != tc.style {
						t.Fatalf("%s sees text.type %q, want %q", u, style, tc.style)
					}
				}
			}
			if ds := b.sim.Deliveries(tc.notUser); len(ds) != 0 {
				t.Fatalf("%s received %+v, not meant for them", tc.notUser, ds)
			}
		})
	}
}

func TestCoreReply(t *testing.T) {
	t.Parallel()
	b := setup(t, withCore)
	orig, err := b.sim.PostUserMessage("c1", "u1", "who is on call?")
	if err != nil {
		t.Fatal(err)
	}
	_, st := b.core.send(t, providers.Message{Kind: providers.KindText, ReplyTo: &providers.ReplyTo{Chat: "c1", MessageID: orig},
		To:   providers.Recipients{Chats: []string{"c1"}},
		Text: `<at id="0">u1</at> I am`, Body: []byte(`{"mentions":[{"id":"0","type":"user","identity":{"company_id":"comp1","id":"u1","type":"user"}}]}`)})
	if len(st.Parts) != 1 || !st.Parts[0].NotUpdatable || st.Parts[0].Target != "c1/"+orig {
		t.Fatalf("parts %+v, want one not-updatable reply part with target c1/%s", st.Parts, orig)
	}
	msgs := b.sim.ChatMessages("c1")
	if len(msgs) != 2 || msgs[0].ID != orig {
		t.Fatalf("chat c1 holds %+v, want the question then the reply", msgs)
	}
	r := msgs[1]
	if r.ID != st.Parts[0].Result.ProviderMessageID || r.ReplyTo != orig || r.Via != wps365sim.EndpointReply || !bytes.Contains(r.Content, []byte("I am")) ||
		!bytes.Contains(r.Mentions, []byte(`"u1"`)) {
		t.Fatalf("reply as the simulator shows it: %+v", r)
	}
	if n := len(b.sim.RequestsTo(wps365sim.EndpointCreate)); n != 0 {
		t.Fatalf("%d create requests for a reply", n)
	}

	// A card cannot be a reply: refused at enqueue, naming the field, nothing queued.
	_, err = b.core.prod.Send(b.core.ctx, providers.Message{App: coreApp, Kind: providers.KindCard, Body: testCard("no", 1),
		ReplyTo: &providers.ReplyTo{Chat: "c1", MessageID: orig}})
	var ve *providers.ValidationError
	if !errors.As(err, &ve) || ve.Field != "kind" {
		t.Fatalf("card reply: %v, want a ValidationError on kind", err)
	}
	if n := len(b.sim.RequestsTo(wps365sim.EndpointReply)); n != 1 {
		t.Fatalf("%d reply requests, want only the text reply", n)
	}
}

// TestCoreReplyWithoutTo is a reply whose to is empty: the producer
// addresses it to the chat it answers, so it is admitted and sent like any
// message to that chat.
func TestCoreReplyWithoutTo(t *testing.T) {
	t.Parallel()
	b := setup(t, withCore)
	orig, err := b.sim.PostUserMessage("c1", "u2", "status?")
	if err != nil {
		t.Fatal(err)
	}
	_, st := b.core.send(t, providers.Message{Kind: providers.KindText, Text: "green", ReplyTo: &providers.ReplyTo{Chat: "c1", MessageID: orig}})
	if m, _ := b.sim.MessageOf(st.Parts[0].Result.ProviderMessageID); m.ReplyTo != orig {
		t.Fatalf("simulator view %+v, want a reply to %s", m, orig)
	}
}

func TestCoreBatchToDeptNotUpdatable(t *testing.T) {
	t.Parallel()
	b := setup(t, withCore)
	id, st := b.core.send(t, providers.Message{Kind: providers.KindCard, Body: testCard("dept", 1), To: providers.Recipients{Depts: []string{"d1"}}})
	if len(st.Parts) != 1 || !st.Parts[0].NotUpdatable {
		t.Fatalf("parts %+v, want one part recorded as not updatable", st.Parts)
	}
	if m, _ := b.sim.MessageOf(st.Parts[0].Result.ProviderMessageID); m.Via != wps365sim.EndpointBatchCreate || len(m.Users) != 2 {
		t.Fatalf("simulator view %+v, want a batch_create to u1, u2", m)
	}
	_, err := b.core.prod.Update(b.core.ctx, id, producer.Content{Kind: providers.KindCard, Body: testCard("new", 1)})
	var ve *providers.ValidationError
	if !errors.As(err, &ve) || ve.Field != "to" || !strings.Contains(err.Error(), "batch_create") {
		t.Fatalf("Update of a batch message: %v, want a ValidationError on to saying batch_create", err)
	}
	if st, _ := b.core.prod.Status(b.core.ctx, id); st.Updates != nil {
		t.Fatalf("a refused update was recorded: %+v", st.Updates)
	}
	if n := len(b.sim.RequestsTo(wps365sim.EndpointUpdate)); n != 0 {
		t.Fatalf("%d update requests", n)
	}
}

func TestCoreCardUpdateApplied(t *testing.T) {
	t.Parallel()
	b := setup(t, withCore)
	id, st := b.core.send(t, providers.Message{Kind: providers.KindCard, Body: testCard("v1", 1), To: providers.Recipients{Users: []string{"u1"}}})
	mid := st.Parts[0].Result.ProviderMessageID
	if m, _ := b.sim.MessageOf(mid); st.Parts[0].NotUpdatable || !m.Shared || !m.Updatable {
		t.Fatalf("part not_updatable=%v, simulator %+v: want a shared card sent with create", st.Parts[0].NotUpdatable, m)
	}
	seq, err := b.core.prod.Update(b.core.ctx, id, producer.Content{Kind: providers.KindCard, Body: testCard("v2", 3)})
	if err != nil || seq != 1 {
		t.Fatalf("Update = %d, %v", seq, err)
	}
	b.core.waitEvent(t, func(v map[string]any) bool {
		return v["message_id"] == id && v["type"] == "update" && v["detail"] == "update 1 applied"
	})
	st, err = b.core.prod.Status(b.core.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if u := st.Updates; u == nil || u.Seq != 1 || len(u.History) != 1 || u.History[0].State != record.UpdateApplied ||
		u.Recipients["u1"].State != record.RecipientUpdated || u.Recipients["u1"].Seq != 1 {
		t.Fatalf("update history %+v, want update 1 applied to u1", st.Updates)
	}
	ds := b.sim.Deliveries("u1")
	if len(ds) != 1 || ds[0].Updates != 1 || !bytes.Contains(ds[0].Content, []byte(`"v2"`)) || bytes.Contains(ds[0].Content, []byte(`"v1"`)) {
		t.Fatalf("u1 sees %+v, want the v2 card", ds)
	}
}

func TestCoreRecall(t *testing.T) {
	t.Parallel()
	b := setup(t, withCore)
	id, st := b.core.send(t, providers.Message{Kind: providers.KindCard, Body: testCard("oops", 1), To: providers.Recipients{Users: []string{"u2"}}})
	out, err := b.core.prod.Cancel(b.core.ctx, id)
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if len(out.Parts) != 1 || out.Parts[0].Outcome != record.OutcomeRecalled {
		t.Fatalf("cancel outcome %+v, want the part recalled", out)
	}
	ds := b.sim.Deliveries("u2")
	if len(ds) != 1 || ds[0].MessageID != st.Parts[0].Result.ProviderMessageID || !ds[0].Recalled {
		t.Fatalf("u2 sees %+v, want the card recalled", ds)
	}
}

func TestCoreTokenExpiryAbsorbed(t *testing.T) {
	t.Parallel()
	b := setup(t, withCore)
	msg := providers.Message{Kind: providers.KindText, Text: "one", To: providers.Recipients{Users: []string{"u1"}}}
	b.core.send(t, msg)
	if n := b.sim.TokenFetches(appID); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
	b.sim.ExpireTokens() // the token cached in Redis is now refused with HTTP 401
	_, st := b.core.send(t, msg)
	if n := b.sim.TokenFetches(appID); n != 2 {
		t.Fatalf("%d token requests, want 2 (one refresh)", n)
	}
	if st.Parts[0].Attempts != 1 || st.Failures != 0 {
		t.Fatalf("second message: %d attempts, %d failures; want the refresh inside one attempt", st.Parts[0].Attempts, st.Failures)
	}
	reqs := b.sim.RequestsTo(wps365sim.EndpointCreate)
	if len(reqs) != 3 || reqs[0].Status != http.StatusOK || reqs[1].Status != http.StatusUnauthorized || reqs[2].Status != http.StatusOK {
		t.Fatalf("create requests %+v, want ok, 401, ok", reqs)
	}
	if n := len(b.sim.Deliveries("u1")); n != 2 {
		t.Fatalf("u1 has %d messages, want 2", n)
	}
}

func TestCoreCallbacks(t *testing.T) {
	t.Parallel()
	b := setup(t, withCore)
	c := b.core
	h, err := catalog.CallbackHandler(coreApp, c.conf.Apps[coreApp], catalog.Deps{Redis: c.rdb})
	if err != nil || h == nil {
		t.Fatalf("CallbackHandler = %v, %v", h, err)
	}
	path := "/callbacks/wps365/" + coreApp
	mux := http.NewServeMux()
	mux.Handle(path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	url := srv.URL + path

	res, err := b.sim.FireChallenge(c.ctx, url, appID, "ch-4711")
	if err != nil || res.Status != http.StatusOK || !bytes.Contains(res.Body, []byte(`"ch-4711"`)) {
		t.Fatalf("challenge: %d %s %v, want it echoed", res.Status, res.Body, err)
	}

	click := wps365sim.CardClick{URL: url, AppID: appID, CompanyID: companyID, AppCtxID: "ctx-1", UserID: "u1", Action: "approve",
		Values: map[string]string{"comment": "ok"}, SignedAt: time.Now()}
	for range 2 { // WPS may repeat a callback: published once
		if res, err := b.sim.FireCardClick(c.ctx, click); err != nil || res.Status != http.StatusOK {
			t.Fatalf("card click: %d %s %v", res.Status, res.Body, err)
		}
	}
	ev := c.waitEvent(t, func(v map[string]any) bool { return v["type"] == wps365.EventTypeCardClick })
	if ev["user"] != "u1" || ev["action"] != "approve" || ev["app_ctx_id"] != "ctx-1" || !strings.Contains(fmt.Sprint(ev["values"]), `"comment":"ok"`) {
		t.Fatalf("click event %v", ev)
	}
	if n := len(c.events(t, wps365.EventTypeCardClick)); n != 1 {
		t.Fatalf("%d click events after the same click twice, want 1", n)
	}

	tests := []struct {
		desc  string
		click wps365sim.CardClick
	}{
		{desc: "forged signature", click: wps365sim.CardClick{URL: url, AppID: appID, CompanyID: companyID, AppCtxID: "ctx-2", UserID: "u2", Action: "reject", Secret: "not-the-secret"}},
		{desc: "stale date", click: wps365sim.CardClick{URL: url, AppID: appID, CompanyID: companyID, AppCtxID: "ctx-3", UserID: "u2", Action: "reject", SignedAt: time.Now().Add(-10 * time.Minute)}},
		{desc: "body changed after signing", click: wps365sim.CardClick{URL: url, AppID: appID, CompanyID: companyID, AppCtxID: "ctx-4", UserID: "u2", Action: "reject",
			Tamper: func(body []byte) []byte { return bytes.Replace(body, []byte("reject"), []byte("approve"), 1) }}},
	}
	for _, tc := range tests {
		res, err := b.sim.FireCardClick(c.ctx, tc.click)
		if err != nil || res.Status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s %v, want 401", tc.desc, res.Status, res.Body, err)
		}
	}
	// The handler publishes before it answers: nothing more can arrive.
	if n := len(c.events(t, wps365.EventTypeCardClick)); n != 1 {
		t.Fatalf("%d click events after the refused callbacks, want still 1", n)
	}
}

// cardParts sends one card to n users through the core (quotas off) and
// returns the Redis round trips and argument bytes per part it cost, from
// the send to the record's accepted event.
func cardParts(tb testing.TB, b *testBundle, users []string, title string) (tripsPerPart, bytesPerPart float64) {
	tb.Helper()
	c := b.core
	t0, b0 := c.hook.trips.Load(), c.hook.bytes.Load()
	id, err := c.prod.Send(c.ctx, providers.Message{App: coreApp, Kind: providers.KindCard, Body: testCard(title, 1), To: providers.Recipients{Users: users}})
	if err != nil {
		tb.Fatal(err)
	}
	c.waitEvent(tb, func(v map[string]any) bool { return v["message_id"] == id && v["state"] == string(record.Accepted) })
	trips, byts := c.hook.trips.Load()-t0, c.hook.bytes.Load()-b0
	n := float64(len(users))
	return float64(trips) / n, float64(byts) / n
}

// quotasOff turns the per-recipient limits off and the smoothing rate up,
// so that only the core's per-part work is measured.
var quotasOff = withAppYAML("    limits: {per_recipient: [], rate: 100000, concurrency: 64}\n")

// setupUsers is setup with the core and users w0000… in the simulator.
func setupUsers(tb testing.TB, n int) (*testBundle, []string) {
	b := setup(tb, withCore, quotasOff)
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("w%04d", i)
	}
	b.sim.AddUsers(users...)
	return b, users
}

func TestCardPartsRedisCostFlat(t *testing.T) {
	t.Parallel()
	b, users := setupUsers(t, 100)
	cardParts(t, b, users[:1], "warm-up") // token fetched, connections made
	small, smallBytes := cardParts(t, b, users[:10], "ten")
	large, largeBytes := cardParts(t, b, users[:100], "hundred")
	t.Logf("Redis round trips per part: %.1f at 10 users, %.1f at 100; argument bytes per part: %.0f, %.0f", small, large, smallBytes, largeBytes)
	if large > 1.5*small {
		t.Fatalf("round trips per part grew from %.1f (10 users) to %.1f (100 users): more than 1.5×", small, large)
	}
	if got := len(b.sim.RequestsTo(wps365sim.EndpointCreate)); got != 111 {
		t.Fatalf("%d create requests, want 111 (one per user)", got)
	}
}

// BenchmarkCardParts sends a card to 10, 100 and 1000 users through the
// core (quotas off) and reports Redis round trips and argument bytes per
// part; Redis work linear in the users shows as flat per-part figures.
//
//	go test -run '^$' -bench CardParts -benchtime 3x ./providers/wps365/
func BenchmarkCardParts(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			tb, users := setupUsers(b, n)
			cardParts(b, tb, users[:1], "warm-up")
			var trips, byts float64
			b.ResetTimer()
			for i := range b.N {
				t, y := cardParts(b, tb, users, fmt.Sprintf("card %d", i))
				trips, byts = trips+t, byts+y
			}
			b.StopTimer()
			b.ReportMetric(trips/float64(b.N), "redis-roundtrips/part")
			b.ReportMetric(byts/float64(b.N), "redis-argbytes/part")
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "parts/s")
		})
	}
}

// coreLogger receives the worker's logs. Default: discard.
var coreLogger = slog.New(slog.DiscardHandler)
