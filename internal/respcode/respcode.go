// Package respcode keeps WeCom's response codes: the single-use capabilities
// to update a template card (response_code, valid 72 hours), per (app, tenant,
// task_id, user). Card clicks store them (Put); the card-update worker takes
// one (Take) before calling update_template_card, so a code is never used
// twice.
//
// One key per code, under the app's hash tag, expiring with the code:
//
//	msgd:{app}:respcode:<tenant>:<task_id>:<user>
//
// with each part query-escaped (a ':' in an id cannot shift the others). The
// tenant is empty for a self-built app; user ids are stored as given (the
// caller normalises them, see wecom.NormalizeUser).
package respcode

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotFound is wrapped by Take when there is no unused, unexpired code.
var ErrNotFound = errors.New("respcode: no response code")

// Store reads and writes response codes. It is safe for concurrent use.
type Store struct{ rdb redis.UniversalClient }

// New returns a Store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Key is the Redis key of the code of (app, tenant, taskID, user).
func Key(app, tenant, taskID, user string) string {
	return "msgd:{" + app + "}:respcode:" + url.QueryEscape(tenant) + ":" + url.QueryEscape(taskID) + ":" + url.QueryEscape(user)
}

// Put stores code for ttl (at least 1 ms), replacing an older code of the same
// (tenant, taskID, user): the latest click's code is the one to use.
func (s *Store) Put(ctx context.Context, app, tenant, taskID, user, code string, ttl time.Duration) error {
	if app == "" || taskID == "" || user == "" || code == "" {
		return errors.New("respcode: put: app, task id, user and code are required")
	}
	if err := s.rdb.Set(ctx, Key(app, tenant, taskID, user), code, max(ttl, time.Millisecond)).Err(); err != nil {
		return fmt.Errorf("respcode: put %s/%s: %w", taskID, user, err)
	}
	return nil
}

// Take returns the code of (app, tenant, taskID, user) and deletes it in the
// same step (GETDEL): of concurrent callers, exactly one gets it. No code is an
// error wrapping ErrNotFound.
func (s *Store) Take(ctx context.Context, app, tenant, taskID, user string) (string, error) {
	code, err := s.rdb.GetDel(ctx, Key(app, tenant, taskID, user)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("respcode: take %s/%s: %w", taskID, user, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("respcode: take %s/%s: %w", taskID, user, err)
	}
	return code, nil
}
