package worker_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/kv"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// cardTitle is the main title of the card taskID that user sees now.
func (b *testBundle) cardTitle(user, taskID string) (string, bool) {
	b.t.Helper()
	c, ok := b.sim.CardOf(user, taskID)
	if !ok {
		return "", false
	}
	var v struct {
		MainTitle struct {
			Title string `json:"title"`
		} `json:"main_title"`
	}
	if err := json.Unmarshal(c.Body, &v); err != nil {
		b.t.Fatal(err)
	}
	return v.MainTitle.Title, true
}

// waitUpdateState waits for an update event of message id saying "update seq
// <one of states>".
func (b *testBundle) waitUpdateState(id string, seq int64, states ...record.UpdateState) record.Event {
	b.t.Helper()
	return b.waitEvent(id, func(e record.Event) bool {
		for _, s := range states {
			if e.Type == "update" && e.Detail == fmt.Sprintf("update %d %s", seq, s) {
				return true
			}
		}
		return false
	})
}

// waitEvents waits until n events of message id satisfy ok.
func (b *testBundle) waitEvents(id string, n int, ok func(record.Event) bool) {
	b.t.Helper()
	seen := 0
	b.waitEvent(id, func(e record.Event) bool {
		if ok(e) {
			seen++
		}
		return seen >= n
	})
}

// taskState is the state of asynq task tid in any queue, or "" when there is none.
func (b *testBundle) taskState(tid string) asynq.TaskState {
	b.t.Helper()
	for q := range b.cfg.Worker.Queues {
		info, err := b.inspector.GetTaskInfo(q, tid)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			b.t.Fatal(err)
		}
		return info.State
	}
	return 0
}

// taskStateAfterRun returns tid's state once asynq no longer runs it: a
// handler that wrote its last state is still active until it returns, and
// asynq has no event for that, so its state is polled (10 s at most).
func (b *testBundle) taskStateAfterRun(tid string) asynq.TaskState {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s := b.taskState(tid)
		if s != asynq.TaskStateActive || time.Now().After(deadline) {
			return s
		}
		<-tick.C
	}
}

func stateName(s asynq.TaskState) string {
	if s == 0 {
		return "absent"
	}
	return s.String()
}

// A card to 1005 users goes in two parts, and the quota books three of them,
// who got a message just before, into a follow-up generation. An update
// arriving between the first generation and the follow-up reaches everyone:
// the parts already sent through their response codes, the follow-up by
// rendering the newest content. A second update after all was sent reaches
// those whose part still has an unused code; every other recipient is listed
// update_unreachable with the reason — nobody is left out.
func TestUpdateAcrossPartsAndFollowUps(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) {
		o.appYAML = "    limits: {per_recipient: [{count: 1, window: 2s}], margin: 100ms}"
		o.simOptions.PerMemberLimits = []wecomsim.Limit{{Count: 1, Window: 2 * time.Second}}
	})
	users := make([]string, 1005)
	for i := range users {
		users[i] = fmt.Sprintf("u%04d", i)
	}
	b.sim.AddUsers(testCorp, users...)
	booked := []string{users[0], users[500], users[1004]}
	if rec := b.waitFinished(b.send("first", booked...)); rec.State != record.Accepted {
		t.Fatalf("pre-charge: %s (%s)", rec.State, rec.Reason)
	}

	id := b.sendCard("v0", users...)
	b.waitEvent(id, func(e record.Event) bool { return e.Type == "waiting" && strings.Contains(e.Detail, "booked") })
	if rec := b.get(id); len(rec.Booked) != len(booked) || len(rec.Parts) != 2 {
		t.Fatalf("before the follow-up: %d parts, booked %+v; want 2 parts and %v booked", len(rec.Parts), rec.Booked, booked)
	}
	b.update(id, "v1")
	rec := b.waitFinished(id)
	if rec.State != record.Accepted || rec.Generations != 2 || len(rec.Parts) != 3 {
		t.Fatalf("state %s, %d generations, %d parts; want accepted, 2 generations, 3 parts", rec.State, rec.Generations, len(rec.Parts))
	}
	b.waitUpdateState(id, 1, record.UpdateApplied)

	// where maps each user to the task_id of the part that reached them.
	where := map[string]string{}
	for _, p := range rec.Parts {
		if p.State != record.PartAccepted {
			t.Fatalf("part %d (generation %d) is %s", p.Index, p.Generation, p.State)
		}
		for _, u := range p.To.Users {
			where[u] = wecom.CardTaskID(p.Body)
		}
	}
	if len(where) != len(users) {
		t.Fatalf("%d users in the parts, want %d", len(where), len(users))
	}
	check := func(newest string, wantUpdated int) {
		t.Helper()
		st := b.status(id)
		updated, unreachable := 0, 0
		for _, u := range users {
			got, ok := b.cardTitle(u, where[u])
			if !ok {
				t.Errorf("%s has no card", u)
				continue
			}
			r, listed := st.Updates.Recipients[u]
			switch {
			case got == newest:
				updated++
			case listed && r.State == record.RecipientUnreachable && r.Reason != "":
				unreachable++
			default:
				t.Errorf("%s sees %q and is %+v (listed %v): neither the newest content %q nor update_unreachable with a reason", u, got, r, listed, newest)
			}
		}
		if updated != wantUpdated || updated+unreachable != len(users) {
			t.Errorf("%s: %d see it, %d update_unreachable; want %d and %d", newest, updated, unreachable, wantUpdated, len(users)-wantUpdated)
		}
	}
	check("v1", len(users))

	// Every send code of the first generation is used now; the follow-up's is not.
	b.update(id, "v2")
	b.waitUpdateState(id, 2, record.UpdateApplied, record.UpdateUnreachable)
	check("v2", len(booked))
	st := b.status(id)
	if got := historyState(st, 2); got != record.UpdateApplied {
		t.Errorf("update 2 is %q, want applied (some recipients updated)", got)
	}
	if r := st.Updates.Recipients[users[1]]; !strings.Contains(r.Reason, "response_code") {
		t.Errorf("%s: reason %q does not name the response_code rule", users[1], r.Reason)
	}
	if d := b.sim.Drops(); len(d) != 0 {
		t.Errorf("WeCom dropped %d messages", len(d))
	}
}

// Three updates of a sent card whose tasks run newest first: the first task
// applies the third content with one request, the later ones find nothing
// left to do; users see the third, updates 1 and 2 are superseded.
func TestUpdatesExecutedInReverseOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.sendCard("v0", "zhangsan", "lisi")
	if rec := b.waitFinished(id); rec.State != record.Accepted {
		t.Fatal(rec.State)
	}
	b.worker.Shutdown()
	for i := int64(1); i <= 3; i++ {
		if seq := b.update(id, fmt.Sprintf("v%d", i)); seq != i {
			t.Fatalf("seq %d, want %d", seq, i)
		}
	}
	// The producer coalesced them into one task: replace it by one task per
	// sequence number, scheduled newest first a second apart (asynq
	// schedules to the second).
	if err := b.inspector.DeleteTask(job.QueueDefault, job.UpdateTaskID(id)); err != nil {
		t.Fatalf("the coalesced update task: %v", err)
	}
	client := asynq.NewClientFromRedisClient(b.rdb)
	payload, _ := (&job.Ref{ID: id, App: testApp}).Marshal()
	base := time.Now().Truncate(time.Second).Add(2 * time.Second)
	for i, seq := range []int64{3, 2, 1} {
		tid := fmt.Sprintf("%s/%d", job.UpdateTaskID(id), seq)
		if _, err := client.EnqueueContext(b.ctx, asynq.NewTask(job.TypeUpdate, payload), asynq.TaskID(tid),
			asynq.Queue(job.QueueDefault), asynq.MaxRetry(job.MaxRetry), asynq.ProcessAt(base.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	b.worker = b.startWorker()
	// Each of the three tasks ends with the event of the newest update.
	b.waitEvents(id, 3, func(e record.Event) bool { return e.Type == "update" && strings.HasPrefix(e.Detail, "update 3 ") })
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
	for _, u := range []string{"zhangsan", "lisi"} {
		if r := st.Updates.Recipients[u]; r.Seq != 3 || r.State != record.RecipientUpdated {
			t.Errorf("%s: %+v, want updated to 3", u, r)
		}
	}
	for seq := 1; seq <= 3; seq++ {
		// the event is written before the handler returns: asynq may not have
		// marked the last task done yet
		if s := b.taskStateAfterRun(fmt.Sprintf("%s/%d", job.UpdateTaskID(id), seq)); s != 0 && s != asynq.TaskStateCompleted {
			t.Errorf("update task %d is %s", seq, stateName(s))
		}
	}
	if a := b.archived(); len(a) != 0 {
		t.Errorf("%d tasks archived, want none", len(a))
	}
}

// A message whose recipient zhangsan the quota booked into a follow-up,
// cancelled before the follow-up runs: nothing more leaves, the follow-up
// task is gone, zhangsan's booked charge is released, the message ends
// cancelled. Also when only the tombstone is there and the follow-up itself
// finds it.
func TestCancelReleasesBookedFollowUps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc string
		// cancelTask: Cancel (the cancel task removes the follow-up); else only
		// the tombstone is written and the follow-up must find it.
		cancelTask bool
	}{
		{desc: "cancel task removes the follow-up", cancelTask: true},
		{desc: "follow-up finds the tombstone"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			window := 2 * time.Second
			if tc.cancelTask {
				window = 30 * time.Second // the cancel comes long before the slot
			}
			b := setup(t, func(o *setupOpts) {
				o.appYAML = fmt.Sprintf("    limits: {per_recipient: [{count: 1, window: %s}], margin: 100ms}", window)
				o.simOptions.PerMemberLimits = []wecomsim.Limit{{Count: 1, Window: window}}
			})
			lim, err := ratelimit.New(b.rdb, ratelimit.Options{Default: &ratelimit.Policy{}})
			if err != nil {
				t.Fatal(err)
			}
			arrivals := func() int {
				t.Helper()
				a, err := lim.Arrivals(b.ctx, testApp, testCorp, "zhangsan")
				if err != nil {
					t.Fatal(err)
				}
				return len(a)
			}
			if rec := b.waitFinished(b.send("first", "zhangsan")); rec.State != record.Accepted {
				t.Fatal(rec.State)
			}
			id := b.sendCard("v0", "zhangsan", "lisi")
			b.waitEvent(id, func(e record.Event) bool { return e.Type == "waiting" && strings.Contains(e.Detail, "booked") })
			followUp := id + "/1" // generation 0 is the send task itself
			if s := b.taskState(followUp); s != asynq.TaskStateScheduled && s != asynq.TaskStatePending {
				t.Fatalf("follow-up task %s is %s, want scheduled", followUp, stateName(s))
			}
			ledger, err := lim.Ledger(b.ctx, testApp, id)
			if err != nil {
				t.Fatal(err)
			}
			if e := ledger["zhangsan"]; e.State != ratelimit.StateBooked {
				t.Fatalf("zhangsan's ledger entry is %s, want booked", e.State)
			}
			if n := arrivals(); n != 2 {
				t.Fatalf("zhangsan has %d charged slots, want 2 (the first message and the booking)", n)
			}
			sends := len(b.sim.RequestsTo(wecomsim.EndpointSend))

			if tc.cancelTask {
				o, err := b.producer.Cancel(b.ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if o.State != record.Cancelled || o.Unsent != 1 {
					t.Errorf("outcome state %s, %d charges released; want cancelled, 1", o.State, o.Unsent)
				}
				found := false
				for _, r := range o.Removed {
					found = found || r == followUp
				}
				if !found {
					t.Errorf("removed %v, want the follow-up %s among them", o.Removed, followUp)
				}
				if len(o.Parts) != 1 || o.Parts[0].Outcome != record.OutcomeRecalled {
					t.Errorf("parts %+v, want the part sent to lisi recalled", o.Parts)
				}
				if s := b.taskState(followUp); s != 0 {
					t.Errorf("follow-up task is %s, want gone", stateName(s))
				}
			} else {
				if _, _, err := b.records.PutTombstone(b.ctx, testApp, id, record.Tombstone{Reason: "test", At: time.Now()}, time.Hour); err != nil {
					t.Fatal(err)
				}
				b.waitFinished(id) // the follow-up runs at its slot and finds the tombstone
				// The record ends inside the follow-up's run; asynq marks the
				// task done once the handler has returned.
				if s := b.taskStateAfterRun(followUp); s != 0 && s != asynq.TaskStateCompleted {
					t.Errorf("follow-up task is %s, want done", stateName(s))
				}
			}
			rec := b.get(id)
			if rec.State != record.Cancelled || len(rec.Booked) != 0 {
				t.Errorf("record %s (%s), booked %+v; want cancelled, nothing booked", rec.State, rec.Reason, rec.Booked)
			}
			if st := b.status(id); st.State != record.Cancelled {
				t.Errorf("status says %s", st.State)
			}
			if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)); n != sends {
				t.Errorf("%d more sends after the cancel", n-sends)
			}
			if d := b.sim.Deliveries("zhangsan"); len(d) != 1 {
				t.Errorf("zhangsan got %d messages, want only the first", len(d))
			}
			ledger, err = lim.Ledger(b.ctx, testApp, id)
			if err != nil {
				t.Fatal(err)
			}
			if e, ok := ledger["zhangsan"]; ok && (e.State == ratelimit.StateBooked || e.State == ratelimit.StateAdmitted) {
				t.Errorf("zhangsan's ledger entry is still %s", e.State)
			}
			if n := arrivals(); n != 1 {
				t.Errorf("zhangsan has %d charged slots after the cancel, want 1 (the booking released)", n)
			}
		})
	}
}

// A worker SIGKILLed while its update request, with the part's send-response
// code marked consumed, is held at WeCom: the request never reaches WeCom,
// and the worker that recovers the task does not present that code again —
// zhangsan is update_unreachable, lisi is updated with the code of a click.
func TestUpdateKilledAfterCodeConsumed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's crash recovery (60-120 s)")
	}
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	child := b.startChild(0)
	id := b.sendCard("v0", "zhangsan", "lisi")
	rec := b.waitFinished(id)
	if rec.State != record.Accepted || rec.Parts[0].Result == nil || wecom.ResponseCodeOf(rec.Parts[0].Result) == "" {
		t.Fatalf("state %s, part %+v: want accepted with a response_code", rec.State, rec.Parts[0])
	}
	code := wecom.ResponseCodeOf(rec.Parts[0].Result)

	if err := b.sim.Inject(wecomsim.Latency(3 * time.Minute).On(wecomsim.EndpointUpdate)); err != nil {
		t.Fatal(err)
	}
	b.update(id, "v1")
	if err := b.sim.WaitFor(b.ctx, func() bool { cur, _ := b.sim.Concurrency(testCorp, wecomsim.EndpointUpdate); return cur > 0 }); err != nil {
		t.Fatal("the child never sent the update:", err)
	}
	if _, err := kv.New(b.rdb, testApp).Get(b.ctx, wecom.UsedCodeKey(id, 0, 0)); err != nil {
		t.Fatalf("consumed mark: %v, want the part's code marked before the call", err)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	if err := b.sim.WaitFor(b.ctx, func() bool { return len(b.sim.RequestsTo(wecomsim.EndpointUpdate)) > 0 }); err != nil {
		t.Fatal(err)
	}
	if r := b.sim.RequestsTo(wecomsim.EndpointUpdate); !r[0].Cancelled {
		t.Fatalf("the killed worker's request: %+v, want cancelled (never applied)", r[0])
	}

	// lisi clicked meanwhile: his click's code is another way to reach him.
	taskID := b.taskID(id)
	click := b.sim.IssueClickCode(testCorp, testAgent, taskID, "lisi")
	if err := kv.New(b.rdb, testApp).Set(b.ctx, wecom.ClickCodeKey("", taskID, "lisi"), []byte(click), time.Hour); err != nil {
		t.Fatal(err)
	}
	b.worker = b.startWorker() // its recoverer finds the dead lease (60-120 s)
	b.waitUpdateState(id, 1, record.UpdateApplied, record.UpdateUnreachable)

	if n := b.sim.CodeUses(code); n > 1 {
		t.Errorf("the send's response_code was presented %d times", n)
	}
	if n := b.sim.CodeUses(click); n != 1 {
		t.Errorf("lisi's click code was presented %d times, want 1", n)
	}
	if got := b.titleOf(id, "zhangsan"); got != "v0" {
		t.Errorf("zhangsan sees %q, want v0 (the killed request was not applied)", got)
	}
	if got := b.titleOf(id, "lisi"); got != "v1" {
		t.Errorf("lisi sees %q, want v1 (through his click's code)", got)
	}
	st := b.status(id)
	if r := st.Updates.Recipients["zhangsan"]; r.State != record.RecipientUnreachable || !strings.Contains(r.Reason, "response_code") {
		t.Errorf("zhangsan: %+v, want update_unreachable naming the response_code", r)
	}
	if r := st.Updates.Recipients["lisi"]; r.State != record.RecipientUpdated || r.Seq != 1 {
		t.Errorf("lisi: %+v, want updated to 1", r)
	}
	if a := b.archived(); len(a) != 0 {
		t.Errorf("%d tasks archived, want none", len(a))
	}
}
