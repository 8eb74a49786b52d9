package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Held is one reservation of a recipient (see [Limiter.IndexReservation]).
type Held struct {
	// MessageID is the reservation's ledger id.
	MessageID string
	// At is the slot charged.
	At time.Time
	// State is the ledger state: admitted or booked while unused.
	State State
}

// reservationKey is the index of one recipient's reservations: a zset of
// ledger ids scored by slot (ms), under the app's hash tag.
func (l *Limiter) reservationKey(app, tenant, rcpt string) string {
	return l.tag(app) + "rv:" + tenant + ":" + rcpt
}

// IndexReservation records that the ledger id holds a slot for each
// recipient of slots, so that [Limiter.Reservations] can list them (the
// ledger is per message; this is the per-recipient view of the charges made
// for senders outside the dispatcher). An entry is kept until its slot plus
// the policy's LedgerTTL. It is not atomic with the charge: a crash between
// the two leaves a charge the index does not list (the windows still count it).
func (l *Limiter) IndexReservation(ctx context.Context, app, tenant, id string, slots map[string]time.Time) error {
	c, err := l.policy(app)
	if err != nil {
		return err
	}
	if len(slots) == 0 {
		return nil
	}
	pipe := l.rdb.Pipeline()
	for rcpt, at := range slots {
		k := l.reservationKey(app, tenant, rcpt)
		pipe.ZAdd(ctx, k, redis.Z{Score: float64(at.UnixMilli()), Member: id})
		pipe.PExpireAt(ctx, k, at.Add(c.pol.LedgerTTL))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ratelimit: index reservation %s: %w", id, err)
	}
	return nil
}

// UnindexReservation removes the ledger id from the recipients' indexes.
func (l *Limiter) UnindexReservation(ctx context.Context, app, tenant, id string, recipients []string) error {
	if err := checkApp(app); err != nil {
		return fmt.Errorf("ratelimit: %w", err)
	}
	pipe := l.rdb.Pipeline()
	for _, rcpt := range recipients {
		pipe.ZRem(ctx, l.reservationKey(app, tenant, rcpt), id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ratelimit: unindex reservation %s: %w", id, err)
	}
	return nil
}

// Reservations returns the reservations of one recipient still in their
// ledger (any state but superseded), oldest slot first. Entries whose ledger
// no longer holds the recipient (released, expired) are removed from the
// index as they are found.
func (l *Limiter) Reservations(ctx context.Context, app, tenant, rcpt string) ([]Held, error) {
	c, err := l.policy(app)
	if err != nil {
		return nil, err
	}
	k := l.reservationKey(app, tenant, rcpt)
	old := time.Now().Add(-c.pol.LedgerTTL).UnixMilli()
	if err := l.rdb.ZRemRangeByScore(ctx, k, "-inf", fmt.Sprint(old)).Err(); err != nil {
		return nil, fmt.Errorf("ratelimit: reservations of %s: %w", rcpt, err)
	}
	ids, err := l.rdb.ZRange(ctx, k, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: reservations of %s: %w", rcpt, err)
	}
	pipe := l.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, l.ledgerKey(app, id), rcpt)
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("ratelimit: reservations of %s: %w", rcpt, err)
		}
	}
	var out []Held
	var gone []any
	for i, id := range ids {
		v, err := cmds[i].Result()
		var e Entry
		if err == nil {
			e, err = parseEntry(v)
		}
		if err != nil || e.State == StateSuperseded {
			gone = append(gone, id)
			continue
		}
		out = append(out, Held{MessageID: id, At: e.At, State: e.State})
	}
	if len(gone) > 0 {
		if err := l.rdb.ZRem(ctx, k, gone...).Err(); err != nil {
			return nil, fmt.Errorf("ratelimit: reservations of %s: %w", rcpt, err)
		}
	}
	return out, nil
}
