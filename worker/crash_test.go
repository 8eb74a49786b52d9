package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redisconn"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// childEnv, when set to a config path, turns the test binary into a worker
// process that a test can SIGKILL.
const childEnv = "MSGDISPATCH_TEST_CHILD_WORKER"

// childDeferralsEnv, when set, is how many runs the child's gate defers before
// letting a send go.
const childDeferralsEnv = "MSGDISPATCH_TEST_CHILD_DEFERRALS"

// childDeferrals is what the crash test asks of its child.
const childDeferrals = 20

// startChild starts a worker process on the bundle's config; t's cleanup kills it.
func (b *testBundle) startChild(deferrals int) *exec.Cmd {
	b.t.Helper()
	return b.startChildConfig(b.cfgYAML, deferrals)
}

// startChildConfig starts a worker process on the config cfgYAML; t's
// cleanup kills it.
func (b *testBundle) startChildConfig(cfgYAML string, deferrals int) *exec.Cmd {
	b.t.Helper()
	path := filepath.Join(b.t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfgYAML), 0o600); err != nil {
		b.t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+path, fmt.Sprintf("%s=%d", childDeferralsEnv, deferrals))
	child.Stderr = testWriter{b.t}
	if err := child.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	return child
}

func runChildWorker() {
	cfg, err := config.Load(os.Getenv(childEnv))
	if err != nil {
		panic(err)
	}
	rdb, err := redisconn.NewClient(cfg.Redis)
	if err != nil {
		panic(err)
	}
	defer rdb.Close()
	deferrals, _ := strconv.Atoi(os.Getenv(childDeferralsEnv))
	gate := worker.GateFunc(func(_ context.Context, a *worker.Attempt) error {
		if a.Record.Deferrals < deferrals {
			return worker.Defer(0, "test gate: not yet")
		}
		return nil
	})
	w, err := worker.New(worker.Options{Config: cfg, Redis: rdb, Gates: []worker.Gate{gate},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		panic(err)
	}
	if err := w.Start(); err != nil {
		panic(err)
	}
	select {} // until killed
}

// A task deferred 20 times, whose worker is then SIGKILLed mid-request, and whose
// re-run then fails once with a 5xx, is retried and accepted, never archived: the
// deferrals spent nothing, the crash and the 5xx one unit of budget each, and the
// message reached the user once.
func TestDeferredCrashedThenFailedIsRetriedNotArchived(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq's crash recovery (60-120 s)")
	}
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true; o.budget = 3 })
	// The child's request hangs at the simulator until the child is killed.
	if err := b.sim.Inject(wecomsim.Latency(3 * time.Minute).On(wecomsim.EndpointSend)); err != nil {
		t.Fatal(err)
	}
	child := b.startChild(childDeferrals)
	id := b.send("crash during me", "zhangsan")
	if err := b.sim.WaitFor(b.ctx, func() bool { cur, _ := b.sim.Concurrency(testCorp, wecomsim.EndpointSend); return cur > 0 }); err != nil {
		t.Fatal("the child never sent:", err)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	rec := b.get(id)
	if rec.Deferrals != childDeferrals || rec.Failures != 0 || rec.Parts[0].State != record.PartSending {
		t.Fatalf("before recovery: deferrals %d failures %d part %s; want %d, 0, sending", rec.Deferrals, rec.Failures, rec.Parts[0].State, childDeferrals)
	}
	if err := b.sim.Inject(wecomsim.HTTPStatus(502, 0).On(wecomsim.EndpointSend)); err != nil {
		t.Fatal(err)
	}
	b.worker = b.startWorker() // its recoverer finds the dead lease (60-120 s)
	rec = b.waitFinished(id)
	if rec.State != record.Accepted || rec.Failures != 2 {
		t.Fatalf("after recovery: state %s failures %d (%s); want accepted after 2 failures (crash, 502)", rec.State, rec.Failures, rec.LastError)
	}
	if a := b.archived(); len(a) != 0 {
		t.Errorf("%d tasks archived, want none", len(a))
	}
	if n := len(b.sim.Deliveries("zhangsan")); n != 1 {
		t.Errorf("zhangsan got %d messages, want 1", n)
	}
	info, err := b.inspector.GetTaskInfo(job.QueueDefault, id)
	if err == nil {
		t.Logf("asynq counted %d retries (state %s)", info.Retried, info.State)
	}
}

// A re-run that finds its own attempt unfinished spends budget; once the budget is
// spent the message stops as unknown (the request may have been applied) instead
// of killing the worker again and again (G3).
func TestCrashRerunsStopAfterBudget(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true; o.budget = 3 })
	id := b.send("poison for the worker", "zhangsan")
	// Make the record look as if two runs already crashed mid-request.
	rec := b.get(id)
	rec.Failures = 2
	rec.Parts = []record.Part{{State: record.PartSending, Attempts: 2, FirstSentAt: time.Now()}}
	rec.Parts[0].Index, rec.Parts[0].To.Users, rec.Parts[0].Body = 0, []string{"zhangsan"}, json.RawMessage(`{}`)
	if err := b.records.Save(b.ctx, rec, "", "", time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	b.worker = b.startWorker()
	rec = b.waitFinished(id)
	if rec.State != record.Unknown || rec.Failures != 3 || rec.Parts[0].State != record.PartUnknown {
		t.Fatalf("state %s failures %d part %s; want unknown after spending the budget of 3", rec.State, rec.Failures, rec.Parts[0].State)
	}
	if n := len(b.sim.RequestsTo(wecomsim.EndpointSend)); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
	if _, err := b.inspector.GetTaskInfo(job.QueueDefault, id); err != nil && err != asynq.ErrTaskNotFound {
		t.Log(err)
	}
}
