package wecomsim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Limit is a per-(app, member) limit: at most Count messages delivered in any
// interval of length Window.
type Limit struct {
	Count  int
	Window time.Duration
}

// String renders the limit as "30/1m0s".
func (l Limit) String() string { return fmt.Sprintf("%d/%s", l.Count, l.Window) }

// Drop reasons of [Drop.Reason].
const (
	// DropPerMember: delivering would exceed a per-member limit (Drop.Limit says which).
	DropPerMember = "per_member_limit"
	// DropDaily: the app's daily person-times cap (Options.DailyLimit) is spent.
	DropDaily = "daily_limit"
)

// userKey identifies a member as seen by one app.
type userKey struct {
	app  appKey
	user string
}

// window is the sorted receipt times of the messages delivered to one member by
// one app within the longest configured window: an exact sliding log.
type window struct {
	times []time.Time
}

// countIn returns how many deliveries fall in (now-d, now].
func (w *window) countIn(now time.Time, d time.Duration) int {
	from := now.Add(-d)
	lo := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(from) })
	hi := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(now) })
	return hi - lo
}

// admit reports whether one more delivery at now keeps every limit, i.e. whether
// every interval of length l.Window ending at now already holds fewer than
// l.Count deliveries. A delivery at t frees its slot at t+Window exactly. It
// returns the first limit that would be exceeded.
func (w *window) admit(now time.Time, limits []Limit) (bool, Limit) {
	for _, l := range limits {
		if w.countIn(now, l.Window) >= l.Count {
			return false, l
		}
	}
	return true, Limit{}
}

// add records a delivery at now and forgets those older than keep.
func (w *window) add(now time.Time, keep time.Duration) {
	i := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(now) })
	w.times = append(w.times, time.Time{})
	copy(w.times[i+1:], w.times[i:])
	w.times[i] = now
	cut := now.Add(-keep)
	j := sort.Search(len(w.times), func(i int) bool { return w.times[i].After(cut) })
	if j > 0 {
		w.times = append(w.times[:0], w.times[j:]...)
	}
}

// shanghai is Asia/Shanghai (UTC+8, no daylight saving), the zone of WeCom's
// "自然天".
var shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

// dailyCount is an app's delivered person-times on one Shanghai calendar day.
type dailyCount struct {
	day   string
	count int
}

// admitLocked decides whether the app may deliver to user at now, and if so
// charges the delivery; s.mu must be held. It returns the drop reason and the
// limit exceeded otherwise.
func (s *Sim) admitLocked(a *app, user string, now time.Time) (ok bool, reason string, broken Limit) {
	var w *window
	if len(s.limits) > 0 {
		k := userKey{app: a.key, user: user}
		w = s.windows[k]
		if w == nil {
			w = &window{}
			s.windows[k] = w
		}
		if ok, l := w.admit(now, s.limits); !ok {
			return false, DropPerMember, l
		}
	}
	var dc *dailyCount
	if s.opts.DailyLimit > 0 {
		day := now.In(shanghai).Format("2006-01-02")
		dc = s.daily[a.key]
		if dc == nil || dc.day != day {
			dc = &dailyCount{day: day}
			s.daily[a.key] = dc
		}
		if dc.count >= s.opts.DailyLimit {
			return false, DropDaily, Limit{}
		}
	}
	if w != nil {
		w.add(now, s.maxWindow)
	}
	if dc != nil {
		dc.count++
	}
	return true, "", Limit{}
}

// WindowCount returns how many messages the app delivered to user in the
// interval (now-d, now] of the simulator clock, as the per-member limits count
// them (only windows up to the longest configured limit are remembered).
func (s *Sim) WindowCount(corpID string, agentID int64, user string, d time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := userKey{app: appKey{corp: corpKey(corpID), agent: agentID}, user: strings.TrimSpace(user)}
	if c := s.corps[corpKey(corpID)]; c != nil {
		k.user = c.norm(user)
	}
	w := s.windows[k]
	if w == nil {
		return 0
	}
	return w.countIn(s.clock(), d)
}
