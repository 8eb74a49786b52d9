package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Usage is what one recipient of an (app, tenant) has used of its quotas, as
// read by [Limiter.Usage]: a read-only view for status pages and the HTTP API.
type Usage struct {
	// Now is the instant of the reading (Redis TIME).
	Now time.Time `json:"now"`
	// Windows are the per-recipient limits in policy order.
	Windows []WindowUsage `json:"windows"`
	// DailyUsed and DailyCap are the (app, tenant)'s person-times of the
	// current Asia/Shanghai day and its cap (0: no cap).
	DailyUsed int `json:"daily_used"`
	DailyCap  int `json:"daily_cap"`
	// Booked are the recipient's slots later than Now (booked by quota).
	Booked []time.Time `json:"booked,omitempty"`
	// NextFree is the earliest instant at or after Now at which a non-urgent
	// message to the recipient fits every window (its headroom kept) and the
	// daily cap; NextFreeUrgent the same for an urgent one. Peak minutes
	// are not applied.
	NextFree       time.Time `json:"next_free"`
	NextFreeUrgent time.Time `json:"next_free_urgent"`
}

// WindowUsage is one window of a [Usage].
type WindowUsage struct {
	// Count and Window are the limit; Margin lengthens the window when enforced.
	Count  int           `json:"count"`
	Window time.Duration `json:"window"`
	Margin time.Duration `json:"margin"`
	// Used is how many slots fall in the enforced window ending at Now.
	Used int `json:"used"`
}

// Usage reads recipient's quota use in (app, tenant) and computes when its
// next slot is free. It writes nothing. Two round trips (TIME; arrivals and
// the daily counter pipelined).
func (l *Limiter) Usage(ctx context.Context, app, tenant, recipient string) (*Usage, error) {
	c, err := l.policy(app)
	if err != nil {
		return nil, err
	}
	if recipient == "" || recipient == GroupRecipient {
		return nil, fmt.Errorf("ratelimit: usage: invalid recipient %q", recipient)
	}
	now, err := l.now(ctx)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: usage of %s: %w", recipient, err)
	}
	pipe := l.rdb.Pipeline()
	zs := pipe.ZRangeWithScores(ctx, l.arrivalKey(app, tenant, recipient), 0, -1)
	day := pipe.Get(ctx, l.dailyPrefix(app, tenant)+now.In(shanghai).Format("20060102"))
	if _, err := pipe.Exec(ctx); err != nil && zs.Err() != nil {
		return nil, fmt.Errorf("ratelimit: usage of %s: %w", recipient, err)
	}
	arr := make([]int64, 0, len(zs.Val()))
	for _, z := range zs.Val() {
		arr = append(arr, int64(z.Score))
	}
	slices.Sort(arr)
	u := &Usage{Now: now, DailyCap: l.daily(c, app, tenant)}
	u.DailyUsed, _ = day.Int() // missing: 0
	nowMs := now.UnixMilli()
	for _, w := range c.pol.Windows {
		span := w.Window.Milliseconds() + c.margin
		wu := WindowUsage{Count: w.Count, Window: w.Window, Margin: time.Duration(c.margin) * time.Millisecond}
		for _, a := range arr {
			if a > nowMs-span && a <= nowMs {
				wu.Used++
			}
		}
		u.Windows = append(u.Windows, wu)
	}
	for _, a := range arr {
		if a > nowMs {
			u.Booked = append(u.Booked, time.UnixMilli(a))
		}
	}
	from := nowMs
	if u.DailyCap > 0 && u.DailyUsed >= u.DailyCap {
		from = nextShanghaiMidnight(now).UnixMilli()
	}
	u.NextFree = time.UnixMilli(nextFit(arr, c, from, c.headroom))
	u.NextFreeUrgent = time.UnixMilli(nextFit(arr, c, from, 0))
	return u, nil
}

// now is the limiter's clock: Redis TIME, or the tests' fixed time or offset.
func (l *Limiter) now(ctx context.Context) (time.Time, error) {
	if f := l.fixed.Load(); f != 0 {
		return time.UnixMilli(f), nil
	}
	t, err := l.rdb.Time(ctx).Result()
	if err != nil {
		return time.Time{}, err
	}
	return t.Add(time.Duration(l.offset.Load()) * time.Millisecond), nil
}

// nextFit is the earliest instant t ≥ from (Unix ms) at which one more slot
// fits every window of c among the slots arr (sorted), keeping headroom free:
// every interval of a window's enforced length that contains t holds fewer
// than Count−headroom slots.
func nextFit(arr []int64, c *compiled, from int64, headroom int) int64 {
	cands := []int64{from}
	for _, w := range c.pol.Windows {
		span := w.Window.Milliseconds() + c.margin
		for _, a := range arr {
			if a+span > from {
				cands = append(cands, a+span)
			}
		}
	}
	slices.Sort(cands)
	for _, t := range cands {
		if fitsAt(arr, c, t, headroom) {
			return t
		}
	}
	return cands[len(cands)-1] // unreachable: after the last slot's longest window everything fits
}

// fitsAt reports whether a slot at t fits every window of c among arr.
func fitsAt(arr []int64, c *compiled, t int64, headroom int) bool {
	for _, w := range c.pol.Windows {
		span := w.Window.Milliseconds() + c.margin
		limit := w.Count - headroom
		// The count of [s, s+span) changes only where s passes a slot or
		// s+span passes one: those starts, within (t−span, t], are enough.
		starts := []int64{t - span + 1}
		for _, a := range arr {
			if a > t-span && a <= t {
				starts = append(starts, a)
			}
			if a > t && a < t+span {
				starts = append(starts, a-span+1)
			}
		}
		for _, s := range starts {
			n := 0
			for _, a := range arr {
				if a >= s && a < s+span {
					n++
				}
			}
			if n+1 > limit {
				return false
			}
		}
	}
	return true
}

// nextShanghaiMidnight is the start of the Asia/Shanghai day after t's.
func nextShanghaiMidnight(t time.Time) time.Time {
	s := t.In(shanghai)
	return time.Date(s.Year(), s.Month(), s.Day()+1, 0, 0, 0, 0, shanghai)
}
