package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// PartCancelled: the part never left; the message was cancelled first.
const PartCancelled PartState = "cancelled"

// TombKey is the Redis key of a message's tombstone: once it exists, no
// request of the message leaves (see SaveUnlessCancelled).
func TombKey(app, id string) string { return "msgd:{" + app + "}:tomb:" + id }

// CancelKey is the Redis key of a message's cancel outcome.
func CancelKey(app, id string) string { return "msgd:{" + app + "}:cancel:" + id }

// Tombstone says that and when a message was cancelled.
type Tombstone struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// PutTombstone writes the tombstone of message id unless one exists; it
// returns the tombstone in force (the older one when it existed) and whether
// it wrote it.
func (s *Store) PutTombstone(ctx context.Context, app, id string, t Tombstone, ttl time.Duration) (*Tombstone, bool, error) {
	b, _ := json.Marshal(t)
	ok, err := s.rdb.SetNX(ctx, TombKey(app, id), b, max(ttl, time.Millisecond)).Result()
	if err != nil {
		return nil, false, fmt.Errorf("record: tombstone %s: %w", id, err)
	}
	if ok {
		return &t, true, nil
	}
	cur, err := s.Tombstone(ctx, app, id)
	if err != nil || cur == nil {
		return &t, false, err
	}
	return cur, false, nil
}

// Tombstone returns the tombstone of message id, nil when it has none.
func (s *Store) Tombstone(ctx context.Context, app, id string) (*Tombstone, error) {
	get := s.QueueTombstone(ctx, s.rdb, app, id)
	return get()
}

// QueueTombstone adds the read of a message's tombstone to p (a pipeline, or the
// client itself) and returns the function that decodes it once p has run: nil
// when there is none.
func (s *Store) QueueTombstone(ctx context.Context, p redis.Cmdable, app, id string) func() (*Tombstone, error) {
	cmd := p.Get(ctx, TombKey(app, id))
	return func() (*Tombstone, error) {
		raw, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("record: tombstone %s: %w", id, err)
		}
		var t Tombstone
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			return nil, fmt.Errorf("record: decode tombstone %s: %w", id, err)
		}
		return &t, nil
	}
}

// saveUnlessCancelledScript writes a record unless the message has a tombstone.
//
// KEYS[1] record, KEYS[2] tombstone; ARGV[1] ttl ms, ARGV[2…] the record's
// hash fields and values.
var saveUnlessCancelledScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local f = {}
for i = 2, #ARGV do f[#f + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(f))
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HDEL', KEYS[1], 'rec')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// SaveUnlessCancelled writes a live (non-terminal) record without an event,
// in one step with checking that the message has no tombstone; with one it
// writes nothing and returns ErrCancelled. (The worker's send path uses
// Begin, which also moves the quota ledger.)
func (s *Store) SaveUnlessCancelled(ctx context.Context, rec *Record, ttl time.Duration) error {
	if rec.assumed {
		return fmt.Errorf("record: save %s: %w", rec.ID, ErrAssumed)
	}
	e, err := rec.encode()
	if err != nil {
		return err
	}
	args := append([]any{max(ttl.Milliseconds(), 1)}, e.fields...)
	n, err := saveUnlessCancelledScript.Run(ctx, s.rdb, []string{Key(rec.App, rec.ID), TombKey(rec.App, rec.ID)}, args...).Int()
	if err != nil {
		return fmt.Errorf("record: save %s: %w", rec.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("record: save %s: %w", rec.ID, ErrCancelled)
	}
	rec.stored = e.next
	return nil
}

// GetRaw reads a record and its version (an opaque string), for CompareAndSave.
func (s *Store) GetRaw(ctx context.Context, app, id string) (*Record, string, error) {
	m, err := s.rdb.HGetAll(ctx, Key(app, id)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("record: get %s: %w", id, err)
	}
	rec, ok, err := decode(id, m)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", fmt.Errorf("record: get %s: %w", id, ErrNotFound)
	}
	return rec, m[fieldVersion], nil
}

// ErrChanged is returned by CompareAndSave when the record changed since it
// was read.
var ErrChanged = errors.New("changed since it was read")

// compareAndSaveScript writes a record and its event if its version is
// unchanged.
//
// KEYS[1] record, KEYS[2] events; ARGV[1] version read, ARGV[2] ttl ms,
// ARGV[3] max len, ARGV[4] n = number of record items, ARGV[5 … 4+n] the
// record's hash fields and values, ARGV[5+n …] the event's fields and values.
var compareAndSaveScript = redis.NewScript(`
if (redis.call('HGET', KEYS[1], 'v') or '') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[4])
local f = {}
for i = 5, 4 + n do f[#f + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(f))
redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HDEL', KEYS[1], 'rec')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local args = {KEYS[2], 'MAXLEN', '~', ARGV[3], '*'}
for i = 5 + n, #ARGV do args[#args + 1] = ARGV[i] end
redis.call('XADD', unpack(args))
return 1
`)

// CompareAndSave writes rec with an event of type typ only if the stored
// record is still the version old (as GetRaw returned it); otherwise it returns
// ErrChanged. The cancel task uses it to end a message no task owns any more.
func (s *Store) CompareAndSave(ctx context.Context, rec *Record, old, typ, detail string, ttl time.Duration) error {
	if rec.assumed {
		return fmt.Errorf("record: save %s: %w", rec.ID, ErrAssumed)
	}
	ev := rec.nextEvent(typ, detail)
	e, err := rec.encode()
	if err != nil {
		return err
	}
	args := append([]any{old, max(ttl.Milliseconds(), 1), s.EventsMaxLen, len(e.fields)}, e.fields...)
	args = append(args, ev...)
	n, err := compareAndSaveScript.Run(ctx, s.rdb, []string{Key(rec.App, rec.ID), EventsKey(rec.App)}, args...).Int()
	if err != nil {
		return fmt.Errorf("record: save %s: %w", rec.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("record: save %s: %w", rec.ID, ErrChanged)
	}
	rec.stored = e.next
	return nil
}

// Part outcomes of a cancel.
const (
	// OutcomeCancelled: the part never left.
	OutcomeCancelled = "cancelled"
	// OutcomeRecalled: the part was sent and is now recalled.
	OutcomeRecalled = "recalled"
	// OutcomeSent: the part was sent and could not be recalled (Error says why).
	OutcomeSent = "sent"
	// OutcomeUnknown: the part may have been sent; it has no provider id to recall.
	OutcomeUnknown = "unknown"
	// OutcomeFailed: the provider had refused the part; nothing to take back.
	OutcomeFailed = "failed"
)

// PartOutcome is what a cancel did to one part.
type PartOutcome struct {
	Index      int    `json:"index"`
	Generation int    `json:"generation,omitempty"`
	Users      int    `json:"users"`
	Outcome    string `json:"outcome"`
	Error      string `json:"error,omitempty"`
}

// CancelOutcome is the result of cancelling a message.
type CancelOutcome struct {
	ID          string    `json:"id"`
	RequestedAt time.Time `json:"requested_at"`
	FinishedAt  time.Time `json:"finished_at"`
	// State is the message's state after the cancel.
	State State         `json:"state"`
	Parts []PartOutcome `json:"parts,omitempty"`
	// Unsent counts recipients that were booked or admitted but never sent;
	// their quota charges were released.
	Unsent int `json:"unsent,omitempty"`
	// Removed are the asynq tasks of the message that were deleted.
	Removed []string `json:"removed,omitempty"`
	// Errors are problems the cancel met (a task it could not remove, …).
	Errors []string `json:"errors,omitempty"`
}

// PutCancelOutcome stores the outcome of a cancel and appends its event
// ("cancel", event id "<id>/cancel") to the app's stream.
func (s *Store) PutCancelOutcome(ctx context.Context, app string, o *CancelOutcome, ttl time.Duration) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("record: encode cancel of %s: %w", o.ID, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, CancelKey(app, o.ID), b, max(ttl, time.Millisecond))
		p.XAdd(ctx, &redis.XAddArgs{Stream: EventsKey(app), MaxLen: s.EventsMaxLen, Approx: true,
			Values: []any{"event_id", o.ID + "/cancel", "message_id", o.ID, "app", app, "type", "cancel",
				"state", string(o.State), "at", o.FinishedAt.UTC().Format(time.RFC3339Nano), "detail", "cancel finished"}})
		return nil
	})
	if err != nil {
		return fmt.Errorf("record: store cancel of %s: %w", o.ID, err)
	}
	return nil
}

// CancelOutcome returns the stored outcome of cancelling message id, nil when
// no cancel finished.
func (s *Store) CancelOutcome(ctx context.Context, app, id string) (*CancelOutcome, error) {
	raw, err := s.rdb.Get(ctx, CancelKey(app, id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("record: cancel of %s: %w", id, err)
	}
	var o CancelOutcome
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		return nil, fmt.Errorf("record: decode cancel of %s: %w", id, err)
	}
	return &o, nil
}
