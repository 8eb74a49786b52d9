package record

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/job"
)

// ErrNotFound is returned for a message id with no record (never created, or
// expired after its retention).
var ErrNotFound = errors.New("no such message")

// ConflictError is returned by Create when an idempotency key is already held by a
// message with a different body.
type ConflictError struct {
	Key       string
	MessageID string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("idempotency key %q is already used by message %s with a different body", e.Key, e.MessageID)
}

// Store reads and writes delivery records.
type Store struct {
	rdb redis.UniversalClient
	// EventsMaxLen caps each app's event stream (approximately). Default 100000.
	EventsMaxLen int64
	// IdempotencyHold is how long an idempotency key is held after its message
	// ends. Default 24h.
	IdempotencyHold time.Duration
	// cluster: rdb is a Redis Cluster client, where a MULTI queued in a
	// pipeline would go to any node (the writes that may use one use a
	// script there).
	cluster bool
}

// NewStore returns a Store on rdb.
func NewStore(rdb redis.UniversalClient) *Store {
	_, cluster := rdb.(*redis.ClusterClient)
	return &Store{rdb: rdb, EventsMaxLen: 100000, IdempotencyHold: 24 * time.Hour, cluster: cluster}
}

// Key is the Redis key of a message's record.
func Key(app, id string) string { return "msgd:{" + app + "}:rec:" + id }

// EventsKey is the Redis stream of an app's events.
func EventsKey(app string) string { return "msgd:{" + app + "}:events" }

func idemKey(app, key string) string { return "msgd:{" + app + "}:idem:" + key }

// createScript creates a record unless its idempotency key is already held.
//
// KEYS[1] idempotency key, KEYS[2] record key of the new message
// ARGV[1] new message id, ARGV[2] body hash, ARGV[3] record TTL ms,
// ARGV[4] idempotency key TTL ms, ARGV[5…] the record's hash fields and values
//
// Returns {"created", id} or {"exists", id} (same body) or {"conflict", id}.
var createScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '\n', 1, true)
  local id = string.sub(cur, 1, sep - 1)
  if string.sub(cur, sep + 1) ~= ARGV[2] then return {'conflict', id} end
  return {'exists', id}
end
redis.call('SET', KEYS[1], ARGV[1] .. '\n' .. ARGV[2], 'PX', ARGV[4])
local f = {}
for i = 5, #ARGV do f[#f + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(f))
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {'created', ARGV[1]}
`)

// createPlainScript writes a new record without an idempotency key: one
// command where a MULTI of HSET and PEXPIRE takes four.
//
//	KEYS[1]  the record
//	ARGV[1]  its TTL ms
//	ARGV[2…] its hash fields and values
var createPlainScript = redis.NewScript(`
local f = {}
for i = 2, #ARGV do f[#f + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(f))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// markEnqueuedScript sets the enqueued flag of an existing record.
//
// KEYS[1] record key. Returns 1, or 0 when the record does not exist.
var markEnqueuedScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'enq', '1')
return 1
`)

// Create writes a new record. With an idempotency key (rec.IdempotencyKey) it is
// atomic with holding the key: when the key is already held with the same
// bodyHash, Create writes nothing and returns the existing message's id and
// created=false; with another hash it returns a *ConflictError. ttl is how long
// the record lives if its message never ends.
func (s *Store) Create(ctx context.Context, rec *Record, bodyHash string, ttl time.Duration) (id string, created bool, err error) {
	e, err := rec.encode()
	if err != nil {
		return "", false, err
	}
	fields := createFields(rec, e)
	if rec.IdempotencyKey == "" {
		args := append([]any{max(ttl.Milliseconds(), 1)}, fields...)
		if err := createPlainScript.Run(ctx, s.rdb, []string{Key(rec.App, rec.ID)}, args...).Err(); err != nil {
			return "", false, fmt.Errorf("record: create %s: %w", rec.ID, err)
		}
		rec.stored = e.next
		return rec.ID, true, nil
	}
	idemTTL := ttl + s.IdempotencyHold
	args := append([]any{rec.ID, bodyHash, ttl.Milliseconds(), idemTTL.Milliseconds()}, fields...)
	res, err := createScript.Run(ctx, s.rdb,
		[]string{idemKey(rec.App, rec.IdempotencyKey), Key(rec.App, rec.ID)}, args...).StringSlice()
	if err != nil {
		return "", false, fmt.Errorf("record: create %s: %w", rec.ID, err)
	}
	switch res[0] {
	case "created":
		rec.stored = e.next
		return res[1], true, nil
	case "exists":
		return res[1], false, nil
	default:
		return "", false, &ConflictError{Key: rec.IdempotencyKey, MessageID: res[1]}
	}
}

// CreateCall is a prepared Create of a record without an idempotency key:
// queue it in a pipeline (Queue) before what must follow it in the same
// round trip (the producer's enqueue), run the pipeline, then read Result.
// Not for Redis Cluster (its MULTI would go to any node).
type CreateCall struct {
	rec  *Record
	next stored
	tx   multi
}

// PrepareCreate encodes rec for a CreateCall (whose JobJSON is the job's
// JSON it writes; rec.JobJSON is set once Result reports the write).
func (s *Store) PrepareCreate(rec *Record, ttl time.Duration) (*CreateCall, error) {
	if rec.IdempotencyKey != "" {
		return nil, fmt.Errorf("record: create %s: PrepareCreate is for a record without an idempotency key", rec.ID)
	}
	e, err := rec.encode()
	if err != nil {
		return nil, err
	}
	key := Key(rec.App, rec.ID)
	tx := multi{cmds: [][]any{append([]any{"hset", key}, createFields(rec, e)...), {"pexpire", key, max(ttl.Milliseconds(), 1)}}}
	return &CreateCall{rec: rec, next: e.next, tx: tx}, nil
}

// Queue adds the write to p as a MULTI of HSET and PEXPIRE: no script, so a
// script cache emptied by a restart cannot refuse it and leave a task queued
// after it without its record; and cheaper for Redis than a script call.
func (c *CreateCall) Queue(ctx context.Context, p redis.Pipeliner) { c.tx.queue(ctx, p) }

// JobJSON is the job's JSON the call writes into the record: the task
// payload to enqueue with it (job.Send.Marshal's bytes, encoded once).
func (c *CreateCall) JobJSON() string { return c.next.job }

// Result is the write's outcome once the pipeline has run.
func (c *CreateCall) Result() error {
	if _, err := c.tx.result(); err != nil {
		return fmt.Errorf("record: create %s: %w", c.rec.ID, err)
	}
	c.rec.stored = c.next
	return nil
}

// multi is writes that need no script (no read, no condition) as one
// MULTI … EXEC queued in a pipeline: atomic as a script, and cheaper for
// Redis (a script call costs the Lua set-up and each redis.call its bridge).
// Not on a Redis Cluster client, whose pipeline sends a keyless MULTI to any
// node.
type multi struct {
	cmds   [][]any      // each command's name and arguments
	queued []*redis.Cmd // MULTI and the commands: QUEUED, or refused
	exec   *redis.Cmd
}

func (m *multi) queue(ctx context.Context, p redis.Pipeliner) {
	m.queued = append(m.queued[:0], p.Do(ctx, "multi"))
	for _, c := range m.cmds {
		m.queued = append(m.queued, p.Do(ctx, c...))
	}
	m.exec = p.Do(ctx, "exec")
}

// result is the first failure: a command refused when queued (EXEC then
// aborts), EXEC's own, or a command's when it ran; without one, the
// commands' replies.
func (m *multi) result() ([]any, error) {
	if m.exec == nil {
		return nil, errors.New("not queued")
	}
	for _, c := range m.queued {
		if err := c.Err(); err != nil {
			return nil, err
		}
	}
	res, err := m.exec.Slice()
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		if err, ok := r.(error); ok {
			return nil, err
		}
	}
	return res, nil
}

// createFields are the hash fields and values of a new record: its encoding,
// version 1, and the enqueued flag when set.
func createFields(rec *Record, e *encoded) []any {
	fields := append(e.fields, fieldVersion, 1)
	if rec.Enqueued {
		fields = append(fields, fieldEnq, "1")
	}
	return fields
}

// MarkEnqueued records that the message's task is in the queue.
func (s *Store) MarkEnqueued(ctx context.Context, app, id string) error {
	n, err := markEnqueuedScript.Run(ctx, s.rdb, []string{Key(app, id)}).Int()
	if err != nil {
		return fmt.Errorf("record: mark %s enqueued: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("record: mark %s enqueued: %w", id, ErrNotFound)
	}
	return nil
}

// Get reads a record.
func (s *Store) Get(ctx context.Context, app, id string) (*Record, error) {
	get := s.QueueGet(ctx, s.rdb, app, id)
	return get()
}

// QueueGet adds the read of a record to p (a pipeline, or the client itself) and
// returns the function that decodes it once p has run; a missing record is an
// error wrapping ErrNotFound.
func (s *Store) QueueGet(ctx context.Context, p redis.Cmdable, app, id string) func() (*Record, error) {
	return s.QueueGetKnown(ctx, p, app, id, nil, nil)
}

// QueueGetKnown is QueueGet for the run of a task whose payload j was
// decoded from: a record whose job field holds the same bytes shares j as
// its Job instead of decoding it again (a follow-up's payload differs).
func (s *Store) QueueGetKnown(ctx context.Context, p redis.Cmdable, app, id string, j *job.Send, payload []byte) func() (*Record, error) {
	cmd := p.HGetAll(ctx, Key(app, id))
	return func() (*Record, error) {
		m, err := cmd.Result()
		if err != nil {
			return nil, fmt.Errorf("record: get %s: %w", id, err)
		}
		rec, ok, err := decodeKnown(id, m, j, string(payload))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("record: get %s: %w", id, ErrNotFound)
		}
		return rec, nil
	}
}

// Save writes rec — its meta and whatever of its job and parts changed since
// it was read or last written — and, in the same MULTI, appends an event of
// type typ with detail (when typ is not empty). A terminal record is kept for
// retention from now, and its idempotency key for IdempotencyHold; a live one
// for ttl.
func (s *Store) Save(ctx context.Context, rec *Record, typ, detail string, ttl, retention time.Duration) error {
	if rec.assumed {
		return fmt.Errorf("record: save %s: %w", rec.ID, ErrAssumed)
	}
	ev := rec.nextEvent(typ, detail)
	e, err := rec.encode()
	if err != nil {
		return err
	}
	key := Key(rec.App, rec.ID)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, e.fields...)
		p.HIncrBy(ctx, key, fieldVersion, 1)
		if rec.stored.legacy {
			p.HDel(ctx, key, fieldLegacy)
		}
		if rec.State.Terminal() {
			p.PExpire(ctx, key, retention)
			if rec.IdempotencyKey != "" {
				p.PExpire(ctx, idemKey(rec.App, rec.IdempotencyKey), s.IdempotencyHold)
			}
		} else {
			p.PExpire(ctx, key, ttl)
		}
		if ev != nil {
			p.XAdd(ctx, &redis.XAddArgs{Stream: EventsKey(rec.App), MaxLen: s.EventsMaxLen, Approx: true, Values: ev})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record: save %s: %w", rec.ID, err)
	}
	rec.stored = e.next
	return nil
}

// nextEvent numbers the next event of rec (when typ is not empty) and returns
// its stream fields; nil when typ is empty.
func (rec *Record) nextEvent(typ, detail string) []any {
	if typ == "" {
		return nil
	}
	rec.EventSeq++
	return []any{"event_id", rec.ID + "/" + strconv.Itoa(rec.EventSeq), "message_id", rec.ID, "app", rec.App,
		"type", typ, "state", string(rec.State), "at", rec.UpdatedAt.UTC().Format(time.RFC3339Nano), "detail", detail}
}

// Events reads up to count events of app from the oldest.
func (s *Store) Events(ctx context.Context, app string, count int64) ([]Event, error) {
	msgs, err := s.rdb.XRangeN(ctx, EventsKey(app), "-", "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("record: events of %s: %w", app, err)
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { s, _ := m.Values[k].(string); return s }
		at, _ := time.Parse(time.RFC3339Nano, str("at"))
		ev := Event{ID: str("event_id"), MessageID: str("message_id"), App: str("app"),
			Type: str("type"), State: State(str("state")), At: at, Detail: str("detail"), Tenant: str("tenant")}
		for k, v := range m.Values {
			if s, ok := v.(string); ok && !slices.Contains(reserved, k) {
				if ev.Data == nil {
					ev.Data = map[string]string{}
				}
				ev.Data[k] = s
			}
		}
		out = append(out, ev)
	}
	return out, nil
}
