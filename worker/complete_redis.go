package worker

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// The last write of a run that ends a message — the settle of its last
// accepted part — leaves in the round trip of asynq's completion of the task
// (its markAsComplete or done script), just before it: a message then costs
// one round trip fewer. Redis runs them in that order, so a task is never
// complete before its record says how it ended, as when the settle had its
// own round trip: a worker killed before that round trip leaves both
// undone, and the task runs again (G3).
//
// The handler hands the settle over (settles.add) and returns nil; asynq's
// Redis client (completeRedis) finds it by the task's key in the completion
// script's keys. A settle whose completion does not come (asynq skips it when
// the task's lease was lost, and the task runs again) is written on its own
// after settleWait by the settles' sweeper, and every settle still waiting
// when the worker shuts down is written then. A settle that failed — in the
// shared round trip or on its own (Redis unreachable, its script not loaded)
// — waits again: asynq retries a completion that failed, and the settle rides
// with it, or the sweeper writes it, until settleGiveUp after it was handed
// over. A settle applied whose reply was lost is written twice: the record
// ends the same, with its terminal event twice in the stream. Not on Redis
// Cluster, where the record and the task are in different slots.

// settleWait is how long a settle waits for its task's completion before
// the sweeper writes it on its own.
const settleWait = time.Second

// settleGiveUp is how long a settle that keeps failing is tried: after it
// the record stays sending (an error is logged), and a run of the task, if
// one comes, ends it as a crashed attempt.
const settleGiveUp = 10 * time.Minute

// pendingSettle is a settle handed over to the task's completion.
type pendingSettle struct {
	// queue adds the settle's commands to p.
	queue func(ctx context.Context, p redis.Pipeliner)
	// after reads their outcome once they have run; it reports false when
	// the settle failed and is to be written again.
	after func() bool
	key   string    // the task's key
	first time.Time // when it was handed over
	at    time.Time // when it last began to wait
}

// settles are the settles waiting for their task's completion, by the
// task's key (asynq:{<queue>}:t:<id>).
type settles struct {
	w    *Worker
	mu   sync.Mutex
	m    map[string]*pendingSettle
	n    atomic.Int64 // len(m), read without the lock
	stop chan struct{}
	done chan struct{}
}

func newSettles(w *Worker) *settles {
	return &settles{w: w, m: map[string]*pendingSettle{}}
}

// taskKey is asynq's key of the task ctx runs, "" outside a task.
func taskKey(ctx context.Context) string {
	id, ok := asynq.GetTaskID(ctx)
	q, ok2 := asynq.GetQueueName(ctx)
	if !ok || !ok2 {
		return ""
	}
	return "asynq:{" + q + "}:t:" + id
}

// add hands s over to the completion of the task ctx runs. It reports false
// (nothing handed over: the caller writes s itself) outside a task.
func (ss *settles) add(ctx context.Context, s *pendingSettle) bool {
	key := taskKey(ctx)
	if key == "" {
		return false
	}
	s.key, s.first, s.at = key, time.Now(), time.Now()
	if old := ss.put(s, true); old != nil { // an earlier run of the task whose completion never came
		ss.write(context.Background(), old)
	}
	return true
}

// put makes s wait under its key. A settle already waiting there is
// replaced and returned when replace, else s gives way to it: put returns s.
func (ss *settles) put(s *pendingSettle, replace bool) *pendingSettle {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	old := ss.m[s.key]
	if old != nil && !replace {
		return s
	}
	ss.m[s.key] = s
	if old == nil {
		ss.n.Add(1)
	}
	return old
}

// retry makes a settle that failed wait again, due at the sweeper's next
// tick, unless it has been tried for settleGiveUp or a later run of the task
// handed over its own settle meanwhile (which carries the message's newer
// state: this one is dropped).
func (ss *settles) retry(s *pendingSettle, err error) {
	if time.Since(s.first) > settleGiveUp {
		ss.w.log.Error("a message's outcome could not be recorded: its record stays sending", "task", s.key, "err", err)
		return
	}
	s.at = time.Now().Add(-settleWait)
	ss.put(s, false)
}

// take removes and returns the settle of the task whose key is among keys.
func (ss *settles) take(keys []string) *pendingSettle {
	if ss.n.Load() == 0 {
		return nil
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "asynq:{") || !strings.Contains(k, "}:t:") {
			continue
		}
		ss.mu.Lock()
		s := ss.m[k]
		if s != nil {
			delete(ss.m, k)
			ss.n.Add(-1)
		}
		ss.mu.Unlock()
		return s
	}
	return nil
}

// write writes s on its own (pipelined with other handlers' writes); a
// settle that failed waits again (retry).
func (ss *settles) write(ctx context.Context, s *pendingSettle) {
	perr := ss.w.pipelined(ctx, func(p redis.Pipeliner) error {
		s.queue(ctx, p)
		return nil
	})
	if !s.after() {
		ss.retry(s, perr)
	}
}

// runWith runs s, then the completion script cmd queues, in one round trip
// (pipelined with other handlers' writes), and returns the script's command.
// A settle that failed waits again (retry): for asynq's retry of a
// completion that failed with it, or for the sweeper.
func (ss *settles) runWith(ctx context.Context, s *pendingSettle, script func(p redis.Pipeliner) *redis.Cmd) *redis.Cmd {
	p := ss.w.rdb.Pipeline()
	s.queue(ctx, p)
	cmd := script(p)
	err := ss.w.batch.exec(ctx, p.Cmds()) // the outcomes are on the commands
	if !s.after() {
		ss.retry(s, err)
	}
	return cmd
}

// start runs the sweeper: every settleWait/2 it writes the settles that
// waited longer than settleWait.
func (ss *settles) start() {
	ss.stop, ss.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ss.done)
		t := time.NewTicker(settleWait / 2)
		defer t.Stop()
		for {
			select {
			case <-ss.stop:
				return
			case <-t.C:
				ss.sweep(time.Now().Add(-settleWait))
			}
		}
	}()
}

// shutdown stops the sweeper and writes every settle still waiting: call it
// once the asynq servers have stopped. One that fails then is lost with the
// process (an error is logged): its record stays sending, and a run of the
// task, if one comes, ends it as a crashed attempt.
func (ss *settles) shutdown() {
	if ss.stop != nil {
		close(ss.stop)
		<-ss.done
		ss.stop = nil
	}
	ss.sweep(time.Time{})
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k := range ss.m {
		ss.w.log.Error("a message's outcome could not be recorded before shutdown: its record stays sending", "task", k)
		delete(ss.m, k)
		ss.n.Add(-1)
	}
}

// sweep writes the settles waiting since before cutoff (all of them when
// cutoff is zero).
func (ss *settles) sweep(cutoff time.Time) {
	if ss.n.Load() == 0 {
		return
	}
	var due []*pendingSettle
	ss.mu.Lock()
	for k, s := range ss.m {
		if cutoff.IsZero() || s.at.Before(cutoff) {
			due = append(due, s)
			delete(ss.m, k)
			ss.n.Add(-1)
		}
	}
	ss.mu.Unlock()
	for _, s := range due {
		ss.write(context.Background(), s)
	}
}

// completeRedis is the Redis client as the worker's asynq servers see it:
// the completion script of a task with a settle handed over runs in one
// round trip after that settle. Every other command passes through
// unchanged.
type completeRedis struct {
	redis.UniversalClient
	settles *settles
}

// EvalSha runs asynq's script, after the settle of the task it names, if
// one waits.
func (c completeRedis) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	s := c.settles.take(keys)
	if s == nil {
		return c.UniversalClient.EvalSha(ctx, sha1, keys, args...)
	}
	return c.settles.runWith(ctx, s, func(p redis.Pipeliner) *redis.Cmd { return p.EvalSha(ctx, sha1, keys, args...) })
}
