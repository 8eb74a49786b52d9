package producer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/quota"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// Reservation is the quota authority's answer to a sender outside msgdispatch.
type Reservation struct {
	// ID names the reservation for Release.
	ID string
	// Now are the recipients the sender may send to at once.
	Now []string
	// Slots are the recipients booked for later: send to each at its time.
	Slots map[string]time.Time
	// Late could get no slot before the reservation's horizon (the app's
	// message TTL): nothing was charged for them.
	Late []string
}

// Reserve charges or books recipients of app (tenant: the provider tenant,
// e.g. the corp id; "" for a self-built app's own) exactly as the worker's
// admission does — the same script, with a synthetic message id per
// reservation — so a sender outside msgdispatch that reserves before each
// provider call keeps the app's windows exact. at (zero: now) is the earliest
// time the sender means to send; urgent may use the urgent headroom and skips
// peak avoidance. Recipients are the provider's ids (normalised as the worker
// normalises them).
func (c *Client) Reserve(ctx context.Context, app, tenant string, recipients []string, at time.Time, urgent bool) (*Reservation, error) {
	l, err := c.limiter()
	if err != nil {
		return nil, err
	}
	a, ok := c.cfg.Apps[app]
	if !ok {
		return nil, fmt.Errorf("producer: reserve: app %q is not configured", app)
	}
	if a.Block != nil {
		tenant = a.Block.Company(tenant)
	}
	if strings.Contains(tenant, "~") {
		return nil, fmt.Errorf("producer: reserve: tenant %q: must not contain '~'", tenant)
	}
	keys := make([]string, len(recipients))
	orig := map[string]string{}
	for i, r := range recipients {
		keys[i] = r
		if a.Block != nil {
			keys[i] = a.Block.NormalizeRecipient(r)
		}
		orig[keys[i]] = r
	}
	now := c.now()
	id := job.NewID(app, now)
	d, err := l.Admit(ctx, ratelimit.Request{App: app, Tenant: tenant, MessageID: id, Recipients: keys, Urgent: urgent,
		NotBefore: at, NotAfter: now.Add(c.cfg.Worker.MessageTTL)})
	if err != nil {
		return nil, fmt.Errorf("producer: reserve: %w", err)
	}
	res := &Reservation{ID: id + "~" + tenant, Slots: map[string]time.Time{}}
	for _, k := range d.Admitted {
		res.Now = append(res.Now, orig[k])
	}
	for _, b := range d.Booked {
		res.Slots[orig[b.Recipient]] = b.At
	}
	for _, b := range d.Late {
		res.Late = append(res.Late, orig[b.Recipient])
	}
	held := map[string]time.Time{}
	for _, k := range d.Admitted {
		held[k] = d.Now
	}
	for _, b := range d.Booked {
		held[b.Recipient] = b.At
	}
	if err := l.IndexReservation(ctx, app, tenant, id, held); err != nil {
		return nil, fmt.Errorf("producer: reserve: %w (the reservation %s holds its charges)", err, res.ID)
	}
	return res, nil
}

// Held is one reservation of a recipient, as [Client.Reservations] lists it.
type Held struct {
	// ID names the reservation for Release.
	ID string
	// At is the slot reserved.
	At time.Time
	// State is the reservation's ledger state: "admitted" or "booked" while
	// unused ("sending", "sent", "failed" once a sender marked it so).
	State string
}

// Reservations lists the reservations of one recipient of app (tenant as
// for Reserve) that have not been released, oldest slot first.
func (c *Client) Reservations(ctx context.Context, app, tenant, recipient string) ([]Held, error) {
	l, err := c.limiter()
	if err != nil {
		return nil, err
	}
	a, ok := c.cfg.Apps[app]
	if !ok {
		return nil, fmt.Errorf("producer: reservations: app %q is not configured", app)
	}
	if a.Block != nil {
		tenant = a.Block.Company(tenant)
		recipient = a.Block.NormalizeRecipient(recipient)
	}
	hs, err := l.Reservations(ctx, app, tenant, recipient)
	if err != nil {
		return nil, fmt.Errorf("producer: reservations: %w", err)
	}
	out := make([]Held, len(hs))
	for i, h := range hs {
		out[i] = Held{ID: h.MessageID + "~" + tenant, At: h.At, State: h.State.String()}
	}
	return out, nil
}

// Release returns the charges of a reservation not used (the ledger's refund,
// MarkNotSent): every recipient still admitted or booked is refunded. It
// returns the recipients refunded.
func (c *Client) Release(ctx context.Context, app, reservationID string) ([]string, error) {
	l, err := c.limiter()
	if err != nil {
		return nil, err
	}
	id, tenant, ok := strings.Cut(reservationID, "~")
	if a, err := job.AppOf(id); !ok || err != nil || a != app {
		return nil, fmt.Errorf("producer: release: %q is not a reservation of app %q", reservationID, app)
	}
	led, err := l.Ledger(ctx, app, id)
	if err != nil {
		return nil, fmt.Errorf("producer: release: %w", err)
	}
	var rcpts []string
	for r := range led {
		rcpts = append(rcpts, r)
	}
	if len(rcpts) == 0 {
		return nil, nil
	}
	tr, err := l.MarkNotSent(ctx, ratelimit.Ref{App: app, Tenant: tenant, MessageID: id, Recipients: rcpts})
	if err != nil {
		return nil, fmt.Errorf("producer: release: %w", err)
	}
	if err := l.UnindexReservation(ctx, app, tenant, id, tr.Done); err != nil {
		return nil, fmt.Errorf("producer: release: %w", err)
	}
	return tr.Done, nil
}

// limiter builds, once, the quota limiter of every configured app (the
// worker's policies).
func (c *Client) limiter() (*ratelimit.Limiter, error) {
	c.quotaOnce.Do(func() {
		pol := map[string]ratelimit.Policy{}
		for name, a := range c.cfg.Apps {
			pol[name] = quota.Policy(a, c.cfg.Peak, c.cfg.Worker.MessageTTL)
		}
		c.quota, c.quotaErr = ratelimit.New(c.rdb, ratelimit.Options{Policies: pol})
	})
	if c.quotaErr != nil {
		return nil, fmt.Errorf("producer: quotas: %w", c.quotaErr)
	}
	return c.quota, nil
}
