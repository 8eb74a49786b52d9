package record

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// ProviderEvent is an entry of an app's events stream that is not a message's
// state change: a verified provider callback (a card click) or a change of one
// of the app's tenants. Type tells the kinds apart ("wecom.card_click",
// "tenant.added", …); message events never use a dotted type.
//
// It is written with the fields event_id, app, type, at (RFC 3339, UTC) and,
// when set, tenant and detail, followed by Data's fields in key order. Data
// must not reuse those names, nor message_id and state; it must hold no secret.
type ProviderEvent struct {
	// ID is stable for one occurrence, so a consumer can drop repeats.
	ID     string
	App    string
	Type   string
	At     time.Time
	Tenant string
	// MessageID is the dispatcher message the event concerns, when known.
	MessageID string
	Detail    string
	Data      map[string]string
}

// SeenKey is the Redis key that marks dedupeKey as published for app.
func SeenKey(app, dedupeKey string) string { return "msgd:{" + app + "}:seen:" + dedupeKey }

// publishOnceScript appends an event unless its dedupe key is marked.
//
// KEYS[1] seen key, KEYS[2] events stream
// ARGV[1] seen TTL ms, ARGV[2] stream max length, ARGV[3…] field, value, …
//
// Returns 1 when the event was appended, 0 for a repeat.
var publishOnceScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local args = {KEYS[2], 'MAXLEN', '~', ARGV[2], '*'}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
redis.call('XADD', unpack(args))
return 1
`)

// Publish appends ev to the events stream of ev.App.
func (s *Store) Publish(ctx context.Context, ev *ProviderEvent) error {
	if err := checkEvent(ev); err != nil {
		return err
	}
	if err := s.rdb.XAdd(ctx, s.xaddArgs(ev)).Err(); err != nil {
		return fmt.Errorf("record: publish %s: %w", ev.Type, err)
	}
	return nil
}

// PublishOnce appends ev unless dedupeKey was published for ev.App within ttl:
// marking the key (SET NX with ttl) and appending are one atomic step, so an
// event is neither lost nor doubled when a provider repeats a callback. It
// reports whether ev was appended.
func (s *Store) PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *ProviderEvent) (bool, error) {
	if err := checkEvent(ev); err != nil {
		return false, err
	}
	if dedupeKey == "" {
		return false, fmt.Errorf("record: publish %s: empty dedupe key", ev.Type)
	}
	args := []any{max(ttl.Milliseconds(), 1), s.EventsMaxLen}
	args = append(args, fields(ev)...)
	n, err := publishOnceScript.Run(ctx, s.rdb, []string{SeenKey(ev.App, dedupeKey), EventsKey(ev.App)}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("record: publish %s: %w", ev.Type, err)
	}
	return n == 1, nil
}

func (s *Store) xaddArgs(ev *ProviderEvent) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: EventsKey(ev.App), MaxLen: s.EventsMaxLen, Approx: true, Values: fields(ev)}
}

// reserved are the stream fields Data may not set.
var reserved = []string{"event_id", "message_id", "app", "type", "state", "at", "tenant", "detail"}

func checkEvent(ev *ProviderEvent) error {
	if ev == nil || ev.App == "" || ev.Type == "" || ev.ID == "" {
		return fmt.Errorf("record: publish: an event needs App, Type and ID")
	}
	for k := range ev.Data {
		if slices.Contains(reserved, k) {
			return fmt.Errorf("record: publish %s: data field %q is reserved", ev.Type, k)
		}
	}
	return nil
}

// fields are the stream fields of ev, in a stable order.
func fields(ev *ProviderEvent) []any {
	out := []any{"event_id", ev.ID, "app", ev.App, "type", ev.Type, "at", ev.At.UTC().Format(time.RFC3339Nano)}
	if ev.Tenant != "" {
		out = append(out, "tenant", ev.Tenant)
	}
	if ev.MessageID != "" {
		out = append(out, "message_id", ev.MessageID)
	}
	if ev.Detail != "" {
		out = append(out, "detail", ev.Detail)
	}
	for _, k := range slices.Sorted(maps.Keys(ev.Data)) {
		out = append(out, k, ev.Data[k])
	}
	return out
}
