package worker

import (
	"context"
	"runtime"
	"sync"

	"github.com/redis/go-redis/v9"
)

// maxBatch is the most send-path pipelines one round trip carries.
const maxBatch = 64

// batcher is the group commit of the send path: the pipelines of handlers
// that reach Redis at the same time leave in one round trip. The first caller
// while none is in flight runs its own at once (no wait is ever added); the
// ones that arrive while a round trip is in flight wait for it and leave
// together in the next. Each caller's commands keep their order and are read
// as from its own pipeline; Redis runs each command (script) on its own, so
// merging pipelines changes no outcome. Under load this saves the client's and
// Redis's per-round-trip cost (two system calls each, a wake-up) for all but
// one of the batch; alone, a pipeline costs what it did.
//
// It has no goroutine of its own: the caller that finds none in flight
// flushes; when more arrived meanwhile, a goroutine flushes those and exits
// once none are left.
type batcher struct {
	rdb redis.UniversalClient

	mu       sync.Mutex
	pending  []*batchReq
	flushing bool
}

type batchReq struct {
	cmds []redis.Cmder
	done chan struct{}
}

// exec runs cmds as one pipeline, perhaps with other callers' in the same
// round trip, and returns the first of their errors (as Pipelined does). The
// round trip is not cancelled with ctx: a caller has queued writes whose
// outcome it must learn.
func (b *batcher) exec(ctx context.Context, cmds []redis.Cmder) error {
	if len(cmds) == 0 {
		return nil
	}
	r := &batchReq{cmds: cmds, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	if b.flushing {
		b.mu.Unlock()
		<-r.done
		return firstErr(cmds)
	}
	b.flushing = true
	batch := b.take()
	b.mu.Unlock()
	b.flush(context.WithoutCancel(ctx), batch)
	if b.more() {
		go b.drain(context.WithoutCancel(ctx))
	}
	return firstErr(cmds)
}

// take removes up to maxBatch pending requests. b.mu is held.
func (b *batcher) take() []*batchReq {
	n := min(len(b.pending), maxBatch)
	batch := b.pending[:n:n]
	b.pending = b.pending[n:]
	if len(b.pending) == 0 {
		b.pending = nil
	}
	return batch
}

// more reports whether requests wait; when none do, the flush is over.
func (b *batcher) more() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		b.flushing = false
		return false
	}
	return true
}

// drain flushes what arrived during the previous round trip until nothing
// waits.
func (b *batcher) drain(ctx context.Context) {
	for {
		runtime.Gosched()
		b.mu.Lock()
		batch := b.take()
		b.mu.Unlock()
		b.flush(ctx, batch)
		if !b.more() {
			return
		}
	}
}

// flush runs batch's commands in one pipeline and wakes their callers. Each
// command carries its own outcome (a failed connection sets its error on
// every command); each caller reads its own.
func (b *batcher) flush(ctx context.Context, batch []*batchReq) {
	p := b.rdb.Pipeline()
	for _, r := range batch {
		_ = p.BatchProcess(ctx, r.cmds...) // only appends to the pipeline
	}
	if _, err := p.Exec(ctx); err != nil && !anyErr(batch) {
		// go-redis sets a failure on the commands it concerns (Exec returns
		// the first); should it fail without setting any, every command gets
		// the failure rather than a silent empty reply.
		for _, r := range batch {
			for _, c := range r.cmds {
				c.SetErr(err)
			}
		}
	}
	for _, r := range batch {
		close(r.done)
	}
}

// anyErr reports whether a command of batch failed.
func anyErr(batch []*batchReq) bool {
	for _, r := range batch {
		if firstErr(r.cmds) != nil {
			return true
		}
	}
	return false
}

// firstErr is the first error among cmds, nil when none failed.
func firstErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}
