package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Semaphore bounds how many requests are in flight to one provider company at once,
// across every worker process (WeCom 45033 is a per-company concurrency limit).
// A holder that dies without releasing loses its slot when its lease ends.
type Semaphore struct {
	rdb redis.UniversalClient
}

// NewSemaphore returns a Semaphore on rdb.
func NewSemaphore(rdb redis.UniversalClient) *Semaphore { return &Semaphore{rdb: rdb} }

// SemAcquireFuncLua defines the Lua function semAcquire(key, limit, leasems,
// id): semAcquireScript's body, for another package's script that takes a
// slot in one step with its own writes (a key of the script: on Redis
// Cluster only with keys of the same slot). It returns true when the slot was
// taken, false when the semaphore is full.
const SemAcquireFuncLua = `
local function semAcquire(key, limit, leasems, id)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if redis.call('ZCARD', key) >= tonumber(limit) then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now) -- leases whose holder died
    if redis.call('ZCARD', key) >= tonumber(limit) then return false end
  end
  redis.call('ZADD', key, now + tonumber(leasems), id)
  redis.call('PEXPIRE', key, leasems)
  return true
end
`

// semAcquireScript takes a slot if fewer than limit unexpired leases are held.
//
// KEYS[1] the semaphore's sorted set (member = lease id, score = lease end ms)
// ARGV[1] limit, ARGV[2] lease ms, ARGV[3] lease id
//
// Returns 1 when the slot was taken, 0 when the semaphore is full.
var semAcquireScript = redis.NewScript(SemAcquireFuncLua + `
if semAcquire(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 1 end
return 0
`)

// SemaphoreKey is the Redis key of the semaphore of a provider's company.
func SemaphoreKey(provider, corp string) string { return "msgd:sem:{" + provider + ":" + corp + "}" }

// Acquire takes one of limit slots of key for at most lease. ok is false when all
// slots are taken. release gives the slot back; call it once the request is done.
func (s *Semaphore) Acquire(ctx context.Context, key string, limit int, lease time.Duration) (release func(), ok bool, err error) {
	get := s.QueueAcquire(ctx, s.rdb, key, limit, lease)
	l, err := get()
	if err != nil || l == nil {
		return nil, false, err
	}
	return func() { l.Release(context.WithoutCancel(ctx)) }, true, nil
}

// Lease is a slot of a Semaphore, held until Release (or until its lease time
// ends, should its holder die).
type Lease struct {
	s       *Semaphore
	key, id string
}

// QueueAcquire adds the taking of one of limit slots of key to p (a pipeline,
// or the client itself; in a pipeline the script must be loaded, see
// [Semaphore.Load]) and returns the function that reads the outcome once p has
// run: the Lease, or nil when all slots were taken.
func (s *Semaphore) QueueAcquire(ctx context.Context, p redis.Scripter, key string, limit int, lease time.Duration) func() (*Lease, error) {
	id, err := leaseID()
	if err != nil {
		return func() (*Lease, error) { return nil, fmt.Errorf("ratelimit: semaphore %s: %w", key, err) }
	}
	var cmd *redis.Cmd
	if _, pipelined := p.(redis.Pipeliner); pipelined {
		cmd = semAcquireScript.EvalSha(ctx, p, []string{key}, limit, lease.Milliseconds(), id)
	} else {
		cmd = semAcquireScript.Run(ctx, p, []string{key}, limit, lease.Milliseconds(), id)
	}
	return func() (*Lease, error) {
		n, err := cmd.Int()
		if err != nil {
			return nil, fmt.Errorf("ratelimit: semaphore %s: %w", key, err)
		}
		if n == 0 {
			return nil, nil
		}
		return &Lease{s: s, key: key, id: id}, nil
	}
}

func leaseID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Candidate returns a lease of key not yet taken, for a script that takes it
// with semAcquire (SemAcquireFuncLua) and its ID; it holds a slot only once
// that script said so.
func (s *Semaphore) Candidate(key string) (*Lease, error) {
	id, err := leaseID()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: semaphore %s: %w", key, err)
	}
	return &Lease{s: s, key: key, id: id}, nil
}

// Key is the semaphore the lease is a slot of.
func (l *Lease) Key() string { return l.key }

// ID is the lease's member in the semaphore's sorted set.
func (l *Lease) ID() string { return l.id }

// Load loads the semaphore's script into Redis, for pipelines (QueueAcquire);
// a pipeline that failed with NOSCRIPT may be run again after it.
func (s *Semaphore) Load(ctx context.Context) error {
	return semAcquireScript.Load(ctx, s.rdb).Err()
}

// Release gives the slot back.
func (l *Lease) Release(ctx context.Context) { l.s.rdb.ZRem(ctx, l.key, l.id) }

// QueueRelease adds giving the slot back to p.
func (l *Lease) QueueRelease(ctx context.Context, p redis.Cmdable) { p.ZRem(ctx, l.key, l.id) }
