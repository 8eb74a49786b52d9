package producer

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// enqueueRedis is the Redis client as the producer's asynq Client sees it: a
// Send's record write, carried in the context (withRecordWrite), leaves in
// the same round trip as asynq's enqueue script, just before it: one round
// trip per message instead of two. Redis runs them in that order, so a task
// never exists before its record; when the record write fails, Send fails,
// and the task, if queued, finds no record and is skipped by the worker (not
// sent). Every other command passes through unchanged.
type enqueueRedis struct {
	redis.UniversalClient
}

type recordWriteKey struct{}

// recordWrite is a record write waiting for asynq's first script call.
type recordWrite struct {
	queue func(p redis.Pipeliner) // queues the write
	sent  bool
}

// withRecordWrite returns ctx carrying w for the enqueue that follows.
func withRecordWrite(ctx context.Context, w *recordWrite) context.Context {
	return context.WithValue(ctx, recordWriteKey{}, w)
}

// EvalSha runs asynq's script; the first call under a context carrying a
// record write runs it in one pipeline after that write. Each command carries
// its own outcome: the write's is read through recordWrite's caller, the
// script's is returned (a NOSCRIPT reply makes asynq send the script whole,
// through Eval, the record being written already).
func (c enqueueRedis) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	w, _ := ctx.Value(recordWriteKey{}).(*recordWrite)
	if w == nil || w.sent {
		return c.UniversalClient.EvalSha(ctx, sha1, keys, args...)
	}
	w.sent = true
	p := c.UniversalClient.Pipeline()
	w.queue(p)
	cmd := p.EvalSha(ctx, sha1, keys, args...)
	_, _ = p.Exec(ctx) // the outcomes are on the commands
	return cmd
}
