package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/kv"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// streamWatcher reads an app's events stream from the start.
type streamWatcher struct {
	b    *mtBundle
	last string
	seen []map[string]any
}

func (b *mtBundle) watchEvents() *streamWatcher { return &streamWatcher{b: b, last: "0"} }

// waitFor blocks (on XREAD BLOCK, no sleeping) until an event satisfies ok.
func (w *streamWatcher) waitFor(what string, ok func(map[string]any) bool) map[string]any {
	w.b.t.Helper()
	for _, ev := range w.seen {
		if ok(ev) {
			return ev
		}
	}
	for {
		streams, err := w.b.rdb.XRead(w.b.ctx, &redis.XReadArgs{Streams: []string{record.EventsKey(mtApp), w.last}, Block: 2 * time.Second, Count: 100}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			w.b.t.Fatalf("waiting for %s: %v (events so far: %v)", what, err, w.seen)
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				w.last = m.ID
				w.seen = append(w.seen, m.Values)
				if ok(m.Values) {
					return m.Values
				}
			}
		}
	}
}

func eventIs(typ, key, value string) func(map[string]any) bool {
	return func(ev map[string]any) bool { return ev["type"] == typ && ev[key] == value }
}

// status runs `dispatcher status` and decodes the record.
func (b *mtBundle) status(id string) *record.Record {
	b.t.Helper()
	out, errs, err := b.run("", "status", "--config", b.cfg, id)
	if err != nil {
		b.t.Fatalf("status: %v\n%s", err, errs)
	}
	assertNoSecret(b.t, "status", out)
	var rec record.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		b.t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	return &rec
}

// send runs `dispatcher send` for the tenant and returns the message id.
func (b *mtBundle) send(tenant, user, text string) string {
	b.t.Helper()
	out, errs, err := b.run("", "send", "--config", b.cfg, "--app", mtApp, "--tenant", tenant, "--to-user", user, "--text", text)
	if err != nil {
		b.t.Fatalf("send: %v\n%s", err, errs)
	}
	return strings.TrimSpace(out)
}

// A simulated installation end to end, over real HTTP: WeCom (the simulator)
// verifies the callback URL, pushes a suite_ticket and a create_auth to a
// running `dispatcher api`; the worker exchanges the auth code and the tenant
// appears in `dispatcher tenant list`; a message to it is delivered with a
// corp token obtained through the chain ticket → suite token → corp token.
// A card click is published once though WeCom repeats it, and its
// ResponseCode stored. cancel_auth disables the tenant: a later message waits with the reason in
// its status, nothing is archived and nothing reaches WeCom. A second tenant
// cancelled without telling the dispatcher (the callback lost) is paused on
// WeCom's 48004, also without archiving, and the app itself is never paused.
func TestThirdPartyInstallationEndToEnd(t *testing.T) {
	t.Parallel()
	b := setupMultiTenant(t)
	events := b.watchEvents()
	base, apiLogs := b.startAPI()
	if err := b.sim.AddSuite(wecomsim.Suite{ID: mtSuiteID, Secret: mtSuiteSecret, CallbackURL: base + "/callbacks/wecom/" + mtApp,
		Token: mtCBToken, EncodingAESKey: mtAESKey}); err != nil {
		t.Fatal(err)
	}
	workerLogs := b.startWorker()

	// The provider console verifies the URL; then WeCom pushes a ticket.
	if status, answer, err := b.sim.VerifyURL(b.ctx, mtSuiteID, mtSuiteID, "8964001"); err != nil || status != 200 || answer != "8964001" {
		t.Fatalf("URL verification: %d %q %v", status, answer, err)
	}
	if _, _, err := b.sim.FireSuiteTicket(b.ctx, mtSuiteID); err != nil {
		t.Fatal(err)
	}

	// Two companies install the app.
	const corpA, corpB = "wpCorpAlphaXyZ", "wpCorpBetaQrS"
	var authCodes []string
	for _, in := range []wecomsim.Install{
		{CorpID: corpA, CorpName: "Alpha", AgentID: 1000017, UserMax: 300, Users: []string{"wmAlice"}},
		{CorpID: corpB, CorpName: "Beta", AgentID: 1000023, UserMax: 50, Users: []string{"wmBob"}},
	} {
		inst, err := b.sim.InstallTenant(mtSuiteID, in)
		if err != nil {
			t.Fatal(err)
		}
		authCodes = append(authCodes, inst.AuthCode)
		if _, err := b.sim.FireCreateAuth(b.ctx, mtSuiteID, inst.AuthCode); err != nil {
			t.Fatal(err)
		}
		events.waitFor("tenant.added "+in.CorpID, eventIs("tenant.added", "tenant", in.CorpID))
	}
	out, errs, err := b.tenantCmd("", "list")
	if err != nil {
		t.Fatalf("tenant list: %v\n%s", err, errs)
	}
	for _, want := range []string{corpA, "Alpha", "1000017", "300", corpB, "1000023", "active"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenant list lacks %q:\n%s", want, out)
		}
	}
	for _, corp := range []string{corpA, corpB} {
		code, _ := b.sim.PermanentCode(mtSuiteID, corp)
		if strings.Contains(out, code) {
			t.Errorf("tenant list shows the permanent code of %s", corp)
		}
		raw, _ := b.rdb.HGetAll(b.ctx, "msgd:{"+mtApp+"}:tenant:"+corp).Result()
		if fmt.Sprint(raw) == "" || strings.Contains(fmt.Sprint(raw), code) {
			t.Errorf("Redis holds the permanent code of %s in clear: %v", corp, raw)
		}
	}

	// Messages to both tenants are delivered with their corp tokens.
	idA := b.send(corpA, "wmAlice", "hello Alpha")
	idB := b.send(corpB, "wmBob", "hello Beta")
	if err := b.sim.WaitDeliveries(b.ctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ user, corp string }{{"wmAlice", corpA}, {"wmBob", corpB}} {
		d := b.sim.Deliveries(tt.user)
		if len(d) != 1 || d[0].CorpID != tt.corp {
			t.Errorf("deliveries to %s: %+v", tt.user, d)
		}
	}
	if b.sim.Deliveries("wmAlice")[0].AgentID != 1000017 || b.sim.Deliveries("wmBob")[0].AgentID != 1000023 {
		t.Error("a message carried another tenant's agentid")
	}
	for _, ep := range []string{wecomsim.EndpointSuiteToken, wecomsim.EndpointCorpToken, wecomsim.EndpointPermanentCode, wecomsim.EndpointAuthInfo} {
		if n := len(b.sim.RequestsTo(ep)); n == 0 {
			t.Errorf("no %s request", ep)
		}
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointGetToken)); n != 0 {
		t.Errorf("%d gettoken requests for a third-party app", n)
	}
	for _, id := range []string{idA, idB} {
		events.waitFor("accepted "+id, eventIs("accepted", "message_id", id))
		if st := b.status(id); st.State != record.Accepted {
			t.Errorf("status of %s: %s (%s)", id, st.State, st.Reason)
		}
	}

	// A member of Alpha clicks a card; WeCom repeats the callback. The click is
	// published once and its ResponseCode kept for the card's update.
	click, respCode, err := b.sim.FireCardClick(b.ctx, wecomsim.CardClick{SuiteID: mtSuiteID, CorpID: corpA, User: "wmAlice",
		TaskID: "task-42", EventKey: "approve", CardType: "button_interaction"})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, err := b.sim.Deliver(b.ctx, click); err != nil || status != 200 {
		t.Fatalf("repeated click: %d %v", status, err)
	}
	ev := events.waitFor("card click", eventIs("wecom.card_click", "tenant", corpA))
	if ev["user"] != "wmAlice" || ev["task_id"] != "task-42" || ev["event_key"] != "approve" {
		t.Errorf("click event %v", ev)
	}
	if code, err := kv.New(b.rdb, mtApp).Take(b.ctx, wecom.ClickCodeKey(corpA, "task-42", "wmAlice")); err != nil || string(code) != respCode {
		t.Errorf("stored response code %q, %v; want the click's", code, err)
	}

	// Alpha's message, cancelled after it was sent, is recalled with Alpha's
	// corp token (the simulator refuses a msgid of another tenant's app).
	out, errs, err = b.run("", "cancel", "--config", b.cfg, idA)
	if err != nil {
		t.Fatalf("cancel: %v\n%s", err, errs)
	}
	if !strings.Contains(out, string(record.OutcomeRecalled)) {
		t.Errorf("cancel of %s after it was sent:\n%s", idA, out)
	}
	if d := b.sim.Deliveries("wmAlice"); len(d) != 1 || d[0].RecalledAt.IsZero() {
		t.Errorf("deliveries to wmAlice after the cancel: %+v, want it recalled", d)
	}

	// Alpha cancels: WeCom tells the dispatcher at once.
	if _, err := b.sim.FireCancelAuth(b.ctx, mtSuiteID, corpA); err != nil {
		t.Fatal(err)
	}
	events.waitFor("tenant.disabled", eventIs("tenant.disabled", "tenant", corpA))
	out, _, _ = b.tenantCmd("", "list")
	if !strings.Contains(out, "disabled") || !strings.Contains(out, "cancel_auth") {
		t.Errorf("tenant list after cancel_auth:\n%s", out)
	}
	// Beta cancels too, but its callback is lost: WeCom answers 48004.
	if err := b.sim.CancelTenant(mtSuiteID, corpB); err != nil {
		t.Fatal(err)
	}
	sendsBefore := len(b.sim.RequestsTo(wecomsim.EndpointSend))
	idA2 := b.send(corpA, "wmAlice", "after cancel_auth")
	idB2 := b.send(corpB, "wmBob", "after a lost cancel_auth")
	for _, tt := range []struct {
		id   string
		want []string
	}{
		{idA2, []string{"paused", corpA, "cancel_auth"}},
		{idB2, []string{"paused", "48004"}},
	} {
		events.waitFor("waiting "+tt.id, eventIs("waiting", "message_id", tt.id))
		st := b.status(tt.id)
		if st.State.Terminal() || st.Wait == nil {
			t.Fatalf("status of %s: %s %+v, want waiting", tt.id, st.State, st.Wait)
		}
		for _, w := range tt.want {
			if !strings.Contains(st.Wait.Reason, w) {
				t.Errorf("status of %s says %q, want it to mention %q", tt.id, st.Wait.Reason, w)
			}
		}
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)) - sendsBefore; n != 1 {
		t.Errorf("%d message/send requests after the cancellations, want 1 (Beta's, answered 48004)", n)
	}
	if d := b.sim.DeliveryCount(); d != 2 {
		t.Errorf("%d deliveries, want the 2 from before the cancellations", d)
	}
	pauses := appstate.New(b.rdb)
	for _, corp := range []string{corpA, corpB} {
		if p, _ := pauses.Paused(b.ctx, mtApp, corp); p == nil {
			t.Errorf("tenant %s is not paused", corp)
		}
	}
	if p, _ := pauses.Paused(b.ctx, mtApp, ""); p != nil {
		t.Errorf("the whole app is paused: %+v", p)
	}
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	authTasks := 0
	for _, q := range []string{"critical", "default", "low"} {
		archived, err := insp.ListArchivedTasks(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatal(err)
		}
		for _, task := range archived {
			t.Errorf("archived task %s in %s: %s", task.ID, q, task.LastErr)
		}
		completed, err := insp.ListCompletedTasks(q)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			t.Fatal(err)
		}
		for _, task := range append(archived, completed...) {
			if task.Type == wecom.TaskAuth {
				authTasks++
			}
			assertNoSecret(t, "task payload", string(task.Payload))
			for _, code := range authCodes {
				if strings.Contains(string(task.Payload), code) {
					t.Errorf("task %s holds an auth code in clear: %s", task.ID, task.Payload)
				}
			}
		}
	}
	if authTasks != 2 {
		t.Errorf("%d authorisation tasks done, want 2 (one per create_auth)", authTasks)
	}
	all, _ := b.rdb.XRange(b.ctx, record.EventsKey(mtApp), "-", "+").Result()
	assertNoSecret(t, "events stream", fmt.Sprint(all))
	clicks := 0
	for _, m := range all {
		if m.Values["type"] == "wecom.card_click" {
			clicks++
		}
		if strings.Contains(fmt.Sprint(m.Values), respCode) {
			t.Errorf("an event holds the response code: %v", m.Values)
		}
	}
	if clicks != 1 {
		t.Errorf("%d click events, want 1 (the repeat deduplicated)", clicks)
	}
	assertNoSecret(t, "api logs", apiLogs.String())
	assertNoSecret(t, "worker logs", workerLogs.String())
}
