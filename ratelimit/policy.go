package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is one per-recipient limit: at most Count messages in any interval of
// length Window (lengthened by [Policy.Margin] when enforced).
type Window struct {
	// Count is how many messages one recipient may receive within Window. > 0.
	Count int
	// Window is the length of the sliding window, a whole number of
	// milliseconds. > 0.
	Window time.Duration
}

// PeakRule describes the congested minutes that non-urgent work must avoid
// (docs/architecture.md step 3). The zero value turns peak avoidance off.
//
// A peak window is [mark−Guard, mark+Guard) around every minute mark of every
// hour. Asia/Shanghai is UTC+8 with no daylight saving, so its minute marks are
// the same instants as UTC's.
type PeakRule struct {
	// Minutes are the congested minute marks of each hour, 0–59; the usual
	// value is [0, 30]. Empty turns peak avoidance off.
	Minutes []int
	// Guard is how far each window reaches on either side of its mark, e.g.
	// 60s. Zero turns peak avoidance off. Less than 30m.
	Guard time.Duration
	// Spread is the span after a window over which slots moved out of it are
	// spread, e.g. 120s: a slot that falls inside a window moves to the
	// window's end plus an offset in [0, Spread) fixed per message (an FNV-1a
	// hash of its message id), so the moved work of many messages does not
	// pile up at the window's end. Zero moves every slot to the window's end.
	Spread time.Duration
}

func (p PeakRule) on() bool { return p.Guard > 0 && len(p.Minutes) > 0 }

// Policy is the quota of one app, enforced per tenant (docs/architecture.md). Build it
// from the app's config limits and the global peak config; zero fields get the
// defaults documented on them.
type Policy struct {
	// Windows are the per-(app, tenant, recipient) limits. Nil means
	// DefaultWindows (30 per 1m and 1000 per 1h, as WeCom enforces); an empty
	// list means no per-recipient limit (the daily cap still counts).
	Windows []Window
	// Margin lengthens every window, so that a request reaching the provider
	// within Margin of its admission never overflows a window at the provider
	// (G1); a charge not started within Margin/2 is moved (see
	// [Limiter.Readmit]). A whole number of milliseconds. Default 2s when zero;
	// a negative value means no margin.
	Margin time.Duration
	// UrgentHeadroom is the part of every window that only urgent requests may
	// use: a non-urgent request fits only where every window it falls in holds
	// fewer than Count−UrgentHeadroom arrivals. Default 0; less than every
	// Count.
	UrgentHeadroom int
	// Daily is the person-times cap per (app, tenant) per Asia/Shanghai
	// calendar day (WeCom: seats × 200). 0 means no cap, and then no daily
	// counter is kept. [Options.DailyCap] may override it per tenant.
	Daily int
	// Peak is the peak-minute rule non-urgent slots avoid. Default off.
	Peak PeakRule
	// LedgerTTL is how long a message's ledger is kept after its latest slot
	// (the ledger is what makes a re-run neither charge nor send twice, G2): at
	// least as long as a message may be re-run, i.e. its expiry. Default 48h.
	LedgerTTL time.Duration
}

// Defaults of [Policy].
const (
	DefaultMargin    = 2 * time.Second
	DefaultLedgerTTL = 48 * time.Hour
)

// DefaultWindows returns WeCom's per-member limits: 30 per minute and 1000 per
// hour (doc 90236).
func DefaultWindows() []Window {
	return []Window{{Count: 30, Window: time.Minute}, {Count: 1000, Window: time.Hour}}
}

// compiled is a validated Policy in the form the scripts take.
type compiled struct {
	pol       Policy
	windows   []string // count, window+margin (ms), … as script arguments
	nw        int
	lmax      int64 // longest window + margin, ms
	margin    int64 // ms
	moveAge   int64 // ms: a charge at least this old at Admit is moved (more than margin/2)
	headroom  int
	guard     int64  // ms, 0 = no peak rule
	spread    int64  // ms
	marks     string // "0,30"
	ledgerTTL int64  // ms

	// the same as script arguments, boxed once (a string put in an interface
	// allocates)
	moveAgeArg, headroomArg, guardArg, marksArg, ledgerTTLArg, nwArg, dailyArg any
	windowArgs                                                                 []any
}

func (p Policy) compile() (*compiled, error) {
	if p.Windows == nil { // nil: the default; empty: no per-recipient limit
		p.Windows = DefaultWindows()
	}
	switch {
	case p.Margin == 0:
		p.Margin = DefaultMargin
	case p.Margin < 0:
		p.Margin = 0
	}
	if p.LedgerTTL == 0 {
		p.LedgerTTL = DefaultLedgerTTL
	}
	var errs []error
	if p.Margin%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("margin %v: not a whole number of milliseconds", p.Margin))
	}
	if p.UrgentHeadroom < 0 {
		errs = append(errs, fmt.Errorf("urgent headroom %d: negative", p.UrgentHeadroom))
	}
	if p.Daily < 0 {
		errs = append(errs, fmt.Errorf("daily %d: negative", p.Daily))
	}
	if p.LedgerTTL < 0 {
		errs = append(errs, fmt.Errorf("ledger TTL %v: negative", p.LedgerTTL))
	}
	c := &compiled{
		pol:       p,
		nw:        len(p.Windows),
		margin:    p.Margin.Milliseconds(),
		headroom:  p.UrgentHeadroom,
		ledgerTTL: max(p.LedgerTTL.Milliseconds(), 1),
	}
	c.moveAge = c.margin/2 + 1
	for i, w := range p.Windows {
		switch {
		case w.Count <= 0:
			errs = append(errs, fmt.Errorf("windows[%d]: count %d: must be > 0", i, w.Count))
		case w.Window <= 0 || w.Window%time.Millisecond != 0:
			errs = append(errs, fmt.Errorf("windows[%d]: window %v: must be a positive whole number of milliseconds", i, w.Window))
		case p.UrgentHeadroom >= w.Count:
			errs = append(errs, fmt.Errorf("windows[%d]: urgent headroom %d leaves nothing of count %d to non-urgent requests", i, p.UrgentHeadroom, w.Count))
		}
		l := w.Window.Milliseconds() + c.margin
		c.lmax = max(c.lmax, l)
		c.windows = append(c.windows, strconv.Itoa(w.Count), strconv.FormatInt(l, 10))
	}
	if p.Peak.on() {
		pk := p.Peak
		if pk.Guard >= 30*time.Minute || pk.Guard%time.Millisecond != 0 {
			errs = append(errs, fmt.Errorf("peak guard %v: must be a whole number of milliseconds below 30m", pk.Guard))
		}
		if pk.Spread < 0 || pk.Spread%time.Millisecond != 0 {
			errs = append(errs, fmt.Errorf("peak spread %v: must be a whole number of milliseconds ≥ 0", pk.Spread))
		}
		marks := make([]string, 0, len(pk.Minutes))
		for _, m := range pk.Minutes {
			if m < 0 || m > 59 {
				errs = append(errs, fmt.Errorf("peak minute %d: not in 0–59", m))
			}
			marks = append(marks, strconv.Itoa(m))
		}
		c.guard, c.spread, c.marks = pk.Guard.Milliseconds(), pk.Spread.Milliseconds(), strings.Join(marks, ",")
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.moveAgeArg, c.headroomArg, c.guardArg = strconv.FormatInt(c.moveAge, 10), strconv.Itoa(c.headroom), strconv.FormatInt(c.guard, 10)
	c.marksArg, c.ledgerTTLArg, c.nwArg = c.marks, strconv.FormatInt(c.ledgerTTL, 10), strconv.Itoa(c.nw)
	c.dailyArg = strconv.Itoa(p.Daily)
	c.windowArgs = make([]any, len(c.windows))
	for i, w := range c.windows {
		c.windowArgs[i] = w
	}
	return c, nil
}
