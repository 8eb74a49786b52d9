package ratelimit

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// AuditQuery is what [Limiter.Audit] reads.
type AuditQuery struct {
	// From and To bound the span audited (both included): arrivals whose slot
	// is in [From, To] count.
	From, To time.Time
	// Tenant restricts the audit to one tenant when OneTenant is set;
	// otherwise every tenant of the app is audited.
	Tenant    string
	OneTenant bool
	// LedgerTenant, when set, is the tenant ledger entries belong to (a
	// single-tenant app's one tenant): the ledgers then fill in the charges
	// whose arrival the windows trimmed, back to LedgerTTL. Nil: the ledgers
	// only say the state of the arrivals the windows hold (a ledger does not
	// name its tenant).
	LedgerTenant *string
}

// AuditReport is the result of [Limiter.Audit].
type AuditReport struct {
	App      string
	From, To time.Time
	// Now is Redis TIME when the audit read.
	Now time.Time
	// Windows are the app's per-recipient limits as configured (peaks are
	// counted in intervals of these lengths); Margin is what the admission
	// adds to each.
	Windows []Window
	Margin  time.Duration
	// Reach is the earliest instant from which the windows hold every
	// arrival: Now − (longest window + Margin). Older arrivals are trimmed
	// as the windows slide.
	Reach time.Time
	// LedgerReach is, when the ledgers were used to fill in (see
	// [AuditQuery.LedgerTenant]), the earliest instant from which they hold
	// every charge still standing except a failed attempt charged again:
	// Now − LedgerTTL. Zero otherwise.
	LedgerReach time.Time
	// Partial: From is before what the audit can see (Reach, or LedgerReach
	// when set), so peaks before that are lower bounds.
	Partial bool
	// Recipients audited, by tenant then recipient: those with an arrival in
	// [From, To].
	Recipients []RecipientAudit
}

// RecipientAudit is the use of one recipient's windows in an audit's span.
type RecipientAudit struct {
	Tenant, Recipient string
	// Arrivals is the number of charges with a slot in the span.
	Arrivals int
	// States counts those arrivals by their ledger state ("sent",
	// "sending", "failed", "admitted", "booked"; "unknown" for an arrival
	// whose ledger entry has expired or was overwritten by a later attempt).
	States map[string]int
	// Peaks has one entry per window of the policy.
	Peaks []WindowPeak
	// Reached: some window reached its count; Exceeded: some window held
	// more than its count (never, unless a charge bypassed the limiter).
	Reached, Exceeded bool
}

// WindowPeak is the peak use of one window.
type WindowPeak struct {
	Window Window
	// Peak is the most arrivals within any interval of the window's length
	// [x, x+Window) inside the span; At is the first arrival of the first
	// such interval (zero when Peak is 0).
	Peak int
	At   time.Time
}

// Reached reports whether the peak reached the window's count.
func (p WindowPeak) Reached() bool { return p.Peak >= p.Window.Count }

// Exceeded reports whether the peak went over the window's count.
func (p WindowPeak) Exceeded() bool { return p.Peak > p.Window.Count }

// Audit reads an app's windows (the arrival zsets) and ledgers and reports,
// per recipient, the peak use of each window in [q.From, q.To] and whether a
// limit was reached. The windows keep only what the admission still needs —
// arrivals younger than the longest window plus the margin — so an audit sees
// every arrival from [AuditReport.Reach] on; with q.LedgerTenant, the
// ledgers fill in older charges (see [AuditReport.LedgerReach]). The peak is
// counted over intervals of the window's own length (what the provider
// counts), not the window plus the margin the admission enforces.
//
// It scans the app's keys (SCAN, all in the app's one slot) and reads every
// arrival zset and ledger of the app: an operator's command, not for a hot
// path.
func (l *Limiter) Audit(ctx context.Context, app string, q AuditQuery) (*AuditReport, error) {
	c, err := l.policy(app)
	if err != nil {
		return nil, err
	}
	if q.To.Before(q.From) {
		return nil, fmt.Errorf("ratelimit: audit %s: to %s is before from %s", app, q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	if q.OneTenant && strings.ContainsAny(q.Tenant, "*?[]\\") {
		return nil, fmt.Errorf("ratelimit: audit %s: tenant %q: must not contain glob characters", app, q.Tenant)
	}
	now, err := l.rdb.Time(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: audit %s: TIME: %w", app, err)
	}
	if f := l.fixed.Load(); f != 0 { // the test clock, as the scripts read it
		now = time.UnixMilli(f)
	} else {
		now = now.Add(time.Duration(l.offset.Load()) * time.Millisecond)
	}
	rep := &AuditReport{App: app, From: q.From, To: q.To, Now: now, Windows: c.pol.Windows,
		Margin: time.Duration(c.margin) * time.Millisecond, Reach: now.Add(-time.Duration(c.lmax) * time.Millisecond)}
	see := rep.Reach
	if q.LedgerTenant != nil {
		rep.LedgerReach = now.Add(-c.pol.LedgerTTL)
		see = rep.LedgerReach
	}
	rep.Partial = q.From.Before(see)

	// The windows: every arrival zset of the app (or the tenant).
	type rkey struct{ tenant, rcpt string }
	type arrival struct {
		at    int64
		state string
	}
	arr := map[rkey]map[string]*arrival{} // member → arrival
	byMember := map[[2]string][]rkey{}    // (rcpt, member) → recipients holding it
	rprefix := l.tag(app) + "r:"
	pat := rprefix + "*"
	if q.OneTenant {
		pat = rprefix + q.Tenant + ":*"
	}
	zkeys, err := l.scan(ctx, pat)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: audit %s: %w", app, err)
	}
	for i := 0; i < len(zkeys); i += 200 {
		batch := zkeys[i:min(i+200, len(zkeys))]
		pipe := l.rdb.Pipeline()
		cmds := make([]*redis.ZSliceCmd, len(batch))
		for j, k := range batch {
			cmds[j] = pipe.ZRangeWithScores(ctx, k, 0, -1)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("ratelimit: audit %s: arrivals: %w", app, err)
		}
		for j, k := range batch {
			tenant, rcpt, ok := strings.Cut(strings.TrimPrefix(k, rprefix), ":")
			if !ok {
				continue
			}
			rk := rkey{tenant, rcpt}
			for _, z := range cmds[j].Val() {
				m := fmt.Sprint(z.Member)
				if arr[rk] == nil {
					arr[rk] = map[string]*arrival{}
				}
				arr[rk][m] = &arrival{at: int64(z.Score), state: "unknown"}
				byMember[[2]string{rcpt, m}] = append(byMember[[2]string{rcpt, m}], rk)
			}
		}
	}

	// The ledgers: the state of each arrival, and (LedgerTenant) the charges
	// the windows trimmed.
	lkeys, err := l.scan(ctx, l.tag(app)+"l:*")
	if err != nil {
		return nil, fmt.Errorf("ratelimit: audit %s: %w", app, err)
	}
	for i := 0; i < len(lkeys); i += 200 {
		batch := lkeys[i:min(i+200, len(lkeys))]
		pipe := l.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(batch))
		for j, k := range batch {
			cmds[j] = pipe.HGetAll(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("ratelimit: audit %s: ledgers: %w", app, err)
		}
		for j := range batch {
			for rcpt, v := range cmds[j].Val() {
				if rcpt == "" || rcpt == GroupRecipient {
					continue // a big ledger's header; the group's daily cost
				}
				e, err := parseEntry(v)
				if err != nil || e.State == StateSuperseded {
					continue // a superseded entry holds no charge
				}
				f := strings.Split(v, ",")
				member := f[1]
				holders := byMember[[2]string{rcpt, member}]
				for _, rk := range holders {
					arr[rk][member].state = e.State.String()
				}
				if len(holders) > 0 || q.LedgerTenant == nil {
					continue
				}
				rk := rkey{*q.LedgerTenant, rcpt}
				if q.OneTenant && rk.tenant != q.Tenant {
					continue
				}
				if arr[rk] == nil {
					arr[rk] = map[string]*arrival{}
				}
				arr[rk][member] = &arrival{at: e.At.UnixMilli(), state: e.State.String()}
			}
		}
	}

	from, to := q.From.UnixMilli(), q.To.UnixMilli()
	for rk, ms := range arr {
		ra := RecipientAudit{Tenant: rk.tenant, Recipient: rk.rcpt, States: map[string]int{}}
		var at []int64
		for _, a := range ms {
			if a.at >= from && a.at <= to {
				at = append(at, a.at)
				ra.States[a.state]++
			}
		}
		if len(at) == 0 {
			continue
		}
		sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
		ra.Arrivals = len(at)
		for _, w := range c.pol.Windows {
			p := peak(at, w)
			ra.Peaks = append(ra.Peaks, p)
			ra.Reached = ra.Reached || p.Reached()
			ra.Exceeded = ra.Exceeded || p.Exceeded()
		}
		rep.Recipients = append(rep.Recipients, ra)
	}
	sort.Slice(rep.Recipients, func(i, j int) bool {
		a, b := rep.Recipients[i], rep.Recipients[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		return a.Recipient < b.Recipient
	})
	return rep, nil
}

// peak returns the most of the sorted times at (ms) within any interval
// [x, x+w.Window).
func peak(at []int64, w Window) WindowPeak {
	p := WindowPeak{Window: w}
	win := w.Window.Milliseconds()
	lo := 0
	for hi := range at {
		for at[hi]-at[lo] >= win {
			lo++
		}
		if n := hi - lo + 1; n > p.Peak {
			p.Peak, p.At = n, time.UnixMilli(at[lo])
		}
	}
	return p
}

// scan returns the keys matching pat (on a cluster, of every master: an
// app's keys share one slot, so one master holds them).
func (l *Limiter) scan(ctx context.Context, pat string) ([]string, error) {
	var mu sync.Mutex
	seen := map[string]bool{}
	var out []string
	one := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, pat, 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			if k := it.Val(); !seen[k] { // SCAN may return a key twice
				seen[k] = true
				out = append(out, k)
			}
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := l.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return one(ctx, n) })
	} else {
		err = one(ctx, l.rdb)
	}
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", pat, err)
	}
	return out, nil
}
