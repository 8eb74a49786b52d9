package producer

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

// tripLog is a go-redis hook that logs each round trip as its commands' names.
type tripLog struct {
	mu    sync.Mutex
	trips [][]string
}

func (h *tripLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *tripLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}
func (h *tripLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.add(cmds)
		return next(ctx, cmds)
	}
}
func (h *tripLog) add(cmds []redis.Cmder) {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = strings.ToLower(c.Name())
	}
	if slices.Contains(names, "hello") { // a new connection's handshake
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.trips = append(h.trips, names)
}
func (h *tripLog) take() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.trips
	h.trips = nil
	return t
}

// A Send without an idempotency key writes its record and enqueues its task
// in one round trip, the record first.
func TestSendOneRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	log := &tripLog{}
	b.rdb.AddHook(log)
	if _, err := b.client.Send(b.ctx, textTo("warm-up", "u1")); err != nil { // asynq registers the queue once
		t.Fatal(err)
	}
	log.take()
	id, err := b.client.Send(b.ctx, textTo("hello", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	trips := log.take()
	if len(trips) != 1 || !slices.Equal(trips[0], []string{"multi", "hset", "pexpire", "exec", "evalsha"}) {
		t.Errorf("Send took round trips %v, want one: [multi hset pexpire exec (the record) evalsha (asynq's enqueue)]", trips)
	}
	st, err := b.client.Status(b.ctx, id)
	if err != nil || st.State != record.Queued || st.Job == nil || st.Job.Message.Text != "hello" {
		t.Fatalf("Status = %+v, %v; want the queued record", st, err)
	}
	if _, err := b.inspector.GetTaskInfo(job.QueueDefault, id); err != nil {
		t.Errorf("task %s: %v", id, err)
	}
}

// A record write Redis refuses fails the Send, naming the record, even
// though asynq's enqueue in the same round trip went through (the worker
// skips a task without a record: the message is not sent).
func TestSendRecordWriteRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	if !srv.Real() {
		t.Skip("needs redis-server's ACLs")
	}
	b := setup(t)
	admin := srv.Client()
	// A user that may touch asynq's keys and not the records.
	if err := admin.Do(b.ctx, "ACL", "SETUSER", "noRecords", "on", ">pw", "~asynq:*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	limited := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "noRecords", Password: "pw"})
	t.Cleanup(func() { limited.Close() })
	c := New(b.client.cfg, limited)
	_, err := c.Send(b.ctx, textTo("hello", "u1"))
	if err == nil || !strings.Contains(err.Error(), "record: create") {
		t.Fatalf("Send = %v, want the refused record write", err)
	}
	if !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("Send = %v, want Redis's NOPERM in it", err)
	}
	ins := asynq.NewInspectorFromRedisClient(admin)
	tasks, err := ins.ListPendingTasks(job.QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 {
		t.Fatalf("%d pending tasks, want the one enqueued in the same round trip", len(tasks))
	}
	if n, err := admin.Exists(b.ctx, record.Key("hr", tasks[0].ID)).Result(); err != nil || n != 0 {
		t.Errorf("record of %s exists (%d, %v), want none", tasks[0].ID, n, err)
	}
}
