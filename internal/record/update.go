package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Update state lives beside the delivery record, never in it: the send task
// rewrites the record's meta and parts without reading them first, so a second
// writer would lose changes. The producer writes the update hash (sequence,
// newest content, history) with Lua; the update task writes per-recipient
// results; the send task only reads it. Provider rules (single-use codes)
// live in the provider, with its state in the app's key-value store
// (internal/kv).
//
//	msgd:{app}:upd:<id>      hash: seq, newest, h:<seq>, u:<user>
//	msgd:{app}:updlock:<id>  the running update task's lease
//	msgd:{app}:tomb:<id>     the cancellation tombstone (see cancel.go)

// UpdateKey is the Redis hash of a message's updates.
func UpdateKey(app, id string) string { return "msgd:{" + app + "}:upd:" + id }

// UpdateLockKey is the lease of the update task that is applying a message's
// updates.
func UpdateLockKey(app, id string) string { return "msgd:{" + app + "}:updlock:" + id }

// ErrCancelled is returned for a message that has a tombstone.
var ErrCancelled = errors.New("message is cancelled")

// Content is new content for a message: Kind and Text or Body as in
// providers.Message.
type Content struct {
	Kind providers.Kind  `json:"kind"`
	Text string          `json:"text,omitempty"`
	Body json.RawMessage `json:"body,omitempty"`
}

// UpdateState is the state of one update sequence number.
type UpdateState string

// States of an update.
const (
	// UpdatePending: enqueued, not applied yet.
	UpdatePending UpdateState = "pending"
	// UpdateRendered: the send had not rendered the parts yet and sent this
	// content itself.
	UpdateRendered UpdateState = "rendered"
	// UpdateApplied: applied to the recipients already sent (see Recipients
	// for those that could not be reached).
	UpdateApplied UpdateState = "applied"
	// UpdateSuperseded: a newer update came before this one was applied.
	UpdateSuperseded UpdateState = "superseded"
	// UpdateFailed: the message was cancelled, failed or expired; Reason says which.
	UpdateFailed UpdateState = "failed"
	// UpdateUnreachable: no recipient could be updated (see Recipients).
	UpdateUnreachable UpdateState = "unreachable"
)

// Final reports whether s never changes again.
func (s UpdateState) Final() bool { return s != UpdatePending }

// UpdateEntry is the history entry of one update.
type UpdateEntry struct {
	Seq    int64       `json:"seq"`
	State  UpdateState `json:"state"`
	At     time.Time   `json:"at"`
	Reason string      `json:"reason,omitempty"`
}

// RecipientState is what one recipient was last sent.
type RecipientState struct {
	// Seq is the update sequence number of the content the recipient sees (0:
	// the original content).
	Seq int64 `json:"seq"`
	// State is "sent", "updated" or "update_unreachable".
	State string `json:"state"`
	// Reason says why a recipient is update_unreachable.
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// Recipient states.
const (
	RecipientSent        = "sent"
	RecipientUpdated     = "updated"
	RecipientUnreachable = "update_unreachable"
)

// Updates is the update history of a message as Status shows it.
type Updates struct {
	// Seq is the newest sequence number.
	Seq int64 `json:"seq"`
	// History has one entry per sequence number, oldest first.
	History []UpdateEntry `json:"history,omitempty"`
	// Recipients is what each user was last sent, by user id.
	Recipients map[string]RecipientState `json:"recipients,omitempty"`
}

// UpdateData is the raw update hash of a message, decoded.
type UpdateData struct {
	Seq    int64
	Newest *Content
	// NewestSeq is the sequence number of Newest.
	NewestSeq int64
	History   map[int64]UpdateEntry
	Users     map[string]RecipientState
}

// putUpdateScript assigns the next sequence number and stores the content.
//
// KEYS[1] update hash, KEYS[2] tombstone, KEYS[3] update lock
// ARGV[1] content JSON, ARGV[2] pending entry JSON with "seq":0 placeholder, ARGV[3] ttl ms
//
// Returns {-1, 0} when the message is cancelled, else {seq, lock held}.
var putUpdateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, 0} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'newest', ARGV[1], 'newest_seq', seq,
  'h:' .. seq, (string.gsub(ARGV[2], '"seq":0', '"seq":' .. seq, 1)))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {seq, redis.call('EXISTS', KEYS[3])}
`)

// PutUpdate assigns the next update sequence number of message id and stores
// c as its newest content, atomically with checking the tombstone: a
// cancelled message returns ErrCancelled. It also reports whether an update
// task holds the message's lease (it will see the new sequence before it ends).
func (s *Store) PutUpdate(ctx context.Context, app, id string, c *Content, now time.Time, ttl time.Duration) (seq int64, running bool, err error) {
	b, err := json.Marshal(c)
	if err != nil {
		return 0, false, fmt.Errorf("record: encode update of %s: %w", id, err)
	}
	e, _ := json.Marshal(UpdateEntry{Seq: 0, State: UpdatePending, At: now})
	res, err := putUpdateScript.Run(ctx, s.rdb, []string{UpdateKey(app, id), TombKey(app, id), UpdateLockKey(app, id)},
		b, e, max(ttl.Milliseconds(), 1)).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("record: update %s: %w", id, err)
	}
	if res[0] < 0 {
		return 0, false, fmt.Errorf("record: update %s: %w", id, ErrCancelled)
	}
	return res[0], res[1] == 1, nil
}

// Newest returns the newest content of message id and its sequence number;
// 0 and nil when it has no update.
func (s *Store) Newest(ctx context.Context, app, id string) (int64, *Content, error) {
	get := s.QueueNewest(ctx, s.rdb, app, id)
	return get()
}

// QueueNewest adds the read of Newest to p (a pipeline, or the client itself) and
// returns the function that decodes it once p has run.
func (s *Store) QueueNewest(ctx context.Context, p redis.Cmdable, app, id string) func() (int64, *Content, error) {
	cmd := p.HMGet(ctx, UpdateKey(app, id), "newest_seq", "newest")
	return func() (int64, *Content, error) {
		vals, err := cmd.Result()
		if err != nil {
			return 0, nil, fmt.Errorf("record: newest content of %s: %w", id, err)
		}
		seqS, _ := vals[0].(string)
		raw, _ := vals[1].(string)
		if seqS == "" || raw == "" {
			return 0, nil, nil
		}
		seq, _ := strconv.ParseInt(seqS, 10, 64)
		var c Content
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return 0, nil, fmt.Errorf("record: decode newest content of %s: %w", id, err)
		}
		return seq, &c, nil
	}
}

// UpdateData reads and decodes the update hash of message id.
func (s *Store) UpdateData(ctx context.Context, app, id string) (*UpdateData, error) {
	m, err := s.rdb.HGetAll(ctx, UpdateKey(app, id)).Result()
	if err != nil {
		return nil, fmt.Errorf("record: updates of %s: %w", id, err)
	}
	d := &UpdateData{History: map[int64]UpdateEntry{}, Users: map[string]RecipientState{}}
	for k, v := range m {
		switch {
		case k == "seq":
			d.Seq, _ = strconv.ParseInt(v, 10, 64)
		case k == "newest_seq":
			d.NewestSeq, _ = strconv.ParseInt(v, 10, 64)
		case k == "newest":
			var c Content
			if json.Unmarshal([]byte(v), &c) == nil {
				d.Newest = &c
			}
		case strings.HasPrefix(k, "h:"):
			var e UpdateEntry
			if json.Unmarshal([]byte(v), &e) == nil {
				d.History[e.Seq] = e
			}
		case strings.HasPrefix(k, "u:"):
			var r RecipientState
			if json.Unmarshal([]byte(v), &r) == nil {
				d.Users[k[2:]] = r
			}
		}
	}
	return d, nil
}

// View is the update history as Status shows it.
func (d *UpdateData) View() *Updates {
	if d.Seq == 0 && len(d.Users) == 0 {
		return nil
	}
	u := &Updates{Seq: d.Seq, Recipients: d.Users}
	for _, e := range d.History {
		u.History = append(u.History, e)
	}
	sort.Slice(u.History, func(i, j int) bool { return u.History[i].Seq < u.History[j].Seq })
	if len(u.Recipients) == 0 {
		u.Recipients = nil
	}
	return u
}

// UpdateWrite is a batch of writes of the update task.
type UpdateWrite struct {
	Entries []UpdateEntry
	Users   map[string]RecipientState
}

// WriteUpdates stores history entries and recipient states of message id,
// and keeps the hash for ttl. A history entry already final is not replaced.
func (s *Store) WriteUpdates(ctx context.Context, app, id string, w UpdateWrite, ttl time.Duration) error {
	key := UpdateKey(app, id)
	args := []any{max(ttl.Milliseconds(), 1)}
	for _, e := range w.Entries {
		b, _ := json.Marshal(e)
		args = append(args, "h:"+strconv.FormatInt(e.Seq, 10), string(b))
	}
	for u, r := range w.Users {
		b, _ := json.Marshal(r)
		args = append(args, "u:"+u, string(b))
	}
	if err := writeUpdatesScript.Run(ctx, s.rdb, []string{key}, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("record: write updates of %s: %w", id, err)
	}
	return nil
}

// writeUpdatesScript sets fields, keeping final history entries.
//
// KEYS[1] update hash; ARGV[1] ttl ms, ARGV[2…] field, value, …
var writeUpdatesScript = redis.NewScript(`
for i = 2, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  local keep = false
  if string.sub(f, 1, 2) == 'h:' then
    local cur = redis.call('HGET', KEYS[1], f)
    if cur and not string.find(cur, '"state":"pending"', 1, true) then keep = true end
  end
  if not keep then redis.call('HSET', KEYS[1], f, v) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)

// AcquireUpdateLock takes the lease of the message's update task.
func (s *Store) AcquireUpdateLock(ctx context.Context, app, id, token string, lease time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, UpdateLockKey(app, id), token, lease).Result()
	if err != nil {
		return false, fmt.Errorf("record: update lock of %s: %w", id, err)
	}
	return ok, nil
}

// finishUpdateScript releases the lease unless a newer update arrived.
//
// KEYS[1] update hash, KEYS[2] lock; ARGV[1] token, ARGV[2] seq handled.
// Returns 1 when released (done), 0 when a newer seq is there (run again).
var finishUpdateScript = redis.NewScript(`
local seq = redis.call('HGET', KEYS[1], 'seq')
if seq and tonumber(seq) > tonumber(ARGV[2]) then return 0 end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
`)

// FinishUpdate ends an update task's pass over seq: it releases the lease and
// reports true, or, when a newer sequence number was assigned meanwhile,
// keeps the lease and reports false (the task must run again).
func (s *Store) FinishUpdate(ctx context.Context, app, id, token string, seq int64) (bool, error) {
	n, err := finishUpdateScript.Run(ctx, s.rdb, []string{UpdateKey(app, id), UpdateLockKey(app, id)}, token, seq).Int()
	if err != nil {
		return false, fmt.Errorf("record: finish update of %s: %w", id, err)
	}
	return n == 1, nil
}

// ReleaseUpdateLock drops the lease if token holds it.
func (s *Store) ReleaseUpdateLock(ctx context.Context, app, id, token string) error {
	return releaseLockScript.Run(ctx, s.rdb, []string{UpdateLockKey(app, id)}, token).Err()
}

var releaseLockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)

// PublishUpdate appends the event of a finished update to the app's stream:
// type "update", event id "<id>/update/<seq>", state the update's state and
// detail "update <seq> <state>".
func (s *Store) PublishUpdate(ctx context.Context, app, id string, e UpdateEntry) error {
	seq := strconv.FormatInt(e.Seq, 10)
	err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: EventsKey(app), MaxLen: s.EventsMaxLen, Approx: true,
		Values: []any{"event_id", id + "/update/" + seq, "message_id", id, "app", app, "type", "update",
			"state", string(e.State), "at", e.At.UTC().Format(time.RFC3339Nano), "detail", "update " + seq + " " + string(e.State)}}).Err()
	if err != nil {
		return fmt.Errorf("record: publish update of %s: %w", id, err)
	}
	return nil
}
