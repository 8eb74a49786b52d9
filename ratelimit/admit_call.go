package ratelimit

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// AdmitCall is an admission (Admit) prepared to run in the caller's pipeline,
// before the caller's own script in the same round trip: a caller that
// expects every recipient to be admitted can mark them sending right after
// (the ledger refuses a recipient that was not charged), and fall back to
// reading the decision when it was wrong.
type AdmitCall struct {
	message string
	spread  int64
	chunks  []chunk
	cmd     *redis.Cmd
}

// PrepareAdmit prepares the admission of r as Admit decides it. ok is false
// when r needs more than one script call (over ChunkSize recipients): run
// Admit instead.
func (l *Limiter) PrepareAdmit(r Request) (call *AdmitCall, ok bool, err error) {
	chunks, spread, err := l.chunks(r, false)
	if err != nil {
		return nil, false, err
	}
	if len(chunks) != 1 {
		return nil, false, nil
	}
	return &AdmitCall{message: r.MessageID, spread: spread, chunks: chunks}, true, nil
}

// Queue adds the admission to p (its script must be loaded, see Load; a
// pipeline that failed with NOSCRIPT may queue it again: a repeated
// admission returns the decisions already taken).
func (c *AdmitCall) Queue(ctx context.Context, p redis.Pipeliner) {
	c.cmd = admitScript.EvalSha(ctx, p, c.chunks[0].keys, c.chunks[0].args...)
}

// Decision returns the admission's decision once the pipeline has run.
func (c *AdmitCall) Decision() (*Decision, error) {
	if c.cmd == nil {
		return nil, fmt.Errorf("ratelimit: admit %s: not queued", c.message)
	}
	rep, err := c.cmd.Slice()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: admit %s: %w", c.message, err)
	}
	return decide(c.message, c.spread, c.chunks, [][]any{rep})
}

// Load loads the admission script into Redis, for pipelines (AdmitCall).
func (l *Limiter) Load(ctx context.Context) error {
	if err := admitScript.Load(ctx, l.rdb).Err(); err != nil {
		return fmt.Errorf("ratelimit: load scripts: %w", err)
	}
	return nil
}
