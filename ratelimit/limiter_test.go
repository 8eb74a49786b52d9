package ratelimit

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/devredis"
)

// step is one call of a scenario: an Admit (or Readmit, or a ledger
// transition) at base+at ms, and the expected outcome (see brief and briefT).
type step struct {
	at       int64 // clock, ms after base
	msg      string
	to       []string
	urgent   bool
	group    int
	gen      int
	notAfter int64  // ms after base; 0 = none
	call     string // "" Admit, "readmit", "sending", "sent", "failed", "release"
	want     string // "" = not checked
}

// run plays steps on a fresh Limiter with policy p and app app; it returns the
// limiter for further checks.
func (b *testBundle) run(t *testing.T, p Policy, app string, steps []step) *Limiter {
	t.Helper()
	l := b.limiter(p)
	for i, s := range steps {
		b.set(l, base.Add(time.Duration(s.at)*time.Millisecond))
		var got string
		switch s.call {
		case "", "readmit":
			r := Request{App: app, Tenant: "t", MessageID: s.msg, Recipients: s.to, Urgent: s.urgent, GroupCost: s.group, Generation: s.gen}
			if s.notAfter != 0 {
				r.NotAfter = base.Add(time.Duration(s.notAfter) * time.Millisecond)
			}
			f := l.Admit
			if s.call == "readmit" {
				f = l.Readmit
			}
			d, err := f(b.ctx, r)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if want := base.Add(time.Duration(s.at) * time.Millisecond); !d.Now.Equal(want) {
				t.Fatalf("step %d: Now = %v, want %v", i, d.Now, want)
			}
			got = brief(d)
		default:
			ref := Ref{App: app, Tenant: "t", MessageID: s.msg, Recipients: s.to}
			f := map[string]func(Ref) (*Transition, error){
				"sending": func(r Ref) (*Transition, error) { return l.MarkSending(b.ctx, r) },
				"sent":    func(r Ref) (*Transition, error) { return l.MarkSent(b.ctx, r) },
				"failed":  func(r Ref) (*Transition, error) { return l.MarkFailed(b.ctx, r) },
				"release": func(r Ref) (*Transition, error) { return l.Release(b.ctx, r) },
			}[s.call]
			tr, err := f(ref)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			got = briefT(tr)
		}
		if s.want != "" && got != s.want {
			t.Errorf("step %d (%s %s at +%dms): got %q, want %q", i, s.call, s.msg, s.at, got, s.want)
		}
	}
	return l
}

func u(ids ...string) []string { return ids }

func TestAdmitScenarios(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// hourly: a "minute" window of 2 per 1s and an "hour" window of 4 per 10s.
	hourly := Policy{Windows: []Window{{2, time.Second}, {4, 10 * time.Second}}, Margin: 200 * time.Millisecond}
	tests := []struct {
		desc   string
		pol    Policy
		steps  []step
		arrive []int64 // u1's arrivals at the end, ms after base
	}{
		{
			desc:   "fits now",
			pol:    plain,
			steps:  []step{{msg: "m1", to: u("u1", "u2"), want: "A:u1,u2"}},
			arrive: []int64{0},
		},
		{
			desc: "over the minute window: booked at the exact earliest slot, first come first served",
			pol:  plain,
			steps: []step{
				{at: 0, msg: "m1", to: u("u1"), want: "A:u1"},
				{at: 10, msg: "m2", to: u("u1"), want: "A:u1"},
				{at: 20, msg: "m3", to: u("u1"), want: "A:u1"},
				{at: 30, msg: "m4", to: u("u1"), want: "B:u1@1170/window"},   // 0 + 1000 + 200
				{at: 40, msg: "m5", to: u("u1"), want: "B:u1@1170/window"},   // 10 + 1200
				{at: 50, msg: "m6", to: u("u1"), want: "B:u1@1170/window"},   // 20 + 1200
				{at: 60, msg: "m7", to: u("u1"), want: "B:u1@2340/window"},   // 1200 + 1200
				{at: 1300, msg: "m8", to: u("u1"), want: "B:u1@1110/window"}, // behind the bookings: 1210 + 1200
			},
			arrive: []int64{1200, 1210, 1220, 2400, 2410}, // 0, 10, 20 left every window: trimmed
		},
		{
			desc: "over the hour window",
			pol:  hourly,
			steps: []step{
				{msg: "m1", to: u("u1"), want: "A:u1"},
				{msg: "m2", to: u("u1"), want: "A:u1"},
				{msg: "m3", to: u("u1"), want: "B:u1@1200/window"},
				{msg: "m4", to: u("u1"), want: "B:u1@1200/window"},
				{msg: "m5", to: u("u1"), want: "B:u1@10200/window"}, // the 4-per-10.2s window
			},
			arrive: []int64{0, 0, 1200, 1200, 10200},
		},
		{
			desc: "urgent headroom: non-urgent blocked while urgent passes",
			pol:  scaled,
			steps: []step{
				{msg: "m1", to: u("u1"), want: "A:u1"},
				{msg: "m2", to: u("u1"), want: "A:u1"},
				{msg: "m3", to: u("u1"), want: "B:u1@1200/window"}, // 3 − 1 headroom = 2 per window
				{msg: "x1", to: u("u1"), urgent: true, want: "A:u1"},
				{msg: "x2", to: u("u1"), urgent: true, want: "B:u1@1200/window"}, // full 3 per window
				{msg: "m4", to: u("u1"), want: "B:u1@2400/window"},
			},
			arrive: []int64{0, 0, 0, 1200, 1200, 2400},
		},
		{
			desc: "an urgent charge never breaks a window holding future bookings",
			pol:  scaled,
			steps: []step{
				{msg: "m1", to: u("u1"), want: "A:u1"},
				{msg: "m2", to: u("u1"), want: "A:u1"},
				{msg: "m3", to: u("u1"), want: "B:u1@1200/window"},
				{msg: "m4", to: u("u1"), want: "B:u1@1200/window"},
				// [0,1200) holds 0,0; [1,1201) holds 1200,1200: room for one urgent.
				{at: 600, msg: "x1", to: u("u1"), urgent: true, want: "A:u1"},
				// now [1,1201) would hold 600,1200,1200 plus this one: the
				// earliest gap is 1800 (600 leaves the window), not now.
				{at: 600, msg: "x2", to: u("u1"), urgent: true, want: "B:u1@1200/window"},
			},
			arrive: []int64{0, 0, 600, 1200, 1200, 1800},
		},
		{
			desc: "urgent with future bookings: the last millisecond of a full window is not a gap",
			pol:  plain,
			steps: []step{
				{msg: "m1", to: u("u1")}, {msg: "m2", to: u("u1")}, {msg: "m3", to: u("u1")},
				{msg: "m4", to: u("u1"), want: "B:u1@1200/window"},
				{at: 1199, msg: "x1", to: u("u1"), urgent: true, want: "B:u1@1/window"}, // [0,1200) holds 0,0,0
			},
			arrive: []int64{0, 0, 0, 1200, 1200},
		},
		{
			desc: "urgent takes a gap before later non-urgent bookings",
			pol:  scaled,
			steps: []step{
				{msg: "m1", to: u("u1"), want: "A:u1"},
				{msg: "m2", to: u("u1"), want: "A:u1"},
				{msg: "m3", to: u("u1"), want: "B:u1@1200/window"},
				{msg: "m4", to: u("u1"), want: "B:u1@1200/window"},
				{msg: "m5", to: u("u1"), want: "B:u1@2400/window"},
				{msg: "x1", to: u("u1"), urgent: true, want: "A:u1"},
				{msg: "x2", to: u("u1"), urgent: true, want: "B:u1@1200/window"},
				// 0,0,0 | 1200,1200,1200 | 2400: the next urgent gap is 2400 with
				// room for two (3 per window), not after every booking.
				{msg: "x3", to: u("u1"), urgent: true, want: "B:u1@2400/window"},
			},
			arrive: []int64{0, 0, 0, 1200, 1200, 1200, 2400, 2400},
		},
		{
			desc: "re-run: the recorded decision, no new charge; generation kept",
			pol:  plain,
			steps: []step{
				{msg: "m1", to: u("u1", "u2"), gen: 0, want: "A:u1,u2"},
				{at: 50, msg: "m1", to: u("u1", "u2"), gen: 0, want: "A:u1,u2 R:u1,u2"},
				{at: 60, msg: "m2", to: u("u1")},
				{at: 60, msg: "m3", to: u("u1")},
				{at: 70, msg: "m4", to: u("u1"), gen: 2, want: "B:u1@1130/window#2"},
				{at: 80, msg: "m4", to: u("u1"), gen: 5, want: "B:u1@1120/window#2 R:u1"},
			},
			arrive: []int64{0, 60, 60, 1200},
		},
		{
			desc: "re-run within margin/2 is the same admission; after it the charge moves (not doubled)",
			pol:  plain, // margin 200ms: margin/2 = 100ms
			steps: []step{
				{msg: "m1", to: u("u1"), want: "A:u1"},
				{at: 100, msg: "m1", to: u("u1"), want: "A:u1 R:u1"},
				{at: 101, msg: "m1", to: u("u1"), want: "A:u1 M:u1"},
				{at: 150, msg: "m1", to: u("u1"), want: "A:u1 R:u1"},
			},
			arrive: []int64{101},
		},
		{
			desc: "a follow-up finds its booking admitted once the slot has come",
			pol:  plain,
			steps: []step{
				{msg: "m1", to: u("u1")}, {msg: "m2", to: u("u1")}, {msg: "m3", to: u("u1")},
				{msg: "m4", to: u("u1", "u2"), want: "A:u2 B:u1@1200/window"},
				{at: 1199, msg: "m4", to: u("u1"), gen: 1, want: "B:u1@1/window R:u1"},
				{at: 1199, msg: "m4", to: u("u1"), call: "sending", want: "u1:before its slot(booked)"},
				{at: 1250, msg: "m4", to: u("u1"), gen: 1, want: "A:u1 R:u1"},
				{at: 1300, msg: "m4", to: u("u1"), call: "sending", want: "ok:u1"}, // margin/2 after the slot: in time
				{at: 1301, msg: "m4", to: u("u1"), gen: 1, want: "S:u1@-101 R:u1"},
				{at: 1301, msg: "m4", to: u("u1"), call: "sent", want: "ok:u1"},
				{at: 9000, msg: "m4", to: u("u1", "u2"), gen: 1, want: "A:u2 D:u1 R:u1 M:u2"},
			},
			arrive: []int64{0, 0, 0, 1200},
		},
		{
			desc: "a follow-up that starts late is moved",
			pol:  plain,
			steps: []step{
				{msg: "m1", to: u("u1")}, {msg: "m2", to: u("u1")}, {msg: "m3", to: u("u1")},
				{msg: "m4", to: u("u1"), want: "B:u1@1200/window"},
				{at: 1301, msg: "m4", to: u("u1"), call: "sending", want: "u1:stale: readmit(booked)"}, // 1ms too late
				{at: 1400, msg: "m4", to: u("u1"), call: "readmit", gen: 1, want: "A:u1 M:u1"},
				{at: 1400, msg: "m4", to: u("u1"), call: "sending", want: "ok:u1"},
			},
			arrive: []int64{0, 0, 0, 1400},
		},
		{
			desc: "readmit of a fresh charge moves it to now; future bookings stay",
			pol:  plain,
			steps: []step{
				{msg: "m1", to: u("u1", "u2")}, {msg: "m2", to: u("u1")}, {msg: "m3", to: u("u1")},
				{msg: "m4", to: u("u1")},
				{at: 50, msg: "m1", to: u("u1", "u2"), call: "readmit", want: "A:u1,u2 M:u1,u2"},
				{at: 50, msg: "m4", to: u("u1"), call: "readmit", want: "B:u1@1150/window R:u1"},
			},
			arrive: []int64{0, 0, 50, 1200},
		},
		{
			desc: "sending is never re-charged nor re-sent; failed is charged anew",
			pol:  plain,
			steps: []step{
				{msg: "m1", to: u("u1")},
				{msg: "m1", to: u("u1"), call: "sending", want: "ok:u1"},
				{msg: "m1", to: u("u1"), call: "sending", want: "u1:not allowed in this state(sending)"},
				{at: 5000, msg: "m1", to: u("u1"), want: "S:u1@-5000 R:u1"},
				{at: 5000, msg: "m1", to: u("u1"), call: "release", want: "u1:not allowed in this state(sending)"},
				{at: 5000, msg: "m1", to: u("u1"), call: "failed", want: "ok:u1"},
				{at: 5000, msg: "m1", to: u("u1"), want: "A:u1"},
				{at: 5000, msg: "m1", to: u("u1"), call: "sent", want: "ok:u1"},
				{at: 5000, msg: "m1", to: u("u1"), call: "failed", want: "u1:not allowed in this state(sent)"},
			},
			arrive: []int64{0, 5000},
		},
		{
			desc: "release drops the charge: the next request takes its place",
			pol:  plain,
			steps: []step{
				{msg: "m1", to: u("u1")}, {msg: "m2", to: u("u1")}, {msg: "m3", to: u("u1")},
				{msg: "m4", to: u("u1"), want: "B:u1@1200/window"},
				{msg: "m2", to: u("u1", "u9"), call: "release", want: "ok:u1 u9:not found(none)"},
				{msg: "m4", to: u("u1"), call: "release", want: "ok:u1"},
				{msg: "m5", to: u("u1"), want: "A:u1"},
				{msg: "m2", to: u("u1"), want: "B:u1@1200/window"},
			},
			arrive: []int64{0, 0, 0, 1200},
		},
		{
			desc: "not after: a slot past the message's expiry is not booked",
			pol:  plain,
			steps: []step{
				{msg: "m1", to: u("u1")}, {msg: "m2", to: u("u1")}, {msg: "m3", to: u("u1")},
				{msg: "m4", to: u("u1", "u2"), notAfter: 1199, want: "A:u2 L:u1@1200/window"},
				{msg: "m5", to: u("u1"), notAfter: 1200, want: "B:u1@1200/window"},
				{at: 10, msg: "m6", to: u("u7"), notAfter: 9, want: "L:u7@0"}, // expired already: not even now
			},
			arrive: []int64{0, 0, 0, 1200},
		},
	}
	for i, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			app := fmt.Sprintf("app%d", i)
			l := b.run(t, tc.pol, app, tc.steps)
			if got := b.arrivals(l, app, "t", "u1"); tc.arrive != nil && !slices.Equal(got, tc.arrive) {
				t.Errorf("u1's arrivals = %v, want %v", got, tc.arrive)
			}
		})
	}
}

// On the real clock the caller's guess of today is right, so single
// recipients take the fast path: it charges the day, gives a charge back when
// the day is full or the recipient is already in the ledger, and leaves
// those to the general path.
func TestDailyCapFastPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	capped := plain
	capped.Daily = 2
	l := b.limiter(capped)
	l.fixed.Store(0) // Redis TIME
	var ds []*Decision
	for _, m := range []string{"m1", "m1", "m2", "m3"} { // m1 again while the day has room
		ds = append(ds, b.admit(l, Request{App: "a", Tenant: "t", MessageID: m, Recipients: u("u" + m[1:])}))
	}
	now := ds[0].Now
	if !slices.Equal(ds[0].Admitted, u("u1")) || !slices.Equal(ds[2].Admitted, u("u2")) {
		t.Errorf("m1: %s, m2: %s; want both admitted", brief(ds[0]), brief(ds[2]))
	}
	if !slices.Equal(ds[1].Repeated, u("u1")) {
		t.Errorf("m1 again: %s; want its ledger decision repeated", brief(ds[1]))
	}
	if len(ds[3].Booked) != 1 || ds[3].Booked[0].Why != ReasonDaily || ds[3].Booked[0].At.In(shanghai).Format("1504") != "0000" {
		t.Errorf("m3: %s; want booked at the next day's start for the daily cap", brief(ds[3]))
	}
	// m3's booking is tomorrow's; today holds m1 and m2 only, m1 once.
	if got := b.dailyUsed(l, "a", "t", now); got != 2 {
		t.Errorf("today's count %d, want 2", got)
	}
	key := l.dailyPrefix("a", "t") + now.In(shanghai).Format("20060102")
	if ttl := b.rdb.PTTL(b.ctx, key).Val(); ttl <= 24*time.Hour || ttl > 48*time.Hour {
		t.Errorf("PTTL %s = %v, want the end of tomorrow (24–48h)", key, ttl)
	}
}

func TestDailyCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	capped := plain
	capped.Daily = 3
	peaky := capped
	peaky.Peak = PeakRule{Minutes: []int{0, 30}, Guard: time.Minute}
	// the next Asia/Shanghai day starts 13h45m after base (10:15)
	next := time.Date(2026, 3, 11, 0, 0, 0, 0, shanghai).Sub(base).Milliseconds()
	tests := []struct {
		desc  string
		pol   Policy
		steps []step
		today int // person-times charged today at the end
	}{
		{
			desc: "cap spent: booked at the next day's start",
			pol:  capped,
			steps: []step{
				{msg: "m1", to: u("u1", "u2", "u3"), want: "A:u1,u2,u3"},
				{msg: "m2", to: u("u4", "u1"), want: fmt.Sprintf("B:u4@%d/daily,u1@%d/daily", next, next)},
				{at: 5000, msg: "m2", to: u("u4", "u1"), want: fmt.Sprintf("B:u4@%d/daily,u1@%d/daily R:u4,u1", next-5000, next-5000)},
			},
			today: 3,
		},
		{
			desc: "the next day's start is a peak mark: moved past its window",
			pol:  peaky,
			steps: []step{
				{msg: "m1", to: u("u1", "u2", "u3")},
				{msg: "m2", to: u("u4"), want: fmt.Sprintf("B:u4@%d/daily+peak", next+60_000)},
				{msg: "x2", to: u("u5"), urgent: true, want: fmt.Sprintf("B:u5@%d/daily", next)},
			},
			today: 3,
		},
		{
			desc: "group cost counts against the cap only, once per message",
			pol:  capped,
			steps: []step{
				{msg: "m1", to: u("u1"), want: "A:u1"},
				{msg: "g1", group: 2, want: "A:*"},
				{msg: "g1", group: 2, want: "A:* R:*"},
				{msg: "g2", to: u("u2"), group: 1, want: fmt.Sprintf("B:u2@%d/daily,*@%d/daily", next, next)},
				{msg: "g3", group: 4, want: "L:*@0/no-slot"}, // larger than the cap: never fits
				{msg: "g1", to: u(GroupRecipient), call: "release", want: "ok:*"},
				{msg: "g4", to: u("u3", "u4"), want: "A:u3,u4"},
			},
			today: 3,
		},
		{
			desc: "a late recipient is not charged against the cap",
			pol:  capped,
			steps: []step{
				{msg: "m1", to: u("u1", "u2")},
				{msg: "m2", to: u("u3", "u4"), notAfter: 3_600_000, want: fmt.Sprintf("A:u3 L:u4@%d/daily", next)},
				{msg: "m1", to: u("u1"), call: "release", want: "ok:u1"},
				{msg: "m3", to: u("u5"), want: "A:u5"},
			},
			today: 3,
		},
	}
	for i, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			app := fmt.Sprintf("app%d", i)
			l := b.run(t, tc.pol, app, tc.steps)
			if got := b.dailyUsed(l, app, "t", base); got != tc.today {
				t.Errorf("daily used today = %d, want %d", got, tc.today)
			}
		})
	}
}

func TestPeakWindowsAvoided(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pol := Policy{
		Windows: []Window{{1, 90 * time.Second}},
		Margin:  -1, // none: slots are whole seconds apart
		Peak:    PeakRule{Minutes: []int{0, 30}, Guard: time.Minute, Spread: 2 * time.Minute},
	}
	spread := func(msg string) time.Duration { // independent of the package's own hashing
		h := fnv.New64a()
		h.Write([]byte(msg))
		return time.Duration(h.Sum64()%120_000) * time.Millisecond
	}
	at := func(hh, mm, ss int) time.Time { return time.Date(2026, 3, 10, hh, mm, ss, 0, shanghai) }
	tests := []struct {
		desc   string
		now    time.Time
		msg    string
		urgent bool
		want   time.Time // the slot; equal to now when admitted now
		why    Reason
	}{
		{desc: "inside a window: moved to its end plus the message's spread", now: at(10, 29, 30), msg: "m1", want: at(10, 31, 0), why: ReasonPeak},
		{desc: "urgent ignores the window", now: at(10, 29, 30), msg: "m2", urgent: true, want: at(10, 29, 30)},
		{desc: "the window's first instant is in it", now: at(10, 29, 0), msg: "m3", want: at(10, 31, 0), why: ReasonPeak},
		{desc: "the instant before is not", now: at(10, 28, 59).Add(999 * time.Millisecond), msg: "m4", want: at(10, 28, 59).Add(999 * time.Millisecond)},
		{desc: "the window's end is not in it", now: at(10, 31, 0), msg: "m5", want: at(10, 31, 0)},
		{desc: "a window across the hour", now: at(10, 59, 30), msg: "m6", want: at(11, 1, 0), why: ReasonPeak},
	}
	for i, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			l := b.limiter(pol)
			b.set(l, tc.now)
			d := b.admit(l, Request{App: fmt.Sprintf("app%d", i), Tenant: "t", MessageID: tc.msg, Recipients: u("u1"), Urgent: tc.urgent})
			if d.Spread != spread(tc.msg) {
				t.Errorf("Spread = %v, want %v", d.Spread, spread(tc.msg))
			}
			want := tc.want
			if tc.why&ReasonPeak != 0 {
				want = want.Add(spread(tc.msg))
			}
			switch {
			case want.Equal(tc.now):
				if !slices.Equal(d.Admitted, u("u1")) {
					t.Errorf("got %s, want admitted now", brief(d))
				}
			case len(d.Booked) != 1 || !d.Booked[0].At.Equal(want) || d.Booked[0].Why != tc.why:
				t.Errorf("got %s, want booked at %v (%s)", brief(d), want, tc.why)
			}
		})
	}

	t.Run("a window-delayed slot that falls in a window moves past it", func(t *testing.T) {
		t.Parallel()
		l := b.limiter(pol)
		app := "chain"
		b.set(l, at(10, 27, 0))
		b.admit(l, Request{App: app, Tenant: "t", MessageID: "c1", Recipients: u("u1")})
		b.set(l, at(10, 27, 10))
		d := b.admit(l, Request{App: app, Tenant: "t", MessageID: "c2", Recipients: u("u1")})
		if got := brief(d); got != "B:u1@80000/window" { // 10:28:30
			t.Errorf("c2: %s", got)
		}
		d = b.admit(l, Request{App: app, Tenant: "t", MessageID: "c3", Recipients: u("u1")})
		want := at(10, 31, 0).Add(spread("c3")) // 10:30:00 is in the window
		if len(d.Booked) != 1 || !d.Booked[0].At.Equal(want) || d.Booked[0].Why != ReasonWindow|ReasonPeak {
			t.Errorf("c3: %s, want booked at %v (window+peak)", brief(d), want)
		}
	})

	t.Run("a message after a booking is queued behind it, though the windows have room", func(t *testing.T) {
		t.Parallel()
		roomy := pol
		roomy.Windows = []Window{{5, 90 * time.Second}}
		l := b.limiter(roomy)
		app := "order"
		b.set(l, at(10, 29, 30))
		d := b.admit(l, Request{App: app, Tenant: "t", MessageID: "q1", Recipients: u("u1")})
		booked := at(10, 31, 0).Add(spread("q1"))
		if len(d.Booked) != 1 || !d.Booked[0].At.Equal(booked) {
			t.Fatalf("q1: %s, want booked at %v", brief(d), booked)
		}
		b.set(l, at(10, 31, 0)) // out of the peak window, before q1's slot
		d = b.admit(l, Request{App: app, Tenant: "t", MessageID: "q2", Recipients: u("u1")})
		if len(d.Booked) != 1 || !d.Booked[0].At.Equal(booked) || d.Booked[0].Why != ReasonWindow {
			t.Errorf("q2: %s, want booked behind q1 at %v (window)", brief(d), booked)
		}
	})
}

// TestRerunConcurrent: many runs of one message at once charge each
// recipient exactly once.
func TestRerunConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain)
	rcpts := names("u", 20)
	var wg sync.WaitGroup
	ds := make([]*Decision, 8)
	for i := range ds {
		wg.Go(func() {
			d, err := l.Admit(b.ctx, Request{App: "a", Tenant: "t", MessageID: "m1", Recipients: rcpts})
			if err != nil {
				t.Error(err)
				return
			}
			ds[i] = d
		})
	}
	wg.Wait()
	charged := map[string]int{}
	for _, d := range ds {
		if d == nil {
			t.FailNow()
		}
		if !slices.Equal(d.Admitted, rcpts) {
			t.Errorf("admitted %v", d.Admitted)
		}
		rep := map[string]bool{}
		for _, r := range d.Repeated {
			rep[r] = true
		}
		for _, r := range rcpts {
			if !rep[r] {
				charged[r]++
			}
		}
	}
	for _, r := range rcpts {
		if charged[r] != 1 {
			t.Errorf("%s charged by %d runs, want 1", r, charged[r])
		}
		if got := b.arrivals(l, "a", "t", r); len(got) != 1 {
			t.Errorf("%s has arrivals %v, want one", r, got)
		}
	}
}

func TestKeysExpire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pol := Policy{Windows: DefaultWindows(), Daily: 100, LedgerTTL: 24 * time.Hour} // margin 2s
	l := b.limiter(pol)
	before := time.Now() // every TTL below was set after this
	for i := range 30 {
		b.admit(l, Request{App: "a", Tenant: "t", MessageID: fmt.Sprint("m", i), Recipients: u("u1")})
	}
	d := b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m30", Recipients: u("u1")})
	if len(d.Booked) != 1 || d.Booked[0].At.Sub(base) != 62*time.Second {
		t.Fatalf("m30: %s, want booked at +62s", brief(d))
	}
	endOfTomorrow := time.Date(2026, 3, 12, 0, 0, 0, 0, shanghai).Sub(base)
	tests := []struct {
		desc string
		key  string
		want time.Duration // the TTL set; the server's countdown may have run a little
	}{
		{"arrivals: latest slot + longest window + margin", l.arrivalKey("a", "t", "u1"), 62*time.Second + time.Hour + 2*time.Second},
		{"daily counter: until the end of the following day", l.dailyPrefix("a", "t") + "20260310", endOfTomorrow},
		{"ledger: latest slot + ledger TTL", l.ledgerKey("a", "m30"), 62*time.Second + 24*time.Hour},
		{"ledger of a message admitted now", l.ledgerKey("a", "m0"), 24 * time.Hour},
		{"the app's clock: never", l.clockKey("a"), -1},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := b.rdb.PTTL(b.ctx, tc.key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if tc.want < 0 {
				if got != -1*time.Millisecond && got != -1 {
					t.Errorf("PTTL %s = %v, want none", tc.key, got)
				}
				return
			}
			// the server counts down in real time from the call that set it
			// (the embedded Redis in whole ticks: up to one tick ahead)
			ran := time.Since(before) + time.Millisecond
			if !b.srv.Real() {
				ran += devredis.TickInterval
			}
			if got > tc.want || got < tc.want-ran {
				t.Errorf("PTTL %s = %v, want %v less at most %v", tc.key, got, tc.want, ran)
			}
		})
	}
}

func TestChunking(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pol := plain
	pol.Daily = 400
	l := b.limiter(pol)
	rcpts := names("u", 600)
	before := b.rt.n.Load()
	d := b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m1", Recipients: append(rcpts, "u0", "u1"), GroupCost: 5})
	if trips := b.rt.n.Load() - before; trips != 1 {
		t.Errorf("%d round trips, want 1", trips)
	}
	if d.Calls != 3 {
		t.Errorf("Calls = %d, want 3", d.Calls)
	}
	// First come first served across chunks, in order; the group is charged
	// with the first chunk, after its recipients: 250 + 5 + 145 fit today.
	want := slices.Concat(rcpts[:250], u(GroupRecipient), rcpts[250:395])
	if !slices.Equal(d.Admitted, want) {
		t.Errorf("admitted %d: %v…", len(d.Admitted), d.Admitted[:min(3, len(d.Admitted))])
	}
	if len(d.Booked) != 205 || d.Booked[0].Recipient != "u395" {
		t.Errorf("booked %d", len(d.Booked))
	}
	next := time.Date(2026, 3, 11, 0, 0, 0, 0, shanghai)
	for _, bk := range d.Booked {
		if !bk.At.Equal(next) || bk.Why != ReasonDaily {
			t.Fatalf("booked %+v, want at %v (daily)", bk, next)
		}
	}
	if got := b.dailyUsed(l, "a", "t", base); got != 400 {
		t.Errorf("today %d, want 400", got)
	}
	if got := b.dailyUsed(l, "a", "t", next); got != 205 {
		t.Errorf("tomorrow %d, want 205", got)
	}
	led, err := l.Ledger(b.ctx, "a", "m1")
	if err != nil || len(led) != 601 {
		t.Fatalf("ledger has %d entries (%v), want 601", len(led), err)
	}
	b.set(l, base.Add(50*time.Millisecond))
	d = b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m1", Recipients: rcpts, GroupCost: 5})
	if len(d.Repeated) != 601 || len(d.Admitted) != 396 || len(d.Booked) != 205 {
		t.Errorf("re-run: %d repeated, %d admitted, %d booked", len(d.Repeated), len(d.Admitted), len(d.Booked))
	}
	tr, err := l.MarkSending(b.ctx, Ref{App: "a", Tenant: "t", MessageID: "m1", Recipients: rcpts[:395]})
	if err != nil || len(tr.Done) != 395 {
		t.Fatalf("MarkSending: %v, %d done", err, len(tr.Done))
	}
}

// A test clock set back keeps the stamps strictly increasing (the property
// test orders calls by them); production reads Redis TIME only.
func TestTestClockNeverRunsBackwards(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain)
	b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m1", Recipients: u("u1")})
	b.set(l, base.Add(-time.Hour))
	d := b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m2", Recipients: u("u1")})
	if want := base.UnixMicro() + 1; !d.Now.Equal(base) || d.Op != want {
		t.Errorf("Now = %v stamp %d, want %v stamp %d", d.Now, d.Op, base, want)
	}
	l.fixed.Store(0) // the real Redis clock (2026-11 or later: after base)
	d = b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m3", Recipients: u("u2")})
	if d.Now.Before(base) {
		t.Errorf("Now = %v, before base %v", d.Now, base)
	}
}

// A stamp the recipient's zset already holds as a member (a Redis clock
// stepped back) does not overwrite that arrival: the new charge gets a member
// of its own.
func TestRepeatedStampKeepsBothArrivals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain)
	key := l.arrivalKey("a", "t", "u1")
	// The first call of app "a" at the fixed clock base has stamp base in µs:
	// put an older arrival (outside the window) under that member.
	stamp := strconv.FormatInt(base.UnixMicro(), 10)
	if err := b.rdb.ZAdd(b.ctx, key, redis.Z{Score: float64(base.Add(-10 * time.Second).UnixMilli()), Member: stamp}).Err(); err != nil {
		t.Fatal(err)
	}
	d := b.admit(l, Request{App: "a", Tenant: "t", MessageID: "m1", Recipients: u("u1")})
	if d.Op != base.UnixMicro() || !slices.Equal(d.Admitted, u("u1")) {
		t.Fatalf("stamp %d, decision %s; want stamp %d and u1 admitted", d.Op, brief(d), base.UnixMicro())
	}
	if got, want := b.arrivals(l, "a", "t", "u1"), []int64{-10_000, 0}; !slices.Equal(got, want) {
		t.Fatalf("arrivals %v, want %v: the old arrival overwritten", got, want)
	}
	// The charge is the ledger's: releasing it removes the new arrival only.
	if _, err := l.Release(b.ctx, Ref{App: "a", Tenant: "t", MessageID: "m1", Recipients: u("u1")}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.arrivals(l, "a", "t", "u1"), []int64{-10_000}; !slices.Equal(got, want) {
		t.Errorf("after release: arrivals %v, want %v", got, want)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bad := []struct {
		desc string
		pol  Policy
		want string
	}{
		{"zero count", Policy{Windows: []Window{{0, time.Second}}}, "count 0"},
		{"sub-millisecond window", Policy{Windows: []Window{{1, time.Microsecond}}}, "whole number of milliseconds"},
		{"headroom eats the window", Policy{Windows: []Window{{3, time.Second}}, UrgentHeadroom: 3}, "urgent headroom 3"},
		{"peak minute", Policy{Peak: PeakRule{Minutes: []int{60}, Guard: time.Second}}, "peak minute 60"},
		{"peak guard", Policy{Peak: PeakRule{Minutes: []int{0}, Guard: time.Hour}}, "peak guard"},
	}
	for _, tc := range bad {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := New(b.rdb, Options{Policies: map[string]Policy{"a": tc.pol}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	l := b.limiter(plain)
	noDefault, err := New(b.rdb, Options{Policies: map[string]Policy{"a": plain}})
	if err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		desc string
		l    *Limiter
		r    Request
		want string
	}{
		{"no message id", l, Request{App: "a", Recipients: u("u1")}, "empty message id"},
		{"braces in app", l, Request{App: "a{b}", MessageID: "m", Recipients: u("u1")}, "braces"},
		{"colon in tenant", l, Request{App: "a", Tenant: "x:y", MessageID: "m", Recipients: u("u1")}, "':'"},
		{"group id as recipient", l, Request{App: "a", MessageID: "m", Recipients: u("*")}, "invalid recipient"},
		{"nothing", l, Request{App: "a", MessageID: "m"}, "nothing to admit"},
		{"unknown app", noDefault, Request{App: "b", MessageID: "m", Recipients: u("u1")}, "no policy"},
	}
	for _, tc := range requests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := tc.l.Admit(b.ctx, tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Admit: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
