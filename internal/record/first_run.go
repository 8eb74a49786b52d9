package record

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// A message's first run need not read its record: the task's payload holds
// what the producer wrote (New), and the first write — BeginFirst, marking
// the first part sending — checks in the same script that the record is
// still exactly that (version 1), that nothing the read would have found is
// there (a tombstone, a pause, an update enqueued before the send), and
// takes the company's semaphore slot. A record assumed this way is written
// by BeginFirst only; every other write refuses it with ErrAssumed, and the
// run reads the record and starts again.

// ErrAssumed is returned by a write of a record assumed from its task
// (Assumed) other than BeginFirst, and by BeginFirst when the record is not
// as its producer wrote it: read the record and run again. Nothing was
// written.
var ErrAssumed = errors.New("record: assumed as its producer wrote it, not read")

// ErrSemaphoreFull is returned by BeginFirst when the company semaphore had
// no free slot: nothing was written.
var ErrSemaphoreFull = errors.New("record: company semaphore full")

// New returns the record of message j as its producer writes it (Create).
func New(j *job.Send) *Record {
	return &Record{ID: j.ID, App: j.Message.App, State: Queued, Job: j, IdempotencyKey: j.IdempotencyKey,
		CreatedAt: j.CreatedAt, UpdatedAt: j.CreatedAt, Enqueued: true}
}

// Assumed returns the record of the generation-0 job j as its producer wrote
// it, payload being the task's payload (the record's job field), without
// reading it; ok is false for a job that does not say when it was created
// (an older producer's) or a follow-up. See BeginFirst.
func Assumed(j *job.Send, payload []byte) (rec *Record, ok bool) {
	if j.CreatedAt.IsZero() || j.Generation != 0 {
		return nil, false
	}
	rec = New(j)
	rec.stored = stored{job: string(payload), jobOf: j}
	rec.assumed = true
	return rec, true
}

// IsAssumed reports whether rec was assumed (Assumed) and not yet confirmed
// by BeginFirst.
func (rec *Record) IsAssumed() bool { return rec.assumed }

// FirstRun is what BeginFirst checks and takes besides Begin's work.
type FirstRun struct {
	// Absent are keys of the record's hash tag that must not exist: what
	// the first read would have found (the app's and tenant's pause, the
	// message's update hash).
	Absent []string
	// Slot is the company semaphore's lease to take (ratelimit.Semaphore
	// Candidate), with its limit and lease time.
	Slot  *ratelimit.Lease
	Limit int
	Lease time.Duration
}

// beginFirstScript is beginScript for a record assumed as its producer wrote
// it: it also checks the record's version and that the Absent keys do not
// exist, and takes the company semaphore slot. It leaves the record's TTL as
// the producer set it (the message's expiry plus worker.retention, what
// Begin would set again).
//
//	KEYS[1]  the record
//	KEYS[2]  the message's tombstone
//	KEYS[3]  the company semaphore
//	KEYS[4 … 3+nx]  keys that must not exist
//	KEYS[4+nx …]    the ledger call's keys (none without a ledger step)
//	ARGV[1]  nx
//	ARGV[2]  nl: the number of the ledger call's arguments (0: no ledger step)
//	ARGV[3], ARGV[4], ARGV[5]  the semaphore's limit, lease ms and lease id
//	ARGV[6 … 5+nl]  the ledger call's arguments
//	ARGV[6+nl …]    the record's hash fields and values to write
//
// Returns {4} when the record is missing or not as its producer wrote it or
// a key that must not exist does, {0} for a tombstone, {5} when the
// semaphore is full (nothing written); {2, ledger reply} when the ledger
// refused a recipient (nothing written, the slot given back); {1, ledger
// reply} when written.
var beginFirstScript = redis.NewScript(ratelimit.MarkFuncLua + ratelimit.SemAcquireFuncLua + `
if redis.call('HGET', KEYS[1], 'v') ~= '1' then return {4} end
local nx = tonumber(ARGV[1])
-- the tombstone and the absent keys in one call; which one, only when any
if redis.call('EXISTS', KEYS[2], unpack(KEYS, 4, 3 + nx)) > 0 then
  if nx > 0 and redis.call('EXISTS', unpack(KEYS, 4, 3 + nx)) > 0 then return {4} end
  return {0}
end
if not semAcquire(KEYS[3], ARGV[3], ARGV[4], ARGV[5]) then return {5} end
local nl = tonumber(ARGV[2])
local led = false
if nl > 0 then
  local K, A = {unpack(KEYS, 4 + nx)}, {unpack(ARGV, 6, 5 + nl)}
  led = ledgerMark(K, A)
  for j = 3, #led, 3 do
    if led[j] ~= 0 then
      redis.call('ZREM', KEYS[3], ARGV[5])
      return {2, led}
    end
  end
end
-- version 1 was checked above; the fields straight from ARGV, no copy
redis.call('HSET', KEYS[1], 'v', '2', unpack(ARGV, 6 + nl))
return {1, led}
`)

// BeginFirst is Begin for a record assumed as its producer wrote it
// (Assumed), in one script: unless the record is still at version 1 and
// none of first.Absent exists (else an error wrapping ErrAssumed), unless
// the message has a tombstone (ErrCancelled) or the semaphore is full
// (ErrSemaphoreFull), it takes first.Slot and does Begin's work, leaving
// the record's TTL as the producer set it (what Begin would set again). The
// keys must be of one slot on Redis Cluster: the caller uses it only
// elsewhere. On success rec is no longer assumed.
func (s *Store) BeginFirst(ctx context.Context, rec *Record, i int, ledger *ratelimit.LedgerCall, first FirstRun) (any, error) {
	b, err := s.PrepareBeginFirst(rec, i, ledger, first)
	if err != nil {
		return nil, err
	}
	b.Queue(ctx, s.rdb)
	return b.Result()
}

// BeginFirstCall is a prepared BeginFirst: queue it in a pipeline (Queue),
// run the pipeline, then read Result.
type BeginFirstCall struct {
	keys []string
	args []any
	cmd  *redis.Cmd
	rec  *Record
	i    int
	next stored
}

// PrepareBeginFirst prepares BeginFirst's call.
func (s *Store) PrepareBeginFirst(rec *Record, i int, ledger *ratelimit.LedgerCall, first FirstRun) (*BeginFirstCall, error) {
	e, err := rec.encode(i)
	if err != nil {
		return nil, err
	}
	keys := append([]string{Key(rec.App, rec.ID), TombKey(rec.App, rec.ID), first.Slot.Key()}, first.Absent...)
	args := []any{len(first.Absent), 0, first.Limit, max(first.Lease.Milliseconds(), 1), first.Slot.ID()}
	if ledger != nil {
		keys = append(keys, ledger.Keys...)
		args[1] = len(ledger.Args)
		args = append(args, ledger.Args...)
	}
	args = append(args, e.fields...)
	return &BeginFirstCall{keys: keys, args: args, rec: rec, i: i, next: e.next}, nil
}

// Queue adds the call to p: a pipeline (the script must be loaded, see
// LoadScripts; a pipeline that failed with NOSCRIPT may queue it again) or
// the client itself.
func (b *BeginFirstCall) Queue(ctx context.Context, p redis.Scripter) {
	b.cmd = queueScript(ctx, beginFirstScript, p, b.keys, b.args)
}

// Result returns BeginFirst's outcome once the call has run: the ledger's
// reply, for ledger.Transition, and an error as BeginFirst's.
func (b *BeginFirstCall) Result() (any, error) {
	rec, i := b.rec, b.i
	if b.cmd == nil {
		return nil, fmt.Errorf("record: begin %s part %d: not queued", rec.ID, i)
	}
	reply, err := beginOutcome(rec, i, b.cmd)
	if err != nil {
		return reply, err
	}
	rec.stored, rec.assumed = b.next, false
	return reply, nil
}
