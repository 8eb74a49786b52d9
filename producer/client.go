package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// Client enqueues messages and reads their status. It is safe for concurrent use.
type Client struct {
	cfg   *config.Config
	asynq *asynq.Client
	// inspector finds and removes the tasks of a message (Update, Cancel).
	inspector *asynq.Inspector
	records   *record.Store
	now       func() time.Time
	// afterWrite, when set (tests), runs after each of Send's writes and may fail
	// it, to prove that a retry after a crash between writes is safe. (A Send
	// without an idempotency key writes its record and enqueues in one round
	// trip: both steps run after it.)
	afterWrite func(step string) error
	// fused: a Send without an idempotency key writes its record in the
	// round trip of asynq's enqueue (enqueue_redis.go); not on a Cluster.
	fused bool
	// rdb and the quota limiter serve Reserve and Release (reserve.go).
	rdb       redis.UniversalClient
	quotaOnce sync.Once
	quota     *ratelimit.Limiter
	quotaErr  error
}

// New returns a Client for the apps of cfg on rdb. The Client does not close rdb.
func New(cfg *config.Config, rdb redis.UniversalClient) *Client {
	// On a Cluster the record and the task are in other slots, maybe on other
	// nodes, where one pipeline would not keep their order.
	_, cluster := rdb.(*redis.ClusterClient)
	enq := rdb
	if !cluster {
		enq = enqueueRedis{rdb}
	}
	return &Client{cfg: cfg, asynq: asynq.NewClientFromRedisClient(enq), fused: !cluster, inspector: asynq.NewInspectorFromRedisClient(rdb),
		records: record.NewStore(rdb), now: time.Now, rdb: rdb}
}

// Close releases the client (not the Redis client it was given).
func (c *Client) Close() error { return nil }

// Status is the delivery record of a message: its State, its parts with what the
// provider said, the failure budget spent, and why it waits.
type Status = record.Record

// Status returns the delivery record of message id.
func (c *Client) Status(ctx context.Context, id string) (*Status, error) {
	app, err := job.AppOf(id)
	if err != nil {
		return nil, fmt.Errorf("producer: status: %w", err)
	}
	rec, err := c.records.Get(ctx, app, id)
	if err != nil {
		return nil, fmt.Errorf("producer: status of %s: %w", id, err)
	}
	// A message still queued past its expiry whose task is not in its queue
	// (the producer failed before the enqueue and was not retried) will never
	// run: say so rather than "queued" forever.
	if rec.State == record.Queued && rec.Job != nil && c.now().After(rec.Job.ExpiresAt) && !c.taskQueued(rec.Job) {
		rec.State, rec.Reason = record.Expired, "never enqueued (the producer failed before the enqueue) and now past expires_at"
	}
	rec.Parts = withoutBodies(rec.Parts)
	if err := c.mergeUpdates(ctx, app, rec); err != nil {
		return nil, fmt.Errorf("producer: status of %s: %w", id, err)
	}
	return rec, nil
}

// withoutBodies drops the rendered request bodies, which are large and of no use
// to a status reader.
func withoutBodies(parts []record.Part) []record.Part {
	for i := range parts {
		parts[i].Body = nil
	}
	return parts
}

// taskQueued reports whether the send task of j is in its queue (in any
// state); an error reading the queue counts as queued.
func (c *Client) taskQueued(j *job.Send) bool {
	_, err := c.inspector.GetTaskInfo(j.Queue, j.ID)
	return err == nil || !(errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound))
}
