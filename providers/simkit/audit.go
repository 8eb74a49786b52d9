package simkit

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Limit is a receipt-time limit: at most Count arrivals in any interval of
// length Window.
type Limit struct {
	Count  int
	Window time.Duration
}

// String renders the limit as "10/1s".
func (l Limit) String() string { return fmt.Sprintf("%d/%s", l.Count, l.Window) }

// Violation is one arrival over a limit of an [Audit].
type Violation struct {
	// App and Recipient are what the window counts.
	App       string
	Recipient string
	// At is the arrival's receipt time.
	At time.Time
	// Limit is the first limit the arrival exceeded; Count is how many
	// arrivals its Window ending at At held, this one included (> Limit.Count).
	Limit Limit
	Count int
	// Dropped says the arrival was dropped (the audit drops; see [NewAudit]).
	Dropped bool
}

// Peak is the most arrivals one (app, recipient) got within one limit's
// window, over the whole audit.
type Peak struct {
	Limit Limit
	// Count is the highest number of arrivals in any interval of length
	// Limit.Window ending at an arrival, that arrival included (dropped
	// arrivals too); it is > Limit.Count exactly when the limit was violated.
	Count int
	// App and Recipient are the first that reached Count.
	App       string
	Recipient string
}

// String renders the peak as "9/10 per 1s".
func (p Peak) String() string {
	return fmt.Sprintf("%d/%d per %s", p.Count, p.Limit.Count, p.Limit.Window)
}

// auditKey identifies one counted (app, recipient).
type auditKey struct{ app, recipient string }

// Audit is a receipt-time quota audit for a simulator: every arrival of a
// message at a recipient is counted per (app, recipient) in exact sliding
// windows, one per [Limit]; an arrival that would make a window hold more
// than its Count is a [Violation]. Simulators use it to model a provider
// that limits (or, with drop, silently drops) what it receives, so that a
// test can prove the dispatcher keeps the limits at the provider, after
// latency and retries. It is safe for concurrent use; a nil *Audit admits
// everything and records nothing.
type Audit struct {
	limits []Limit
	keep   time.Duration
	drop   bool

	mu         sync.Mutex
	times      map[auditKey][]time.Time // sorted receipt times within keep of the latest
	peaks      []Peak
	violations []Violation
}

// NewAudit returns an audit of limits. With drop, an arrival over a limit is
// dropped (not delivered, not counted in any window) — what a provider that
// silently discards over-limit messages does; without, it is delivered and
// counted, and only recorded. It returns nil, nil when limits is empty, and
// an error if a limit has Count or Window ≤ 0 (an audit that cannot fail
// would be worse than none).
func NewAudit(drop bool, limits ...Limit) (*Audit, error) {
	if len(limits) == 0 {
		return nil, nil
	}
	a := &Audit{limits: slices.Clone(limits), drop: drop, times: map[auditKey][]time.Time{}}
	for _, l := range limits {
		if l.Count <= 0 || l.Window <= 0 {
			return nil, fmt.Errorf("simkit: audit limit %s: count and window must be > 0", l)
		}
		a.keep = max(a.keep, l.Window)
		a.peaks = append(a.peaks, Peak{Limit: l})
	}
	return a, nil
}

// Arrive counts one arrival of app's message at recipient at receipt time
// at, and reports whether the recipient gets it: false only when it is over
// a limit and the audit drops.
func (a *Audit) Arrive(app, recipient string, at time.Time) bool {
	if a == nil {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := auditKey{app: app, recipient: recipient}
	ts := a.times[k]
	var over *Violation
	for i, l := range a.limits {
		from := at.Add(-l.Window)
		lo := sort.Search(len(ts), func(i int) bool { return ts[i].After(from) })
		hi := sort.Search(len(ts), func(i int) bool { return ts[i].After(at) })
		n := hi - lo + 1
		if n > a.peaks[i].Count {
			a.peaks[i].Count, a.peaks[i].App, a.peaks[i].Recipient = n, app, recipient
		}
		if n > l.Count && over == nil {
			over = &Violation{App: app, Recipient: recipient, At: at, Limit: l, Count: n, Dropped: a.drop}
		}
	}
	if over != nil {
		a.violations = append(a.violations, *over)
		if a.drop {
			return false
		}
	}
	i := sort.Search(len(ts), func(i int) bool { return ts[i].After(at) })
	ts = slices.Insert(ts, i, at)
	cut := ts[len(ts)-1].Add(-a.keep)
	j := sort.Search(len(ts), func(i int) bool { return ts[i].After(cut) })
	a.times[k] = slices.Delete(ts, 0, j)
	return true
}

// Violations returns every arrival over a limit, in arrival order.
func (a *Audit) Violations() []Violation {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.violations)
}

// Drops returns the violations that were dropped (all of them when the audit
// drops, none otherwise).
func (a *Audit) Drops() []Violation {
	var out []Violation
	for _, v := range a.Violations() {
		if v.Dropped {
			out = append(out, v)
		}
	}
	return out
}

// Peaks returns, per limit in the order given to [NewAudit], the most
// arrivals any (app, recipient) got within its window.
func (a *Audit) Peaks() []Peak {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.peaks)
}
