package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// kvTickets is the TicketStore of one app on its shared state
// (providers.KV): one value per suite, key "suite_ticket:<suite id>", holding
// the latest ticket and the one before it with their push times.
type kvTickets struct {
	kv       providers.KV
	lifetime time.Duration
	now      func() time.Time
}

// NewTicketStore returns a TicketStore on kv. Tickets are valid for lifetime
// after their push (0: SuiteTicketLifetime); now is the clock (nil: time.Now).
func NewTicketStore(kv providers.KV, lifetime time.Duration, now func() time.Time) TicketStore {
	if lifetime <= 0 {
		lifetime = SuiteTicketLifetime
	}
	if now == nil {
		now = time.Now
	}
	return &kvTickets{kv: kv, lifetime: lifetime, now: now}
}

type ticketPair struct {
	Cur    string `json:"cur,omitempty"`
	CurAt  int64  `json:"cur_at,omitempty"` // unix ms
	Prev   string `json:"prev,omitempty"`
	PrevAt int64  `json:"prev_at,omitempty"`
}

func ticketKey(suiteID string) string { return "suite_ticket:" + suiteID }

// PutTicket records ticket pushed at at (zero: now). The latest push wins and
// the ticket it replaces is kept as the previous one; an older push (a late
// retry) only ever replaces an older previous one.
func (s *kvTickets) PutTicket(ctx context.Context, suiteID, ticket string, at time.Time) error {
	if suiteID == "" || ticket == "" {
		return errors.New("wecom: suite ticket: suite id and ticket are required")
	}
	if at.IsZero() {
		at = s.now()
	}
	ttl := at.Add(s.lifetime).Sub(s.now())
	if ttl <= 0 {
		return nil // expired before it arrived
	}
	ms := at.UnixMilli()
	err := s.kv.Update(ctx, ticketKey(suiteID), func(old []byte, found bool) ([]byte, time.Duration, bool) {
		var p ticketPair
		if found {
			_ = json.Unmarshal(old, &p) // an unreadable value is replaced
		}
		switch {
		case p.Cur == ticket:
			return nil, 0, false
		case p.Cur != "" && ms < p.CurAt:
			if ms <= p.PrevAt {
				return nil, 0, false
			}
			p.Prev, p.PrevAt = ticket, ms
			ttl = time.UnixMilli(p.CurAt).Add(s.lifetime).Sub(s.now())
			if ttl <= 0 {
				return nil, 0, false
			}
		default:
			if p.Cur != "" {
				p.Prev, p.PrevAt = p.Cur, p.CurAt
			}
			p.Cur, p.CurAt = ticket, ms
		}
		b, _ := json.Marshal(p)
		return b, ttl, true
	})
	if err != nil {
		return fmt.Errorf("wecom: store the ticket of suite %s: %w", suiteID, err)
	}
	return nil
}

// Tickets returns the latest valid ticket of suiteID and the previous one
// (each "" when none is valid).
func (s *kvTickets) Tickets(ctx context.Context, suiteID string) (latest, previous string, err error) {
	b, err := s.kv.Get(ctx, ticketKey(suiteID))
	if errors.Is(err, providers.ErrNotFound) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("wecom: read the tickets of suite %s: %w", suiteID, err)
	}
	var p ticketPair
	if err := json.Unmarshal(b, &p); err != nil {
		return "", "", fmt.Errorf("wecom: the stored tickets of suite %s: %w", suiteID, err)
	}
	now := s.now()
	valid := func(t string, ms int64) string {
		if t == "" || !now.Before(time.UnixMilli(ms).Add(s.lifetime)) {
			return ""
		}
		return t
	}
	return valid(p.Cur, p.CurAt), valid(p.Prev, p.PrevAt), nil
}
