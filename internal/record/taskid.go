package record

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// TaskIDKey is the Redis key that reserves a provider task id (a WeCom
// card's task_id) given by a message of app: the provider refuses one it saw
// before, so the producer refuses it at enqueue instead.
func TaskIDKey(app, taskID string) string { return "msgd:{" + app + "}:taskid:" + taskID }

// reserveTaskIDScript reserves a task id for an owner unless another holds it.
//
// KEYS[1] the task id key; ARGV[1] owner, ARGV[2] ttl ms.
// Returns {holder, 1 when this call set it}.
var reserveTaskIDScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then return {cur, 0} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {ARGV[1], 1}
`)

// ReserveTaskID reserves taskID of app for owner (a message id, or
// "key:<idempotency key>") for ttl, unless another owner holds it. It
// returns the holder — owner when the reservation is (or already was) its —
// and whether this call made it.
func (s *Store) ReserveTaskID(ctx context.Context, app, taskID, owner string, ttl time.Duration) (holder string, fresh bool, err error) {
	res, err := reserveTaskIDScript.Run(ctx, s.rdb, []string{TaskIDKey(app, taskID)}, owner, max(ttl.Milliseconds(), 1)).Slice()
	if err != nil || len(res) != 2 {
		return "", false, fmt.Errorf("record: reserve task_id %q of %s: %w", taskID, app, err)
	}
	holder, _ = res[0].(string)
	n, _ := res[1].(int64)
	return holder, n == 1, nil
}

// ReleaseTaskID drops the reservation of taskID if owner holds it (a send
// that failed before its record was written).
func (s *Store) ReleaseTaskID(ctx context.Context, app, taskID, owner string) error {
	if err := releaseLockScript.Run(ctx, s.rdb, []string{TaskIDKey(app, taskID)}, owner).Err(); err != nil {
		return fmt.Errorf("record: release task_id %q of %s: %w", taskID, app, err)
	}
	return nil
}
