package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
)

type testBundle struct {
	ctx       context.Context
	rdb       *redis.Client
	client    *Client
	inspector *asynq.Inspector
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	srv := redistest.Start(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s}
`, srv.Addr)), nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb := srv.Client()
	return &testBundle{ctx: context.Background(), rdb: rdb, client: New(cfg, rdb), inspector: asynq.NewInspectorFromRedisClient(rdb)}
}

func textTo(text string, users ...string) providers.Message {
	return providers.Message{App: "hr", To: providers.Recipients{Users: users}, Kind: providers.KindText, Text: text}
}

// tasks counts the send tasks in every state of the default queue.
func (b *testBundle) tasks(t *testing.T) int {
	t.Helper()
	info, err := b.inspector.GetQueueInfo(job.QueueDefault)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return info.Size
}

func TestSendValidationNamesTheFieldAndWritesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		msg   providers.Message
		opts  []SendOption
		field string
	}{
		{desc: "unknown app", msg: providers.Message{App: "nope", Kind: providers.KindText, Text: "x", To: providers.Recipients{Users: []string{"u"}}}, field: "app"},
		{desc: "no recipients", msg: textTo("x"), field: "to"},
		{desc: "text too long", msg: textTo(strings.Repeat("长", 700), "u"), field: "text"},
		{desc: "empty user id", msg: textTo("x", "u", ""), field: "to.users[1]"},
		{desc: "unknown queue", msg: textTo("x", "u"), opts: []SendOption{Queue("urgent-ish")}, field: "queue"},
		{desc: "expired already", msg: textTo("x", "u"), opts: []SendOption{ExpiresAt(time.Now().Add(-time.Minute))}, field: "expires_at"},
		{desc: "expires before not_before", msg: textTo("x", "u"), opts: []SendOption{NotBefore(time.Now().Add(2 * time.Hour)), ExpiresAt(time.Now().Add(time.Hour))}, field: "expires_at"},
		{desc: "key with a newline", msg: textTo("x", "u"), opts: []SendOption{IdempotencyKey("a\nb")}, field: "idempotency_key"},
		{desc: "blank key", msg: textTo("x", "u"), opts: []SendOption{IdempotencyKey("   ")}, field: "idempotency_key"},
		{desc: "a reply on a provider that cannot reply", msg: func() providers.Message {
			m := textTo("x")
			m.ReplyTo = &providers.ReplyTo{Chat: "c1", MessageID: "m1"}
			return m
		}(), field: "reply_to"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.client.Send(b.ctx, tc.msg, tc.opts...)
			var ve *providers.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("Send = %v, want a ValidationError on %q", err, tc.field)
			}
			if n := b.rdb.DBSize(b.ctx).Val(); n != 0 {
				t.Errorf("%d keys written for an invalid message, want 0", n)
			}
		})
	}
}

func TestSendIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id1, err := b.client.Send(b.ctx, textTo("hello", "u1"), IdempotencyKey("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	id2, err := b.client.Send(b.ctx, textTo("hello", "u1"), IdempotencyKey("order-1"))
	if err != nil || id2 != id1 {
		t.Fatalf("same key and body: %q, %v; want %q", id2, err, id1)
	}
	_, err = b.client.Send(b.ctx, textTo("hello, changed", "u1"), IdempotencyKey("order-1"))
	var conflict *record.ConflictError
	if !errors.As(err, &conflict) || conflict.Key != "order-1" || conflict.MessageID != id1 {
		t.Fatalf("different body: %v, want a conflict naming order-1 and %s", err, id1)
	}
	if n := b.tasks(t); n != 1 {
		t.Errorf("%d tasks enqueued, want 1", n)
	}
	// Without a key every Send is a new message.
	a, _ := b.client.Send(b.ctx, textTo("hello", "u1"))
	c, _ := b.client.Send(b.ctx, textTo("hello", "u1"))
	if a == c || b.tasks(t) != 3 {
		t.Errorf("unkeyed sends %q %q, %d tasks; want two new messages", a, c, b.tasks(t))
	}
}

// G6: a Send that fails between any two of its writes (the process crashes, Redis
// drops the connection) is completed by a retry with the same key, never doubled.
func TestSendRetrySafeAfterCrashBetweenWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		step string
		// processed simulates the worker finishing the message (and asynq
		// forgetting its task) before the retry comes.
		processed bool
	}{
		{desc: "after the record", step: "created"},
		{desc: "after the enqueue", step: "enqueued"},
		{desc: "after the enqueue, message already sent", step: "enqueued", processed: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			crash := errors.New("injected crash")
			b.client.afterWrite = func(step string) error {
				if step == tc.step {
					return crash
				}
				return nil
			}
			if _, err := b.client.Send(b.ctx, textTo("once", "u1"), IdempotencyKey("k")); !errors.Is(err, crash) {
				t.Fatalf("first Send = %v, want the injected crash", err)
			}
			if tc.processed {
				b.finishAndForget(t)
			}
			b.client.afterWrite = nil
			id, err := b.client.Send(b.ctx, textTo("once", "u1"), IdempotencyKey("k"))
			if err != nil {
				t.Fatal(err)
			}
			want := 1
			if tc.processed {
				want = 0
			}
			if n := b.tasks(t); n != want {
				t.Errorf("%d tasks after the retry, want %d", n, want)
			}
			st, err := b.client.Status(b.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.processed && (!st.Enqueued || st.State != record.Queued) {
				t.Errorf("record after retry: enqueued %v state %s", st.Enqueued, st.State)
			}
		})
	}
}

// finishAndForget marks the only message accepted and deletes its task, as if a
// worker had sent it and asynq's retention had passed.
func (b *testBundle) finishAndForget(t *testing.T) {
	t.Helper()
	tasks, err := b.inspector.ListPendingTasks(job.QueueDefault)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("pending tasks %d, %v", len(tasks), err)
	}
	store := record.NewStore(b.rdb)
	rec, err := store.Get(b.ctx, "hr", tasks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.State = record.Accepted
	if err := store.Save(b.ctx, rec, "", "", time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := b.inspector.DeleteTask(job.QueueDefault, tasks[0].ID); err != nil {
		t.Fatal(err)
	}
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.client.Status(b.ctx, "no-dot"); err == nil {
		t.Error("Status accepted an id without app")
	}
	if _, err := b.client.Status(b.ctx, "hr.doesnotexist"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("Status of a missing message = %v, want ErrNotFound", err)
	}
}

func TestUrgentGoesToCritical(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, err := b.client.Send(b.ctx, textTo("now", "u1"), Urgent())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.inspector.GetTaskInfo(job.QueueCritical, id); err != nil {
		t.Errorf("urgent task not on the critical queue: %v", err)
	}
}

// A message whose Send failed before the enqueue and was never retried shows
// as expired once past its expiry; one whose task is queued stays queued.
func TestStatusOfNeverEnqueuedMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		crashStep string // "" = no crash
		want      record.State
	}{
		{desc: "never enqueued", crashStep: "created", want: record.Expired},
		{desc: "enqueued", want: record.Queued},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			crash := errors.New("injected crash")
			b.client.afterWrite = func(step string) error {
				if step == tc.crashStep {
					return crash
				}
				return nil
			}
			exp := time.Now().Add(time.Hour)
			_, err := b.client.Send(b.ctx, textTo("once", "u1"), IdempotencyKey("k"), ExpiresAt(exp))
			if tc.crashStep != "" && !errors.Is(err, crash) || tc.crashStep == "" && err != nil {
				t.Fatalf("Send = %v", err)
			}
			keys, err := b.rdb.Keys(b.ctx, "msgd:{hr}:rec:*").Result()
			if err != nil || len(keys) != 1 {
				t.Fatalf("records %v, %v", keys, err)
			}
			id := strings.TrimPrefix(keys[0], "msgd:{hr}:rec:")
			b.client.now = func() time.Time { return exp.Add(time.Minute) }
			st, err := b.client.Status(b.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tc.want {
				t.Errorf("state = %s, want %s", st.State, tc.want)
			}
		})
	}
}

// The task's payload is the job's JSON the record holds: the bytes Create
// wrote, with or without an idempotency key.
func TestTaskPayloadIsTheRecordsJob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, opts := range [][]SendOption{nil, {IdempotencyKey("k1")}} {
		id, err := b.client.Send(b.ctx, textTo("payload", "u1"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		info, err := b.inspector.GetTaskInfo(job.QueueDefault, id)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := b.rdb.HGet(b.ctx, record.Key("hr", id), "job").Result()
		if err != nil {
			t.Fatal(err)
		}
		if string(info.Payload) != stored || len(stored) == 0 {
			t.Errorf("options %v: task payload %s, the record's job %s", opts, info.Payload, stored)
		}
	}
}
