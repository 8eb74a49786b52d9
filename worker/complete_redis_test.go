package worker

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

type settlesBundle struct {
	ctx context.Context
	rdb *redis.Client
	ss  *settles
}

func setupSettles(t *testing.T) *settlesBundle {
	t.Helper()
	rdb := redistest.Start(t).Client()
	w := &Worker{rdb: rdb, batch: &batcher{rdb: rdb}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return &settlesBundle{ctx: context.Background(), rdb: rdb, ss: newSettles(w)}
}

// hand puts a settle that increments counter under the task key of task id
// of queue q, handed over at at; fails is how many of its runs fail (each
// still increments).
func (b *settlesBundle) hand(id, counter string, at time.Time, fails int) *pendingSettle {
	var cmd *redis.IntCmd
	s := &pendingSettle{
		queue: func(ctx context.Context, p redis.Pipeliner) { cmd = p.Incr(ctx, counter) },
		after: func() bool {
			if fails > 0 {
				fails--
				return false
			}
			return cmd.Err() == nil
		},
		key:   "asynq:{q}:t:" + id,
		first: at,
		at:    at,
	}
	b.ss.put(s, true)
	return s
}

func (b *settlesBundle) counter(t *testing.T, key string) int {
	t.Helper()
	n, err := b.rdb.Get(b.ctx, key).Int()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	return n
}

// A settle handed over runs in the round trip of the completion script that
// names its task, before it; other scripts pass through.
func TestSettleRidesWithCompletion(t *testing.T) {
	t.Parallel()
	b := setupSettles(t)
	b.hand("t1", "settled", time.Now(), 0)
	c := completeRedis{UniversalClient: b.rdb, settles: b.ss}
	// The "completion": reads what the settle wrote, so it must run after it.
	script := redis.NewScript(`return redis.call('GET', KEYS[1]) or 'none'`)
	if err := script.Load(b.ctx, b.rdb).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		keys []string
		want string
	}{
		{desc: "another task's script: nothing taken", keys: []string{"settled", "asynq:{q}:t:t2"}, want: "none"},
		{desc: "a script without a task key: nothing taken", keys: []string{"settled", "asynq:{q}:active"}, want: "none"},
		{desc: "its task's completion: settled first", keys: []string{"settled", "asynq:{q}:active", "asynq:{q}:t:t1"}, want: "1"},
		{desc: "taken once", keys: []string{"settled", "asynq:{q}:t:t1"}, want: "1"},
	}
	for _, tc := range tests { // in order: each step sees the last
		got, err := script.Run(b.ctx, c, tc.keys).Text()
		if err != nil {
			t.Fatalf("%s: %v", tc.desc, err)
		}
		if got != tc.want {
			t.Errorf("%s: the script read %q, want %q", tc.desc, got, tc.want)
		}
	}
	if n := b.ss.n.Load(); n != 0 {
		t.Errorf("%d settles left waiting, want 0", n)
	}
	// A settle that failed in the shared round trip waits again: for
	// asynq's retry of the completion, or for the sweeper.
	b.hand("t3", "again", time.Now(), 2)
	for range 2 { // the completion, then asynq's retry of it
		if err := script.Run(b.ctx, c, []string{"again", "asynq:{q}:t:t3"}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, waiting := b.counter(t, "again"), b.ss.n.Load(); n != 2 || waiting != 1 {
		t.Errorf("a settle that failed twice ran %d times and %d waits, want 2 and 1", n, waiting)
	}
	b.ss.sweep(time.Now().Add(-settleWait / 2)) // due at once
	if n, waiting := b.counter(t, "again"), b.ss.n.Load(); n != 3 || waiting != 0 {
		t.Errorf("after the sweep it ran %d times and %d waits, want 3 and 0", n, waiting)
	}
}

// A settle whose completion never comes is written by the sweeper once it
// waited settleWait, one failing is tried until settleGiveUp, and every one
// left is written at shutdown.
func TestSettleWithoutCompletion(t *testing.T) {
	t.Parallel()
	b := setupSettles(t)
	now := time.Now()
	b.hand("old", "old", now.Add(-2*settleWait), 0)
	b.hand("new", "new", now, 0)
	b.ss.sweep(now.Add(-settleWait))
	if got := [2]int{b.counter(t, "old"), b.counter(t, "new")}; got != [2]int{1, 0} {
		t.Errorf("after the sweep: old settled %d times, new %d; want 1 and 0", got[0], got[1])
	}
	// One that keeps failing is tried until settleGiveUp after its hand-over.
	b.hand("hopeless", "hopeless", now.Add(-settleGiveUp-time.Second), 1)
	b.ss.sweep(now)
	if got, waiting := b.counter(t, "hopeless"), b.ss.n.Load(); got != 1 || waiting != 1 {
		t.Errorf("a settle failing past settleGiveUp ran %d times and %d wait, want 1 and 1 (new)", got, waiting)
	}
	// A failed settle gives way to a later run's settle of the same task.
	later := b.hand("rerun", "later", now, 0)
	b.ss.retry(&pendingSettle{key: later.key, first: now}, nil)
	if s := b.ss.take([]string{later.key}); s != later {
		t.Errorf("after an earlier run's retry, the task's settle is %p, want the later run's %p", s, later)
	}
	b.ss.start()
	b.ss.shutdown()
	if got := [2]int{b.counter(t, "old"), b.counter(t, "new")}; got != [2]int{1, 1} {
		t.Errorf("after shutdown: old settled %d times, new %d; want 1 and 1", got[0], got[1])
	}
	if n := b.ss.n.Load(); n != 0 {
		t.Errorf("%d settles left waiting, want 0", n)
	}
}
