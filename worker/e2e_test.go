package worker_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

func TestDeliveredWithTheRightJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.send(`审批 <a href="https://oa.example.com/x?a=1&b=2">详情</a>`, "zhangsan", "lisi")
	rec := b.waitFinished(id)
	if rec.State != record.Accepted || rec.Failures != 0 {
		t.Fatalf("state %s failures %d (%s)", rec.State, rec.Failures, rec.LastError)
	}
	for _, u := range []string{"zhangsan", "lisi"} {
		ds := b.sim.Deliveries(u)
		if len(ds) != 1 {
			t.Fatalf("%s got %d deliveries, want 1", u, len(ds))
		}
		var body struct {
			ToUser   string `json:"touser"`
			MsgType  string `json:"msgtype"`
			AgentID  int    `json:"agentid"`
			Text     struct{ Content string }
			Dup      int `json:"enable_duplicate_check"`
			Interval int `json:"duplicate_check_interval"`
		}
		if err := json.Unmarshal(ds[0].Body, &body); err != nil {
			t.Fatal(err)
		}
		want := `审批 <a href="https://oa.example.com/x?a=1&b=2">详情</a>`
		if body.ToUser != "zhangsan|lisi" || body.MsgType != "text" || body.AgentID != testAgent || body.Text.Content != want || body.Dup != 1 || body.Interval != 14400 {
			t.Errorf("%s received %s", u, ds[0].Body)
		}
		if strings.Contains(string(ds[0].Body), `\u003c`) {
			t.Errorf("body was HTML-escaped: %s", ds[0].Body)
		}
	}
	if p := rec.Parts[0]; p.Result == nil || p.Result.ProviderMessageID == "" || p.Attempts != 1 {
		t.Errorf("part record %+v: want msgid recorded and one attempt", p)
	}
}

func TestTokenExpiryMidRunAbsorbed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if rec := b.waitFinished(b.send("one", "zhangsan")); rec.State != record.Accepted {
		t.Fatalf("first message %s", rec.State)
	}
	b.sim.ExpireTokens()
	rec := b.waitFinished(b.send("two", "zhangsan"))
	if rec.State != record.Accepted || rec.Failures != 0 {
		t.Fatalf("after token expiry: state %s failures %d (%s)", rec.State, rec.Failures, rec.LastError)
	}
	if n := b.sim.TokenFetches(testCorp, testAgent); n != 2 {
		t.Errorf("gettoken called %d times, want 2 (one refresh)", n)
	}
	if n := len(b.sim.Deliveries("zhangsan")); n != 2 {
		t.Errorf("zhangsan got %d messages, want 2", n)
	}
}

func TestServerErrorThenSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.sim.Inject(wecomsim.HTTPStatus(500, 0).On(wecomsim.EndpointSend)); err != nil {
		t.Fatal(err)
	}
	rec := b.waitFinished(b.send("after a 500", "zhangsan"))
	if rec.State != record.Accepted || rec.Failures != 1 || rec.Parts[0].Attempts != 2 {
		t.Fatalf("state %s failures %d attempts %d, want accepted after one failure", rec.State, rec.Failures, rec.Parts[0].Attempts)
	}
	if n := len(b.sim.Deliveries("zhangsan")); n != 1 {
		t.Errorf("zhangsan got %d messages, want 1", n)
	}
	reqs := b.sim.RequestsTo(wecomsim.EndpointSend)
	if len(reqs) != 2 || reqs[0].Body != reqs[1].Body {
		t.Errorf("want 2 requests with identical bytes, got %d", len(reqs))
	}
}

func TestLostResponseResentWithinDedupeWindow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.sim.Inject(wecomsim.LostResponse().On(wecomsim.EndpointSend)); err != nil {
		t.Fatal(err)
	}
	rec := b.waitFinished(b.send("maybe twice?", "zhangsan"))
	if rec.State != record.Accepted || !rec.Parts[0].MayHaveLeft || rec.Failures != 1 {
		t.Fatalf("state %s mayHaveLeft %v failures %d", rec.State, rec.Parts[0].MayHaveLeft, rec.Failures)
	}
	if n := len(b.sim.Deliveries("zhangsan")); n != 1 {
		t.Errorf("zhangsan got %d messages, want 1: the resend must be absorbed by the duplicate check", n)
	}
	if n := len(b.sim.Suppressed()); n != 1 {
		t.Errorf("%d suppressed duplicates, want 1", n)
	}
}

func TestPermanentErrorArchivedWithReason(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.send("to nobody", "ghost1", "ghost2")
	rec := b.waitFinished(id)
	if rec.State != record.Failed || !strings.Contains(rec.Reason, "81013") {
		t.Fatalf("state %s reason %q, want failed with 81013", rec.State, rec.Reason)
	}
	if inv := rec.Invalid().Users; !slices.Equal(inv, []string{"ghost1", "ghost2"}) {
		t.Errorf("invalid users %v", inv)
	}
	st, err := b.producer.Status(b.ctx, id)
	if err != nil || st.State != record.Failed || !strings.Contains(st.Reason, "81013") {
		t.Errorf("Status = %+v, %v", st, err)
	}
	arch := b.waitArchived(1)
	if arch[0].ID != id || !strings.Contains(arch[0].LastErr, "81013") {
		t.Errorf("archived %s with %q", arch[0].ID, arch[0].LastErr)
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)); n != 1 {
		t.Errorf("%d send requests, want 1: a permanent error is not retried", n)
	}
}

// waitArchived waits until n tasks are archived (the archive write follows the
// record's terminal event).
func (b *testBundle) waitArchived(n int) []*asynq.TaskInfo {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if a := b.archived(); len(a) >= n || time.Now().After(deadline) {
			if len(a) < n {
				b.t.Fatalf("%d archived tasks, want %d", len(a), n)
			}
			return a
		}
		time.Sleep(20 * time.Millisecond) // asynq's archive has no notification to wait on
	}
}

func TestPoisonPayloadArchivedQueueGoesOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cl := asynq.NewClientFromRedisClient(b.rdb)
	if _, err := cl.Enqueue(asynq.NewTask(job.TypeSend, []byte("\x00not json")), asynq.TaskID("poison"), asynq.MaxRetry(job.MaxRetry)); err != nil {
		t.Fatal(err)
	}
	rec := b.waitFinished(b.send("after the poison", "zhangsan"))
	if rec.State != record.Accepted {
		t.Fatalf("message after the poison: %s", rec.State)
	}
	arch := b.waitArchived(1)
	if arch[0].ID != "poison" || !strings.Contains(arch[0].LastErr, "undecodable payload") {
		t.Errorf("archived %s with %q", arch[0].ID, arch[0].LastErr)
	}
}

// A payload with a field this worker does not know comes from a newer
// producer (a rolling upgrade that reached producers first): the task waits
// for the worker's upgrade, with the reason on the dashboard; it is neither
// archived nor sent without what the field says.
func TestNewerProducersPayloadWaits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := &job.Send{ID: job.NewID(testApp, time.Now()), Message: providers.Message{App: testApp, Kind: providers.KindText, Text: "from the future",
		To: providers.Recipients{Users: []string{"zhangsan"}}}, ExpiresAt: time.Now().Add(time.Hour), Queue: job.QueueDefault}
	payload, err := j.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	payload = append(payload[:len(payload)-1], []byte(`,"from_a_newer_producer":true}`)...)
	cl := asynq.NewClientFromRedisClient(b.rdb)
	if _, err := cl.Enqueue(asynq.NewTask(job.TypeSend, payload), asynq.TaskID("newer"), asynq.Queue(job.QueueDefault), asynq.MaxRetry(job.MaxRetry)); err != nil {
		t.Fatal(err)
	}
	// The task waits for its retry, its reason recorded by asynq; a message
	// sent after it still goes.
	rec := b.waitFinished(b.send("after it", "zhangsan"))
	if rec.State != record.Accepted {
		t.Fatalf("message after it: %s", rec.State)
	}
	var info *asynq.TaskInfo
	deadline := time.Now().Add(10 * time.Second)
	for info == nil || info.State != asynq.TaskStateRetry {
		if time.Now().After(deadline) {
			t.Fatalf("task state %s after 10 s, want retry", info.State)
		}
		if info, err = b.inspector.GetTaskInfo(job.QueueDefault, "newer"); err != nil {
			t.Fatal(err)
		}
		if info.State == asynq.TaskStateArchived {
			t.Fatalf("archived: %s", info.LastErr)
		}
		time.Sleep(20 * time.Millisecond) // asynq's retry has no notification to wait on
	}
	if !strings.Contains(info.LastErr, "newer producer") || !strings.Contains(info.LastErr, "upgrade this worker") {
		t.Errorf("waits with %q, want the reason: a newer producer's payload, upgrade the worker", info.LastErr)
	}
	if n := len(b.sim.Deliveries("zhangsan")); n != 1 {
		t.Errorf("zhangsan got %d messages, want 1 (not the newer producer's)", n)
	}
}

func TestInvalidUsersRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.waitFinished(b.send("some are gone", "zhangsan", "Departed", "lisi"))
	if rec.State != record.PartiallyAccepted {
		t.Fatalf("state %s, want partially_accepted", rec.State)
	}
	if inv := rec.Invalid().Users; !slices.Equal(inv, []string{"Departed"}) {
		t.Errorf("invalid users %v, want [Departed] (as the producer spelled it)", inv)
	}
	if len(b.sim.Deliveries("zhangsan")) != 1 || len(b.sim.Deliveries("lisi")) != 1 {
		t.Error("the valid users did not get the message")
	}
}

func TestManyRecipientsSplitIntoParts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	users := make([]string, 2500)
	for i := range users {
		users[i] = fmt.Sprintf("u%04d", i)
	}
	b.sim.AddUsers(testCorp, users...)
	rec := b.waitFinished(b.send("to everyone", users...))
	if rec.State != record.Accepted || len(rec.Parts) != 3 {
		t.Fatalf("state %s parts %d, want accepted in 3 parts", rec.State, len(rec.Parts))
	}
	for i, want := range []int{1000, 1000, 500} {
		if got := len(rec.Parts[i].To.Users); got != want {
			t.Errorf("part %d has %d users, want %d", i, got, want)
		}
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)); n != 3 {
		t.Errorf("%d send requests, want 3", n)
	}
	if n := b.sim.DeliveryCount(); n != 2500 {
		t.Errorf("%d deliveries, want 2500", n)
	}
}

func TestShutdownDuringSlowSendLetsItFinish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.sim.Inject(wecomsim.Latency(1500 * time.Millisecond).On(wecomsim.EndpointSend)); err != nil {
		t.Fatal(err)
	}
	id := b.send("slow", "zhangsan")
	select {
	case <-b.sends:
	case <-b.ctx.Done():
		t.Fatal("the send never started")
	}
	b.worker.Shutdown() // what SIGTERM does; returns when running tasks are done
	rec := b.get(id)
	if rec.State != record.Accepted {
		t.Fatalf("after shutdown: state %s (%s), want accepted", rec.State, rec.LastError)
	}
	if n := len(b.sim.Deliveries("zhangsan")); n != 1 {
		t.Errorf("zhangsan got %d messages, want 1", n)
	}
	for _, r := range b.sim.RequestsTo(wecomsim.EndpointSend) {
		if r.Cancelled {
			t.Error("the slow request was cancelled by the shutdown")
		}
	}
}

func TestBadSecretPausesAppArchivesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.secret = "wrong-secret" })
	first := b.send("one", "zhangsan")
	ev := b.waitEvent(first, func(e record.Event) bool { return e.Type == "waiting" })
	if !strings.Contains(ev.Detail, "app paused") || !strings.Contains(ev.Detail, "40001") {
		t.Errorf("waiting because %q, want the app paused on 40001", ev.Detail)
	}
	second := b.send("two", "lisi")
	ev = b.waitEvent(second, func(e record.Event) bool { return e.Type == "waiting" })
	if !strings.Contains(ev.Detail, "app paused") {
		t.Errorf("second message waits because %q", ev.Detail)
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointGetToken)); n != 1 {
		t.Errorf("gettoken called %d times, want 1: a wrong secret must not be retried", n)
	}
	if a := b.archived(); len(a) != 0 {
		t.Errorf("%d tasks archived, want none", len(a))
	}
	for _, id := range []string{first, second} {
		if rec := b.get(id); rec.State != record.Waiting || rec.Failures != 0 || rec.Wait == nil || rec.Wait.Until.Sub(rec.UpdatedAt) < 59*time.Minute {
			t.Errorf("%s: state %s failures %d wait %+v, want waiting ~1h without spending budget", id, rec.State, rec.Failures, rec.Wait)
		}
	}
}

func TestExpiredBeforeSend(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	id, err := b.producer.Send(b.ctx, providers.Message{App: testApp, To: providers.Recipients{Users: []string{"zhangsan"}}, Kind: providers.KindText, Text: "late"},
		producerExpiresIn(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// The worker starts after the message's expiry: it must end expired, unsent.
	time.Sleep(300 * time.Millisecond) // let the expiry pass: this is the condition under test, not a synchronisation
	b.worker = b.startWorker()
	rec := b.waitFinished(id)
	if rec.State != record.Expired || len(b.sim.RequestsTo(wecomsim.EndpointSend)) != 0 {
		t.Errorf("state %s, %d sends; want expired and nothing sent", rec.State, len(b.sim.RequestsTo(wecomsim.EndpointSend)))
	}
}
