package peak

import (
	"math/rand/v2"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse("15:04:05", s)
	if err != nil {
		panic(err)
	}
	return time.Date(2026, 11, 21, t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

func TestWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		t          string
		in         bool
		start, end string
	}{
		{desc: "quiet minute", t: "10:15:00", in: false},
		{desc: "guard before :00", t: "09:59:00", in: true, start: "09:59:00", end: "10:01:00"},
		{desc: "just before the guard", t: "09:58:59", in: false},
		{desc: "the marked minute", t: "10:00:30", in: true, start: "09:59:00", end: "10:01:00"},
		{desc: "end of the guard after", t: "10:00:59", in: true, start: "09:59:00", end: "10:01:00"},
		{desc: "window end is outside", t: "10:01:00", in: false},
		{desc: "half past", t: "10:30:00", in: true, start: "10:29:00", end: "10:31:00"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			s, e, ok := Default.Window(at(tc.t))
			if ok != tc.in {
				t.Fatalf("Window(%s) in = %v, want %v", tc.t, ok, tc.in)
			}
			if ok && (!s.Equal(at(tc.start)) || !e.Equal(at(tc.end))) {
				t.Errorf("Window(%s) = %s–%s, want %s–%s", tc.t, s.Format("15:04:05"), e.Format("15:04:05"), tc.start, tc.end)
			}
		})
	}
}

func TestDeferOutsideWindowIsUnchanged(t *testing.T) {
	t.Parallel()
	if got := Default.Defer(at("10:10:00"), nil); !got.Equal(at("10:10:00")) {
		t.Errorf("Defer moved work outside a window to %s", got)
	}
}

// 10,000 deferred start times are uniform over the spread after the window (χ²,
// p > 0.01) and none falls inside a window.
func TestDeferUniformOverSpread(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	const n, bins = 10000, 20
	var count [bins]int
	end := at("10:01:00")
	for i := range n {
		due := at("09:59:00").Add(time.Duration(i%120) * time.Second) // all over the window
		got := Default.Defer(due, rnd)
		if _, _, in := Default.Window(got); in {
			t.Fatalf("deferred into a window: %s", got)
		}
		off := got.Sub(end)
		if off < 0 || off >= Default.Spread {
			t.Fatalf("deferred to %s, outside [end, end+spread)", got)
		}
		count[int(off*bins/Default.Spread)]++
	}
	exp := float64(n) / bins
	chi2 := 0.0
	for _, c := range count {
		chi2 += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	// Critical value of χ² with 19 degrees of freedom at p = 0.01.
	if crit := 36.191; chi2 > crit {
		t.Errorf("χ² = %.1f > %.1f: not uniform (bins %v)", chi2, crit, count)
	}
	t.Logf("χ² = %.2f (19 dof, p=0.01 critical 36.19)", chi2)
}

// A spread that reaches into the next window moves the work past that one too.
func TestDeferSkipsChainedWindows(t *testing.T) {
	t.Parallel()
	r := Rule{Minutes: []int{0, 3}, Guard: 0, Spread: 5 * time.Minute}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		got := r.Defer(at("10:00:10"), rnd)
		if _, _, in := r.Window(got); in {
			t.Fatalf("deferred into a window: %s", got)
		}
	}
}
