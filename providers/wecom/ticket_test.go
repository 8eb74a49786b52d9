package wecom_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/kv"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

type ticketBundle struct {
	ctx   context.Context
	rdb   *redis.Client
	store wecom.TicketStore
	mu    sync.Mutex
	now   time.Time
}

func setupTickets(t *testing.T) *ticketBundle {
	t.Helper()
	b := &ticketBundle{ctx: context.Background(), rdb: redistest.Start(t).Client(), now: time.Now().Truncate(time.Millisecond)}
	b.store = wecom.NewTicketStore(kv.New(b.rdb, "crm"), 0, b.clock)
	return b
}

func (b *ticketBundle) clock() time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.now }

func (b *ticketBundle) advance(d time.Duration) { b.mu.Lock(); b.now = b.now.Add(d); b.mu.Unlock() }

func (b *ticketBundle) put(t *testing.T, ticket string, at time.Time) {
	t.Helper()
	if err := b.store.PutTicket(b.ctx, "ww1", ticket, at); err != nil {
		t.Fatal(err)
	}
}

func (b *ticketBundle) want(t *testing.T, latest, previous string) {
	t.Helper()
	l, p, err := b.store.Tickets(b.ctx, "ww1")
	if err != nil || l != latest || p != previous {
		t.Errorf("Tickets = %q, %q, %v; want %q, %q", l, p, err, latest, previous)
	}
}

// The latest push wins and the one it replaced is kept as the fallback.
func TestTicketLatestWinsPreviousKept(t *testing.T) {
	t.Parallel()
	b := setupTickets(t)
	b.want(t, "", "")
	t0 := b.clock()
	b.put(t, "t1", t0)
	b.want(t, "t1", "")
	b.put(t, "t2", t0.Add(10*time.Minute))
	b.want(t, "t2", "t1")
	b.put(t, "t2", t0.Add(10*time.Minute)) // WeCom repeating the same push
	b.want(t, "t2", "t1")
	b.put(t, "t3", t0.Add(20*time.Minute))
	b.want(t, "t3", "t2")
}

// A late repeat of an older push never replaces a newer ticket.
func TestTicketLatePushDoesNotWin(t *testing.T) {
	t.Parallel()
	b := setupTickets(t)
	t0 := b.clock()
	b.put(t, "t1", t0)
	b.put(t, "t3", t0.Add(20*time.Minute))
	b.put(t, "t2", t0.Add(10*time.Minute)) // arrives last, pushed in between
	b.want(t, "t3", "t2")
	b.put(t, "t0", t0.Add(-time.Minute)) // older than both
	b.want(t, "t3", "t2")
}

// A ticket is valid for 30 minutes after its push; the key expires with the latest.
func TestTicketsExpire(t *testing.T) {
	t.Parallel()
	b := setupTickets(t)
	t0 := b.clock()
	b.put(t, "t1", t0)
	b.put(t, "t2", t0.Add(10*time.Minute))
	b.advance(25 * time.Minute)
	b.want(t, "t2", "t1")
	b.advance(6 * time.Minute) // t1 is 31 minutes old
	b.want(t, "t2", "")
	b.advance(10 * time.Minute) // t2 is 31 minutes old
	b.want(t, "", "")
	b.put(t, "fresh", b.clock())
	ttl, err := b.rdb.PTTL(b.ctx, kv.Key("crm", "suite_ticket:ww1")).Result()
	if err != nil || ttl <= 29*time.Minute || ttl > 30*time.Minute {
		t.Errorf("key TTL %v, %v; want 30m from the latest push", ttl, err)
	}
	b.want(t, "fresh", "")
	if err := b.store.PutTicket(b.ctx, "ww1", "stale", b.clock().Add(-31*time.Minute)); err != nil {
		t.Fatal(err)
	}
	b.want(t, "fresh", "")
}
