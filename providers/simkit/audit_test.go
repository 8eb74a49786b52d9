package simkit

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The audit counts arrivals per (app, recipient) in (at-Window, at]: the
// arrival that would make a window hold Count+1 is a violation, dropped (and
// then not counted) when the audit drops; a slot frees exactly Window after.
func TestAuditWindows(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type arrival struct {
		app, to string
		after   time.Duration // since t0
	}
	tests := []struct {
		desc       string
		drop       bool
		arrivals   []arrival
		delivered  []bool
		violations int
		peaks      []int // per limit: 2/1s, 3/10s
	}{
		{desc: "within both limits", arrivals: []arrival{{"a", "u1", 0}, {"a", "u1", 500 * time.Millisecond}, {"a", "u1", 1500 * time.Millisecond}},
			delivered: []bool{true, true, true}, peaks: []int{2, 3}},
		{desc: "third in one second, recorded and delivered", arrivals: []arrival{{"a", "u1", 0}, {"a", "u1", 100 * time.Millisecond}, {"a", "u1", 999 * time.Millisecond}},
			delivered: []bool{true, true, true}, violations: 1, peaks: []int{3, 3}},
		{desc: "third in one second, dropped, not counted", drop: true,
			arrivals:  []arrival{{"a", "u1", 0}, {"a", "u1", 100 * time.Millisecond}, {"a", "u1", 999 * time.Millisecond}, {"a", "u1", 1000 * time.Millisecond}},
			delivered: []bool{true, true, false, true}, violations: 1, peaks: []int{3, 3}},
		{desc: "a slot frees exactly one window later", arrivals: []arrival{{"a", "u1", 0}, {"a", "u1", 0}, {"a", "u1", time.Second}},
			delivered: []bool{true, true, true}, peaks: []int{2, 3}},
		{desc: "the longer window", drop: true,
			arrivals:  []arrival{{"a", "u1", 0}, {"a", "u1", 2 * time.Second}, {"a", "u1", 4 * time.Second}, {"a", "u1", 9 * time.Second}, {"a", "u1", 10 * time.Second}},
			delivered: []bool{true, true, true, false, true}, violations: 1, peaks: []int{1, 4}},
		{desc: "recipients and apps counted apart", drop: true,
			arrivals:  []arrival{{"a", "u1", 0}, {"a", "u1", 0}, {"a", "u2", 0}, {"b", "u1", 0}, {"b", "u1", 0}},
			delivered: []bool{true, true, true, true, true}, peaks: []int{2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			a, err := NewAudit(tc.drop, Limit{Count: 2, Window: time.Second}, Limit{Count: 3, Window: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			for i, ar := range tc.arrivals {
				if got := a.Arrive(ar.app, ar.to, t0.Add(ar.after)); got != tc.delivered[i] {
					t.Errorf("arrival %d (%+v) delivered = %v, want %v", i, ar, got, tc.delivered[i])
				}
			}
			vs := a.Violations()
			if len(vs) != tc.violations {
				t.Errorf("violations %+v, want %d", vs, tc.violations)
			}
			for _, v := range vs {
				if v.Count <= v.Limit.Count || v.Dropped != tc.drop {
					t.Errorf("violation %+v: count not over its limit, or dropped != %v", v, tc.drop)
				}
			}
			if d := a.Drops(); tc.drop && len(d) != tc.violations || !tc.drop && len(d) != 0 {
				t.Errorf("drops %+v with drop %v and %d violations", d, tc.drop, tc.violations)
			}
			for i, p := range a.Peaks() {
				if p.Count != tc.peaks[i] {
					t.Errorf("peak of %s = %d (%s), want %d", p.Limit, p.Count, p, tc.peaks[i])
				}
			}
		})
	}
}

// NewAudit refuses a limit that could never be exceeded, and a nil audit
// (no limits) admits everything.
func TestNewAudit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		limits  []Limit
		wantErr bool
	}{
		{desc: "no limits", limits: nil},
		{desc: "zero count", limits: []Limit{{Count: 0, Window: time.Second}}, wantErr: true},
		{desc: "zero window", limits: []Limit{{Count: 1}}, wantErr: true},
		{desc: "valid", limits: []Limit{{Count: 1, Window: time.Second}}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			a, err := NewAudit(true, tc.limits...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewAudit(%v) error = %v, want error %v", tc.limits, err, tc.wantErr)
			}
			if err != nil || len(tc.limits) > 0 {
				return
			}
			if a != nil || !a.Arrive("a", "u", time.Now()) || a.Violations() != nil || a.Peaks() != nil {
				t.Fatalf("NewAudit() = %v; a nil audit must admit everything and record nothing", a)
			}
		})
	}
}

// Draw deals outcomes in about their proportions from a seeded source,
// reproducibly, and nothing on an endpoint outside the rates.
func TestFaultRatesDraw(t *testing.T) {
	t.Parallel()
	r := FaultRates{Endpoints: []string{"send"}, ServerError: 0.05, LostResponse: 0.10, Latency: 1, MinLatency: 0, MaxLatency: 2 * time.Second}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	deal := func() (lost, status int, maxLat time.Duration, draws []FaultDraw) {
		rng := rand.New(rand.NewPCG(7, 1))
		for range n {
			d := r.Draw(rng, "send")
			draws = append(draws, d)
			if d.Lost {
				lost++
			}
			if d.Status != 0 {
				status++
				if d.Status < 500 || d.Status > 503 || d.Lost {
					t.Fatalf("draw %+v", d)
				}
			}
			if d.Latency < 0 || d.Latency >= 2*time.Second {
				t.Fatalf("latency %s outside [0, 2s)", d.Latency)
			}
			maxLat = max(maxLat, d.Latency)
		}
		return lost, status, maxLat, draws
	}
	lost, status, maxLat, first := deal()
	if lost < 900 || lost > 1100 || status < 400 || status > 600 || maxLat < 1900*time.Millisecond {
		t.Errorf("%d lost, %d 5xx, max latency %s of %d draws; want about 1000, 500, near 2s", lost, status, maxLat, n)
	}
	if _, _, _, again := deal(); again[n-1] != first[n-1] || again[n/2] != first[n/2] {
		t.Errorf("the same seed dealt differently")
	}
	if d := r.Draw(rand.New(rand.NewPCG(7, 1)), "token"); d != (FaultDraw{}) {
		t.Errorf("draw on an endpoint outside the rates = %+v", d)
	}
}

func TestFaultRatesValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		r       FaultRates
		wantErr bool
	}{
		{desc: "none", r: FaultRates{}},
		{desc: "drill rates", r: FaultRates{ServerError: 0.05, LostResponse: 0.1, Latency: 1, MaxLatency: 2 * time.Second}},
		{desc: "probability over 1", r: FaultRates{Latency: 1.5}, wantErr: true},
		{desc: "negative probability", r: FaultRates{ServerError: -0.1}, wantErr: true},
		{desc: "outcomes over 1", r: FaultRates{ServerError: 0.6, LostResponse: 0.6}, wantErr: true},
		{desc: "max latency below min", r: FaultRates{Latency: 1, MinLatency: time.Second, MaxLatency: time.Millisecond}, wantErr: true},
		{desc: "a known endpoint", r: FaultRates{Endpoints: []string{"send"}}},
		{desc: "an unknown endpoint", r: FaultRates{Endpoints: []string{"nope"}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if err := tc.r.Validate("token", "send"); (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}
