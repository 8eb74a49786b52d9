package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/kv"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// card is a button_interaction card whose title is title.
func card(title string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"card_type":"button_interaction","main_title":{"title":%q},`+
		`"button_list":[{"text":"OK","style":1,"key":"ok"}]}`, title))
}

// sendCard enqueues a card titled title to users.
func (b *testBundle) sendCard(title string, users ...string) string {
	b.t.Helper()
	id, err := b.producer.Send(b.ctx, providers.Message{App: testApp, To: providers.Recipients{Users: users}, Kind: providers.KindCard, Body: card(title)})
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

func (b *testBundle) update(id, title string) int64 {
	b.t.Helper()
	seq, err := b.producer.Update(b.ctx, id, producer.Content{Kind: providers.KindCard, Body: card(title)})
	if err != nil {
		b.t.Fatal(err)
	}
	return seq
}

// waitUpdate waits for the event of update seq of message id to finish.
func (b *testBundle) waitUpdate(id string, seq int64) record.Event {
	b.t.Helper()
	return b.waitEvent(id, func(e record.Event) bool {
		return e.Type == "update" && strings.HasPrefix(e.Detail, fmt.Sprintf("update %d ", seq))
	})
}

// titleOf is the main title of the card user sees of part 0 of message id.
func (b *testBundle) titleOf(id, user string) string {
	b.t.Helper()
	taskID := b.taskID(id)
	c, ok := b.sim.CardOf(user, taskID)
	if !ok {
		b.t.Fatalf("%s has no card %s", user, taskID)
	}
	var v struct {
		MainTitle struct {
			Title string `json:"title"`
		} `json:"main_title"`
	}
	if err := json.Unmarshal(c.Body, &v); err != nil {
		b.t.Fatal(err)
	}
	return v.MainTitle.Title
}

// taskID is the template_card task_id of part 0 of message id.
func (b *testBundle) taskID(id string) string {
	b.t.Helper()
	rec := b.get(id)
	if len(rec.Parts) == 0 {
		b.t.Fatalf("message %s has no parts", id)
	}
	return wecom.CardTaskID(rec.Parts[0].Body)
}

func (b *testBundle) status(id string) *producer.Status {
	b.t.Helper()
	st, err := b.producer.Status(b.ctx, id)
	if err != nil {
		b.t.Fatal(err)
	}
	return st
}

func historyState(st *producer.Status, seq int64) record.UpdateState {
	if st.Updates == nil {
		return ""
	}
	for _, e := range st.Updates.History {
		if e.Seq == seq {
			return e.State
		}
	}
	return ""
}

// An update enqueued before the send runs is sent by the send itself: one
// request, the new content.
func TestUpdateBeforeSend(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	id := b.sendCard("v0", "zhangsan", "lisi")
	if seq := b.update(id, "v1"); seq != 1 {
		t.Fatalf("seq %d, want 1", seq)
	}
	b.worker = b.startWorker()
	rec := b.waitFinished(id)
	if rec.State != record.Accepted {
		t.Fatalf("state %s (%s)", rec.State, rec.Reason)
	}
	b.waitUpdate(id, 1)
	if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)); n != 1 {
		t.Errorf("%d sends, want 1", n)
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointUpdate)); n != 0 {
		t.Errorf("%d update requests, want 0", n)
	}
	for _, u := range []string{"zhangsan", "lisi"} {
		if got := b.titleOf(id, u); got != "v1" {
			t.Errorf("%s sees %q, want v1", u, got)
		}
	}
	if s := historyState(b.status(id), 1); s != record.UpdateRendered {
		t.Errorf("update 1 is %q, want rendered", s)
	}
}

// Three updates after the send coalesce: the newest is applied with one
// request (the part's response code), the older ones are superseded.
func TestUpdatesAfterSendNewestWins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.sendCard("v0", "zhangsan", "lisi")
	b.waitFinished(id)
	b.worker.Shutdown() // the three updates wait in one task
	for i := 1; i <= 3; i++ {
		b.update(id, fmt.Sprintf("v%d", i))
	}
	b.worker = b.startWorker()
	b.waitUpdate(id, 3)
	for _, u := range []string{"zhangsan", "lisi"} {
		if got := b.titleOf(id, u); got != "v3" {
			t.Errorf("%s sees %q, want v3", u, got)
		}
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointUpdate)); n != 1 {
		t.Errorf("%d update requests, want 1", n)
	}
	st := b.status(id)
	for seq, want := range map[int64]record.UpdateState{1: record.UpdateSuperseded, 2: record.UpdateSuperseded, 3: record.UpdateApplied} {
		if got := historyState(st, seq); got != want {
			t.Errorf("update %d is %q, want %q", seq, got, want)
		}
	}
	if r := st.Updates.Recipients["zhangsan"]; r.Seq != 3 || r.State != record.RecipientUpdated {
		t.Errorf("zhangsan: %+v, want updated to 3", r)
	}
}

// Once the part's response code is used, a user is reachable only with a
// click's code; without one the user is update_unreachable with the reason,
// and a used click code (60140) is final.
func TestUpdateResponseCodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.sendCard("v0", "zhangsan", "lisi")
	b.waitFinished(id)
	b.update(id, "v1")
	b.waitUpdate(id, 1) // uses the send's code

	// zhangsan clicked: a fresh code; lisi has a code WeCom no longer takes.
	taskID := b.taskID(id)
	codes := kv.New(b.rdb, testApp)
	if err := codes.Set(b.ctx, wecom.ClickCodeKey("", taskID, "zhangsan"), []byte(b.sim.IssueClickCode(testCorp, testAgent, taskID, "zhangsan")), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := codes.Set(b.ctx, wecom.ClickCodeKey("", taskID, "lisi"), []byte("used-or-unknown-code"), time.Hour); err != nil {
		t.Fatal(err)
	}
	b.update(id, "v2")
	b.waitUpdate(id, 2)
	if got := b.titleOf(id, "zhangsan"); got != "v2" {
		t.Errorf("zhangsan sees %q, want v2", got)
	}
	if got := b.titleOf(id, "lisi"); got != "v1" {
		t.Errorf("lisi sees %q, want v1", got)
	}
	r := b.status(id).Updates.Recipients["lisi"]
	if r.State != record.RecipientUnreachable || !strings.Contains(r.Reason, "60140") {
		t.Errorf("lisi: %+v, want update_unreachable with 60140", r)
	}

	// No codes left at all.
	b.update(id, "v3")
	b.waitUpdate(id, 3)
	st := b.status(id)
	for _, u := range []string{"zhangsan", "lisi"} {
		r := st.Updates.Recipients[u]
		if r.State != record.RecipientUnreachable || !strings.Contains(r.Reason, "response_code") {
			t.Errorf("%s: %+v, want update_unreachable naming the response_code rule", u, r)
		}
	}
	if got := historyState(st, 3); got != record.UpdateUnreachable {
		t.Errorf("update 3 is %q, want unreachable", got)
	}
}

// Cancel before the send: nothing leaves, the record ends cancelled.
func TestCancelBeforeSend(t *testing.T) {
	t.Parallel()
	hold := worker.GateFunc(func(_ context.Context, a *worker.Attempt) error { return worker.Defer(time.Minute, "test: hold") })
	b := setup(t, func(o *setupOpts) { o.gates = []worker.Gate{hold} })
	id := b.sendCard("v0", "zhangsan")
	b.waitEvent(id, func(e record.Event) bool { return e.State == record.Waiting })
	o, err := b.producer.Cancel(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if o.State != record.Cancelled || len(o.Removed) == 0 {
		t.Fatalf("outcome %+v, want cancelled with the send task removed", o)
	}
	if rec := b.get(id); rec.State != record.Cancelled {
		t.Fatalf("record %s", rec.State)
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)); n != 0 {
		t.Errorf("%d sends, want 0", n)
	}
	if _, err := b.producer.Update(b.ctx, id, producer.Content{Kind: providers.KindCard, Body: card("v1")}); err == nil {
		t.Error("update of a cancelled message succeeded")
	}
}

// Cancel after the send recalls it; a message older than 24 h cannot be
// recalled and says so.
func TestCancelAfterSendRecalls(t *testing.T) {
	t.Parallel()
	clock := wecomsim.NewManualClock(time.Now())
	b := setup(t, func(o *setupOpts) { o.simOptions.Clock = clock.Now })
	id := b.send("take me back", "zhangsan")
	old := b.send("too old", "lisi")
	b.waitFinished(id)
	b.waitFinished(old)
	o, err := b.producer.Cancel(b.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Parts) != 1 || o.Parts[0].Outcome != record.OutcomeRecalled {
		t.Fatalf("outcome %+v, want part 0 recalled", o)
	}
	if d := b.sim.Deliveries("zhangsan"); len(d) != 1 || d[0].RecalledAt.IsZero() {
		t.Errorf("zhangsan's delivery not recalled: %+v", d)
	}
	clock.Advance(25 * time.Hour)
	o, err = b.producer.Cancel(b.ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Parts) != 1 || o.Parts[0].Outcome != record.OutcomeSent || !strings.Contains(o.Parts[0].Error, "42052") {
		t.Fatalf("outcome %+v, want part 0 sent with a 42052 error", o)
	}
}
