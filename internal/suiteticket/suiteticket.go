// Package suiteticket keeps the suite_tickets WeCom pushes to a third-party or
// custom app's instruction callback every ten minutes, in Redis, for every
// process of the dispatcher. It implements wecom.TicketStore.
//
// One hash per (app, suite), under the app's hash tag:
//
//	msgd:{app}:suite_ticket:<suite_id>   cur, cur_at, prev, prev_at (unix ms)
//
// The latest push wins, judged by the push's own TimeStamp: a late repeat of
// an older push never replaces a newer ticket (it may become the previous
// one). The ticket replaced is kept as the previous one, a fallback WeCom
// tolerates ("可以容错连续两次获取suite_ticket失败的情况"). A ticket is valid for
// 30 minutes after its push; the key expires 30 minutes after the latest one.
package suiteticket

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// Store is a wecom.TicketStore on Redis. It is safe for concurrent use.
type Store struct {
	rdb      redis.UniversalClient
	app      string
	lifetime time.Duration
	now      func() time.Time
}

var _ wecom.TicketStore = (*Store)(nil)

// Options tune a Store. The zero value gives the defaults.
type Options struct {
	// Lifetime is how long a ticket is valid after its push. Default
	// wecom.SuiteTicketLifetime (30m).
	Lifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// New returns the ticket store of app on rdb.
func New(rdb redis.UniversalClient, app string, opts Options) *Store {
	if opts.Lifetime <= 0 {
		opts.Lifetime = wecom.SuiteTicketLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{rdb: rdb, app: app, lifetime: opts.Lifetime, now: opts.Now}
}

// Key is the Redis hash of suiteID's tickets for app.
func Key(app, suiteID string) string { return "msgd:{" + app + "}:suite_ticket:" + suiteID }

// putScript records a pushed ticket.
//
// KEYS[1] the hash; ARGV[1] ticket, ARGV[2] push time ms, ARGV[3] TTL ms.
// Returns 1 when the ticket became the latest, 0 otherwise.
var putScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'cur')
local curAt = tonumber(redis.call('HGET', KEYS[1], 'cur_at') or '0') or 0
local at = tonumber(ARGV[2])
if cur == ARGV[1] then return 0 end
if cur and at < curAt then
  local prevAt = tonumber(redis.call('HGET', KEYS[1], 'prev_at') or '0') or 0
  if at > prevAt then redis.call('HSET', KEYS[1], 'prev', ARGV[1], 'prev_at', ARGV[2]) end
  return 0
end
if cur then
  redis.call('HSET', KEYS[1], 'prev', cur, 'prev_at', curAt)
end
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'cur_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// PutTicket records ticket pushed at at (zero: now); see the package doc.
func (s *Store) PutTicket(ctx context.Context, suiteID, ticket string, at time.Time) error {
	if suiteID == "" || ticket == "" {
		return errors.New("suiteticket: suite id and ticket are required")
	}
	if at.IsZero() {
		at = s.now()
	}
	ttl := at.Add(s.lifetime).Sub(s.now())
	if ttl <= 0 {
		return nil // expired before it arrived
	}
	if err := putScript.Run(ctx, s.rdb, []string{Key(s.app, suiteID)}, ticket, at.UnixMilli(), ttl.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("suiteticket: store the ticket of suite %s: %w", suiteID, err)
	}
	return nil
}

// Tickets returns the latest valid ticket of suiteID and the previous one
// (each "" when none is valid).
func (s *Store) Tickets(ctx context.Context, suiteID string) (latest, previous string, err error) {
	vals, err := s.rdb.HMGet(ctx, Key(s.app, suiteID), "cur", "cur_at", "prev", "prev_at").Result()
	if err != nil {
		return "", "", fmt.Errorf("suiteticket: read the tickets of suite %s: %w", suiteID, err)
	}
	now := s.now()
	valid := func(tv, atv any) string {
		t, _ := tv.(string)
		at, _ := atv.(string)
		ms, err := strconv.ParseInt(at, 10, 64)
		if t == "" || err != nil || !now.Before(time.UnixMilli(ms).Add(s.lifetime)) {
			return ""
		}
		return t
	}
	return valid(vals[0], vals[1]), valid(vals[2], vals[3]), nil
}
