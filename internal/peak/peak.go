// Package peak knows the congested minutes of the hour. WeCom asks senders to
// avoid minutes :00 and :30, when most schedulers fire; non-urgent work due inside
// a peak window is moved to a uniformly random point of the spread span after it,
// so that it is neither sent in the crowd nor piled up at the window's end.
package peak

import (
	"math/rand/v2"
	"time"
)

// Rule describes the peak windows. A window reaches Guard on both sides of a
// marked minute: with Minutes [0, 30] and Guard 60s, 09:59:00–10:01:00 and
// 10:29:00–10:31:00 (start included, end excluded) — docs/architecture.md's "±60 s", the
// same windows the quota script keeps bookings out of (ratelimit.PeakRule).
type Rule struct {
	// Minutes are the marked minutes of each hour. Default [0, 30].
	Minutes []int
	// Guard widens each marked minute on both sides. Default 60s.
	Guard time.Duration
	// Spread is the span after a window over which deferred work is spread
	// uniformly. Default 120s.
	Spread time.Duration
}

// Default is the rule of docs/architecture.md: minutes :00 and :30, ±60 s, spread 120 s.
var Default = Rule{Minutes: []int{0, 30}, Guard: time.Minute, Spread: 2 * time.Minute}

// Window returns the peak window that contains t, if any.
func (r Rule) Window(t time.Time) (start, end time.Time, ok bool) {
	hour := t.Truncate(time.Hour)
	// A window can reach into the previous or the next hour.
	for _, h := range []time.Time{hour.Add(-time.Hour), hour, hour.Add(time.Hour)} {
		for _, m := range r.Minutes {
			mark := h.Add(time.Duration(m) * time.Minute)
			s, e := mark.Add(-r.Guard), mark.Add(r.Guard)
			if !t.Before(s) && t.Before(e) {
				return s, e, true
			}
		}
	}
	return time.Time{}, time.Time{}, false
}

// Defer returns when work due at t may run: t itself when t is outside every
// window, otherwise a uniformly random point of [end, end+Spread) after the
// window holding t (and after any window that point would fall into).
func (r Rule) Defer(t time.Time, rnd *rand.Rand) time.Time {
	for range 100 { // windows never chain this far with sane rules
		_, end, ok := r.Window(t)
		if !ok {
			return t
		}
		t = end
		if r.Spread > 0 {
			t = end.Add(time.Duration(randN(rnd, int64(r.Spread))))
		}
	}
	return t
}

func randN(rnd *rand.Rand, n int64) int64 {
	if rnd == nil {
		return rand.Int64N(n)
	}
	return rnd.Int64N(n)
}
