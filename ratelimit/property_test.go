package ratelimit

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The property test of issue 3: 4 clients, each with its own Redis
// connection and Limiter, hammer two apps at once with new messages (bulk,
// urgent, group targets, expiring), re-runs, readmits and ledger transitions,
// while the clock runs (Redis TIME plus a shared offset that each client
// pushes forward). Every call is logged with the stamp (the app's logical
// clock) that orders it. An independent replay (plain Go, written from the package
// documentation, sharing no code with the scripts) then recomputes every
// decision in that order and requires it to match exactly, to the
// millisecond, and checks the invariants on the replayed history and on
// what is left in Redis:
//
//   - no window of any recipient ever holds more than its count, with booked
//     slots counted as arrivals at their slot and windows lengthened by the
//     margin (and for bulk-only recipients, not more than count − headroom);
//   - no (message, recipient) is charged twice, except once more after each
//     failed attempt;
//   - no non-urgent slot lies in a peak window; no day exceeds the daily cap;
//   - under backlog, the arrivals of a recipient reach ≥ 95% of the legal
//     maximum net of the headroom (G5).
//
// Set RATELIMIT_PROPERTY_LOG=<file> to keep the decision log; it is written to
// a temporary file (named in the output) whenever the test fails.
func TestPropertyAgainstReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mix := scaled // 3 per 1s, 10 per 5s, margin 200ms, headroom 1
	mix.Daily = 300
	mix.Peak = PeakRule{Minutes: []int{0}, Guard: time.Second, Spread: time.Second}
	bulk := scaled
	pols := map[string]Policy{"mix": mix, "bulk": bulk}

	// Virtual time starts 3s before midnight in Asia/Shanghai, so the run
	// crosses a peak window (minute mark 0, ±1s) and a day boundary.
	start := time.Date(2026, 3, 10, 23, 59, 57, 0, shanghai)
	var offset atomic.Int64
	offset.Store(start.UnixMilli() - time.Now().UnixMilli())

	const clients = 4
	ops := 400
	if testing.Short() {
		ops = 150
	}
	var (
		mu       sync.Mutex
		messages []Request // mix messages, for re-runs and transitions
		logs     = make([][]logged, clients)
		wg       sync.WaitGroup
	)
	for c := range clients {
		rdb := b.srv.Client()
		l, err := New(rdb, Options{Policies: pols})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(c), 42))
		wg.Go(func() {
			pick := func(prefix string, n, most int) []string {
				var out []string
				for _, i := range rng.Perm(n)[:1+rng.IntN(most)] {
					out = append(out, fmt.Sprintf("%s%d", prefix, i))
				}
				return out
			}
			// do makes one call and logs it
			do := func(kind string, r Request) (logged, bool) {
				e := logged{client: c, kind: kind, req: r}
				ref := Ref{App: r.App, Tenant: r.Tenant, MessageID: r.MessageID, Recipients: r.Recipients}
				var err error
				switch kind {
				case "admit":
					e.d, err = l.Admit(b.ctx, r)
				case "readmit":
					e.d, err = l.Readmit(b.ctx, r)
				case "sending":
					e.tr, err = l.MarkSending(b.ctx, ref)
				case "sent":
					e.tr, err = l.MarkSent(b.ctx, ref)
				case "failed":
					e.tr, err = l.MarkFailed(b.ctx, ref)
				case "release":
					e.tr, err = l.Release(b.ctx, ref)
				}
				if err != nil {
					t.Errorf("client %d: %s %s: %v", c, kind, r.MessageID, err)
					return e, false
				}
				logs[c] = append(logs[c], e)
				return e, true
			}
			for i := range ops {
				l.offset.Store(offset.Add(int64(rng.IntN(81))))
				vnow := time.Now().Add(time.Duration(offset.Load()) * time.Millisecond)
				switch x := rng.IntN(100); {
				case x < 35: // a new message to the mix app
					r := Request{App: "mix", Tenant: "t1", MessageID: fmt.Sprintf("c%dm%d", c, i), Recipients: pick("u", 12, 3)}
					switch y := rng.IntN(100); {
					case y < 20:
						r.Urgent, r.Recipients = true, r.Recipients[:min(2, len(r.Recipients))]
					case y < 35:
						r.GroupCost = 3
					case y < 50:
						r.NotAfter = vnow.Add(2 * time.Second)
					case y < 53:
						r.NotAfter = vnow.Add(-time.Second) // expired already
					}
					mu.Lock()
					messages = append(messages, r)
					mu.Unlock()
					if _, ok := do("admit", r); !ok {
						return
					}
				case x < 55: // bulk: non-urgent only, never re-run
					r := Request{App: "bulk", Tenant: "t2", MessageID: fmt.Sprintf("c%db%d", c, i), Recipients: pick("b", 3, 2)}
					if _, ok := do("admit", r); !ok {
						return
					}
				default: // an earlier mix message: a worker run, a readmit, or a stray transition
					mu.Lock()
					n := len(messages)
					if n == 0 {
						mu.Unlock()
						continue
					}
					r := messages[n-1-rng.IntN(min(n, 12))] // mostly recent ones: their slots come
					if rng.IntN(3) == 0 {
						r = messages[rng.IntN(n)]
					}
					mu.Unlock()
					r.Generation = 1 + rng.IntN(3)
					group := slices.Clone(r.Recipients)
					if r.GroupCost > 0 {
						group = append(group, GroupRecipient)
					}
					switch y := rng.IntN(100); {
					case y < 45: // a worker run: admit, mark sending, then sent, failed or a crash
						e, ok := do("admit", r)
						if !ok {
							return
						}
						if len(e.d.Admitted) == 0 {
							continue
						}
						r.Recipients = e.d.Admitted
						if e, ok = do("sending", r); !ok {
							return
						}
						if len(e.tr.Done) == 0 {
							continue
						}
						r.Recipients = e.tr.Done
						switch z := rng.IntN(10); {
						case z < 7:
							do("sent", r)
						case z < 9:
							do("failed", r)
						}
					case y < 55:
						do("readmit", r)
					default:
						r.Recipients = group
						do([]string{"sending", "sent", "failed", "release", "release"}[rng.IntN(5)], r)
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	all := slices.Concat(logs...)
	slices.SortFunc(all, func(a, b logged) int {
		return cmp.Or(cmp.Compare(a.req.App, b.req.App), cmp.Compare(a.op(), b.op()))
	})
	defer func() {
		path := os.Getenv("RATELIMIT_PROPERTY_LOG")
		if path == "" && !t.Failed() {
			return
		}
		var f *os.File
		var err error
		if path != "" {
			f, err = os.Create(path)
		} else {
			f, err = os.CreateTemp("", "ratelimit-property-*.log")
		}
		if err != nil {
			t.Log(err)
			return
		}
		defer f.Close()
		for _, e := range all {
			fmt.Fprintln(f, e)
		}
		t.Logf("decision log: %s", f.Name())
	}()

	for app, pol := range pols {
		rp := newReplay(t, app, pol)
		var calls []logged
		for _, e := range all {
			if e.req.App == app {
				calls = append(calls, e)
			}
		}
		for i, e := range calls {
			if i > 0 && e.op() <= calls[i-1].op() {
				t.Fatalf("%s: calls %d and %d have stamps %d, %d: not strictly increasing", app, i, i+1, calls[i-1].op(), e.op())
			}
			rp.apply(e)
			if t.Failed() {
				return
			}
		}
		rp.checkInvariants(calls)
		rp.checkRedis(b, pols)
		t.Logf("%s: %d calls, %d charges, %d bookings, %d moved, %d late, %d repeated, %d days", app, len(calls),
			rp.stats.charged, rp.stats.booked, rp.stats.moved, rp.stats.late, rp.stats.repeated, len(rp.daily))
	}
}

// logged is one call of the property test and its result.
type logged struct {
	client int
	kind   string // admit, readmit, sending, sent, failed, release
	req    Request
	d      *Decision
	tr     *Transition
}

func (e logged) op() int64 {
	if e.d != nil {
		return e.d.Op
	}
	return e.tr.Op
}

func (e logged) now() int64 {
	if e.d != nil {
		return e.d.Now.UnixMilli()
	}
	return e.tr.Now.UnixMilli()
}

func (e logged) String() string {
	r := e.req
	s := fmt.Sprintf("%s op=%d now=%d c%d %s %s to=%s urgent=%v group=%d gen=%d", r.App, e.op(), e.now(), e.client, e.kind,
		r.MessageID, strings.Join(r.Recipients, ","), r.Urgent, r.GroupCost, r.Generation)
	if !r.NotAfter.IsZero() {
		s += fmt.Sprintf(" notafter=%d", r.NotAfter.UnixMilli())
	}
	if e.d != nil {
		return s + " → " + brief(e.d)
	}
	return s + " → " + briefT(e.tr)
}

// The replay: an independent model of the rules in the package
// documentation. It keeps every arrival forever and checks windows by
// counting, and handles days and peak windows with package time.

type replayArrival struct {
	at      int64
	msg     string
	attempt int
	urgent  bool
	asked   int64 // when it was requested
}

type replayEntry struct {
	state   byte // A B S D F
	at      int64
	gen     int
	why     Reason
	attempt int   // the arrival's attempt number (recipients)
	cost    int64 // the group's cost
}

type replay struct {
	t       *testing.T
	app     string
	pol     Policy
	margin  int64
	windows [][2]int64 // count, window+margin
	arr     map[string][]*replayArrival
	ledger  map[string]map[string]*replayEntry
	daily   map[string]int64 // YYYYMMDD → person-times
	charges map[[2]string]int
	fails   map[[2]string]int
	tries   map[[2]string]int // arrivals ever made per (message, recipient): attempt numbers
	drops   map[[2]string]int // charges dropped: released, or moved past NotAfter
	maxNow  int64
	stats   struct{ charged, booked, moved, late, repeated int }
}

func newReplay(t *testing.T, app string, pol Policy) *replay {
	rp := &replay{t: t, app: app, pol: pol, margin: pol.Margin.Milliseconds(),
		arr: map[string][]*replayArrival{}, ledger: map[string]map[string]*replayEntry{}, daily: map[string]int64{},
		charges: map[[2]string]int{}, fails: map[[2]string]int{}, tries: map[[2]string]int{}, drops: map[[2]string]int{}}
	for _, w := range pol.Windows {
		rp.windows = append(rp.windows, [2]int64{int64(w.Count), w.Window.Milliseconds() + rp.margin})
	}
	return rp
}

func ms(t time.Time) int64     { return t.UnixMilli() }
func fromMs(v int64) time.Time { return time.UnixMilli(v) }
func dayName(v int64) string   { return fromMs(v).In(shanghai).Format("20060102") }
func nextMidnight(v int64) int64 {
	y, m, d := fromMs(v).In(shanghai).Date()
	return ms(time.Date(y, m, d+1, 0, 0, 0, 0, shanghai))
}

// peakEnd returns the end of the peak window holding v (the latest end if
// windows overlap), or 0.
func (rp *replay) peakEnd(v int64) int64 {
	p := rp.pol.Peak
	if p.Guard == 0 || len(p.Minutes) == 0 {
		return 0
	}
	t := fromMs(v)
	var end int64
	for _, h := range []time.Duration{-time.Hour, 0, time.Hour} {
		hour := t.Truncate(time.Hour).Add(h)
		for _, m := range p.Minutes {
			mark := hour.Add(time.Duration(m) * time.Minute)
			if !t.Before(mark.Add(-p.Guard)) && t.Before(mark.Add(p.Guard)) {
				end = max(end, ms(mark.Add(p.Guard)))
			}
		}
	}
	return end
}

func (rp *replay) spread(msg string) int64 {
	s := rp.pol.Peak.Spread.Milliseconds()
	if s == 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(msg))
	return int64(h.Sum64() % uint64(s))
}

// fits reports whether one more arrival at s keeps every window of every
// interval holding s at most at its threshold (count − headroom for
// non-urgent requests): the most crowded interval [x, x+L) holding s starts
// at s−L+1 or just where an arrival enters it.
func (rp *replay) fits(rcpt string, s int64, urgent bool) bool {
	for _, w := range rp.windows {
		limit, L := w[0], w[1]
		if !urgent {
			limit -= int64(rp.pol.UrgentHeadroom)
		}
		starts := []int64{s - L + 1}
		for _, a := range rp.arr[rcpt] {
			if x := a.at - L + 1; x > s-L+1 && x <= s {
				starts = append(starts, x)
			}
		}
		for _, x := range starts {
			n := int64(0)
			for _, a := range rp.arr[rcpt] {
				if a.at >= x && a.at < x+L {
					n++
				}
			}
			if n >= limit {
				return false
			}
		}
	}
	return true
}

// slot walks forward from lb to the first instant that satisfies the rules
// (windows, then the daily cap, then peak windows, repeated), visiting as
// window candidates only the instants where an arrival leaves a window.
func (rp *replay) slot(rcpt string, lb int64, urgent bool, need int64, msg string) (int64, Reason) {
	s, why := lb, Reason(0)
	for range 10000 {
		if rcpt != GroupRecipient && !rp.fits(rcpt, s, urgent) {
			next := int64(-1)
			for _, a := range rp.arr[rcpt] {
				for _, w := range rp.windows {
					if c := a.at + w[1]; c > s && (next < 0 || c < next) {
						next = c
					}
				}
			}
			s, why = next, why|ReasonWindow
			continue
		}
		if d := int64(rp.pol.Daily); d > 0 && rp.daily[dayName(s)]+need > d {
			s, why = nextMidnight(s), why|ReasonDaily
			continue
		}
		if e := rp.peakEnd(s); !urgent && e != 0 {
			s, why = e+rp.spread(msg), why|ReasonPeak
			continue
		}
		return s, why
	}
	rp.t.Fatalf("replay: no slot for %s from %d", rcpt, lb)
	return 0, 0
}

func (rp *replay) arrival(rcpt, msg string, attempt int) (int, *replayArrival) {
	for i, a := range rp.arr[rcpt] {
		if a.msg == msg && a.attempt == attempt {
			return i, a
		}
	}
	rp.t.Fatalf("replay: no arrival of %s for %s attempt %d", rcpt, msg, attempt)
	return 0, nil
}

func (rp *replay) apply(e logged) {
	now := e.now()
	if now < rp.maxNow {
		rp.t.Fatalf("op %d: clock ran backwards: %d after %d", e.op(), now, rp.maxNow)
	}
	rp.maxNow = now
	switch e.kind {
	case "admit", "readmit":
		want := rp.admit(e, now)
		got := *e.d
		got.Op, got.Now, got.Calls = 0, time.Time{}, 0
		if got.Spread != want.Spread || !reflect.DeepEqual(norm(got), norm(want)) {
			rp.t.Errorf("op %d (%s %s at %d): decision\n got  %s\n want %s\n call %s", e.op(), e.kind, e.req.MessageID, now,
				brief(withNow(got, now)), brief(withNow(want, now)), e)
		}
	default:
		want := rp.mark(e, now)
		if !reflect.DeepEqual(normT(*e.tr), normT(want)) {
			rp.t.Errorf("op %d (%s %s at %d): transition\n got  %s\n want %s", e.op(), e.kind, e.req.MessageID, now, briefT(e.tr), briefT(&want))
		}
	}
}

func withNow(d Decision, now int64) *Decision { d.Now = fromMs(now); return &d }

func norm(d Decision) Decision {
	d.Op, d.Now, d.Calls = 0, time.Time{}, 0
	for _, p := range []*[]string{&d.Admitted, &d.Sent, &d.Repeated, &d.Moved} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	for _, p := range []*[]Booking{&d.Booked, &d.Late, &d.Sending} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	return d
}

func normT(t Transition) Transition {
	t.Op, t.Now = 0, time.Time{}
	if len(t.Done) == 0 {
		t.Done = nil
	}
	if len(t.Refused) == 0 {
		t.Refused = nil
	}
	return t
}

func (rp *replay) admit(e logged, now int64) Decision {
	r := e.req
	d := Decision{Spread: time.Duration(rp.spread(r.MessageID)) * time.Millisecond}
	led := rp.ledger[r.MessageID]
	if led == nil {
		led = map[string]*replayEntry{}
		rp.ledger[r.MessageID] = led
	}
	notAfter := int64(0)
	if !r.NotAfter.IsZero() {
		notAfter = ms(r.NotAfter)
	}
	moveAge := rp.margin/2 + 1
	if e.kind == "readmit" {
		moveAge = 0
	}
	book := func(name string, at int64, why Reason, gen int) Booking {
		return Booking{Recipient: name, At: fromMs(at), Why: why, Generation: gen}
	}
	for _, rc := range r.Recipients {
		ent := led[rc]
		key := [2]string{r.MessageID, rc}
		if ent != nil && (ent.state == 'S' || ent.state == 'D' || (ent.state == 'A' || ent.state == 'B') && (ent.at > now || now-ent.at < moveAge)) {
			rp.stats.repeated++
			d.Repeated = append(d.Repeated, rc)
			switch {
			case ent.state == 'S':
				d.Sending = append(d.Sending, book(rc, ent.at, 0, ent.gen))
			case ent.state == 'D':
				d.Sent = append(d.Sent, rc)
			case ent.at > now:
				d.Booked = append(d.Booked, book(rc, ent.at, ent.why, ent.gen))
			default:
				d.Admitted = append(d.Admitted, rc)
			}
			continue
		}
		moving := ent != nil && (ent.state == 'A' || ent.state == 'B')
		attempt := 0
		if ent != nil {
			attempt = ent.attempt
		}
		lb := now
		if moving {
			i, a := rp.arrival(rc, r.MessageID, attempt)
			rp.arr[rc] = slices.Delete(rp.arr[rc], i, i+1)
			if rp.pol.Daily > 0 {
				rp.daily[dayName(a.at)]--
			}
		} else {
			attempt = rp.tries[key] // a new attempt (after a failed one, or a release)
			rp.tries[key]++
			if !r.Urgent {
				for _, a := range rp.arr[rc] {
					lb = max(lb, a.at)
				}
			}
		}
		s, why := rp.slot(rc, lb, r.Urgent, 1, r.MessageID)
		if s > now && why == 0 {
			why = ReasonWindow // behind the recipient's earlier bookings
		}
		if notAfter > 0 && s > notAfter {
			rp.stats.late++
			d.Late = append(d.Late, book(rc, s, why, r.Generation))
			if moving {
				delete(led, rc)
				rp.drops[key]++
			}
			continue
		}
		rp.arr[rc] = append(rp.arr[rc], &replayArrival{at: s, msg: r.MessageID, attempt: attempt, urgent: r.Urgent, asked: now})
		if rp.pol.Daily > 0 {
			rp.daily[dayName(s)]++
		}
		state := byte('A')
		if s > now {
			state = 'B'
		}
		led[rc] = &replayEntry{state: state, at: s, gen: r.Generation, why: why, attempt: attempt}
		switch {
		case moving:
			rp.stats.moved++
			d.Moved = append(d.Moved, rc)
		default:
			rp.charges[key]++
			rp.stats.charged++
		}
		if s > now {
			rp.stats.booked++
			d.Booked = append(d.Booked, book(rc, s, why, r.Generation))
		} else {
			d.Admitted = append(d.Admitted, rc)
		}
	}
	if r.GroupCost > 0 {
		ent := led[GroupRecipient]
		switch {
		case ent != nil && ent.state != 'F':
			d.Repeated = append(d.Repeated, GroupRecipient)
			switch {
			case ent.state == 'S':
				d.Sending = append(d.Sending, book(GroupRecipient, ent.at, 0, ent.gen))
			case ent.state == 'D':
				d.Sent = append(d.Sent, GroupRecipient)
			case ent.at > now:
				d.Booked = append(d.Booked, book(GroupRecipient, ent.at, ent.why, ent.gen))
			default:
				d.Admitted = append(d.Admitted, GroupRecipient)
			}
		case rp.pol.Daily > 0 && r.GroupCost > rp.pol.Daily:
			d.Late = append(d.Late, book(GroupRecipient, now, ReasonNoSlot, r.Generation))
		default:
			s, why := rp.slot(GroupRecipient, now, r.Urgent, int64(r.GroupCost), r.MessageID)
			if notAfter > 0 && s > notAfter {
				d.Late = append(d.Late, book(GroupRecipient, s, why, r.Generation))
				break
			}
			if rp.pol.Daily > 0 {
				rp.daily[dayName(s)] += int64(r.GroupCost)
			}
			state := byte('A')
			if s > now {
				state = 'B'
				d.Booked = append(d.Booked, book(GroupRecipient, s, why, r.Generation))
			} else {
				d.Admitted = append(d.Admitted, GroupRecipient)
			}
			led[GroupRecipient] = &replayEntry{state: state, at: s, gen: r.Generation, why: why, cost: int64(r.GroupCost)}
		}
	}
	return d
}

func (rp *replay) mark(e logged, now int64) Transition {
	r := e.req
	led := rp.ledger[r.MessageID]
	var tr Transition
	half := rp.margin / 2
	for _, rc := range r.Recipients {
		ent := led[rc]
		if ent == nil {
			tr.Refused = append(tr.Refused, Refusal{Recipient: rc, Why: RefusedNotFound})
			continue
		}
		refuse := func(why Refused) {
			tr.Refused = append(tr.Refused, Refusal{Recipient: rc, Why: why, State: State(ent.state), At: fromMs(ent.at)})
		}
		booked := ent.state == 'A' || ent.state == 'B'
		switch e.kind {
		case "sending":
			switch {
			case !booked:
				refuse(RefusedState)
			case ent.at > now:
				refuse(RefusedEarly)
			case now-ent.at > half:
				refuse(RefusedStale)
			default:
				ent.state = 'S'
				tr.Done = append(tr.Done, rc)
			}
		case "sent":
			if booked || ent.state == 'S' || ent.state == 'D' {
				ent.state = 'D'
				tr.Done = append(tr.Done, rc)
			} else {
				refuse(RefusedState)
			}
		case "failed":
			if ent.state == 'S' || ent.state == 'F' {
				if ent.state == 'S' {
					rp.fails[[2]string{r.MessageID, rc}]++
				}
				ent.state = 'F'
				tr.Done = append(tr.Done, rc)
			} else {
				refuse(RefusedState)
			}
		case "release":
			switch {
			case booked:
				if rc == GroupRecipient {
					if rp.pol.Daily > 0 {
						rp.daily[dayName(ent.at)] -= ent.cost
					}
				} else {
					i, _ := rp.arrival(rc, r.MessageID, ent.attempt)
					rp.arr[rc] = slices.Delete(rp.arr[rc], i, i+1)
					if rp.pol.Daily > 0 {
						rp.daily[dayName(ent.at)]--
					}
				}
				delete(led, rc)
				rp.drops[[2]string{r.MessageID, rc}]++
				tr.Done = append(tr.Done, rc)
			case ent.state == 'F':
				delete(led, rc)
				tr.Done = append(tr.Done, rc)
			default:
				refuse(RefusedState)
			}
		}
	}
	return tr
}

// checkInvariants checks the replayed history and the log.
func (rp *replay) checkInvariants(calls []logged) {
	t := rp.t
	for rc, as := range rp.arr {
		at := make([]int64, len(as))
		urgent := false
		for i, a := range as {
			at[i] = a.at
			urgent = urgent || a.urgent
		}
		slices.Sort(at)
		for _, w := range rp.windows {
			limits := []int64{w[0]}
			if !urgent {
				limits = append(limits, w[0]-int64(rp.pol.UrgentHeadroom))
			}
			for _, c := range limits {
				for j := 0; j+int(c) < len(at); j++ {
					if at[j+int(c)]-at[j] < w[1] {
						t.Errorf("%s %s: %d arrivals within %dms: %v", rp.app, rc, c+1, w[1], at[j:j+int(c)+1])
					}
				}
			}
		}
	}
	// G2: at most one live charge per (message, recipient), plus the
	// charges of failed attempts (which may have arrived); a new charge only
	// after a failure or after the previous one was dropped (a release, or a
	// move past NotAfter: what a worker would not re-run)
	live := map[[2]string]int{}
	for rc, as := range rp.arr {
		for _, a := range as {
			live[[2]string{a.msg, rc}]++
		}
	}
	for k, n := range live {
		if n > 1+rp.fails[k] {
			t.Errorf("%s: %s has %d live charges with %d failed attempts", rp.app, k, n, rp.fails[k])
		}
	}
	for k, n := range rp.charges {
		if n > 1+rp.fails[k]+rp.drops[k] {
			t.Errorf("%s: %s charged %d times with %d failed attempts and %d dropped", rp.app, k, n, rp.fails[k], rp.drops[k])
		}
	}
	for day, n := range rp.daily {
		if rp.pol.Daily > 0 && n > int64(rp.pol.Daily) {
			t.Errorf("%s: day %s has %d person-times, cap %d", rp.app, day, n, rp.pol.Daily)
		}
	}
	// from the log alone: fresh charges per (message, recipient) against
	// failures, releases and late reports; no non-urgent slot in a peak window
	fresh, again := map[[2]string]int{}, map[[2]string]int{}
	for _, e := range calls {
		if e.tr != nil && (e.kind == "failed" || e.kind == "release") {
			for _, x := range e.tr.Done {
				again[[2]string{e.req.MessageID, x}]++
			}
		}
		if e.d == nil {
			continue
		}
		for _, x := range e.d.Late {
			again[[2]string{e.req.MessageID, x.Recipient}]++
		}
		skip := map[string]bool{}
		for _, x := range slices.Concat(e.d.Repeated, e.d.Moved) {
			skip[x] = true
		}
		slots := map[string]int64{}
		for _, x := range e.d.Admitted {
			slots[x] = e.now()
		}
		for _, x := range e.d.Booked {
			slots[x.Recipient] = ms(x.At)
		}
		for x, at := range slots {
			if !skip[x] {
				fresh[[2]string{e.req.MessageID, x}]++
			}
			if !e.req.Urgent && rp.peakEnd(at) != 0 && !skip[x] {
				t.Errorf("%s: op %d: non-urgent %s at %d, in a peak window", rp.app, e.op(), x, at)
			}
		}
	}
	for k, n := range fresh {
		if n > 1+again[k] {
			t.Errorf("%s: %s newly charged by %d calls", rp.app, k, n)
		}
	}
	// G5: while a recipient has a backlog (every request was already waiting
	// when the previous arrival's slot came), its arrivals reach the legal
	// maximum of the margin-lengthened windows net of the headroom. Checked
	// where nothing else (daily cap, peak windows, urgent requests, moves)
	// takes slots away: the bulk app.
	if rp.pol.Daily == 0 && rp.pol.Peak.Guard == 0 {
		got, best, runs := 0, 0, 0
		for rc, as := range rp.arr {
			as = slices.Clone(as)
			slices.SortFunc(as, func(a, b *replayArrival) int { return cmp.Compare(a.at, b.at) })
			for i := 0; i < len(as); {
				j := i + 1
				for j < len(as) && as[j].asked <= as[j-1].at {
					j++
				}
				if n := j - i; n >= 10 {
					most := rp.legalMax(as[i].at, as[j-1].at)
					got, best, runs = got+n, best+most, runs+1
					t.Logf("G5: %s %s: backlog of %d arrivals over %dms, legal maximum %d", rp.app, rc, n, as[j-1].at-as[i].at, most)
				}
				i = j
			}
		}
		switch ratio := float64(got) / float64(best); {
		case runs == 0:
			t.Errorf("%s: no backlog to measure G5 on", rp.app)
		case ratio < 0.95:
			t.Errorf("G5: %s: %d arrivals under backlog, legal maximum %d: %.3f < 0.95", rp.app, got, best, ratio)
		default:
			t.Logf("G5: %s: %d arrivals under backlog in %d runs, legal maximum %d: %.1f%%", rp.app, got, runs, best, 100*ratio)
		}
	}
}

// legalMax is the most arrivals [from, to] can hold under the windows net of
// the headroom: packing each as early as the windows allow is optimal.
func (rp *replay) legalMax(from, to int64) int {
	var got []int64
	for s := from; s <= to; {
		got = append(got, s)
		next := s
		for _, w := range rp.windows {
			c := int(w[0]) - rp.pol.UrgentHeadroom
			if len(got) >= c {
				next = max(next, got[len(got)-c]+w[1])
			}
		}
		s = next
	}
	return len(got)
}

// checkRedis compares what Redis holds with the replay: every arrival that
// can still count is there, nothing else is, and the daily counters agree.
func (rp *replay) checkRedis(b *testBundle, pols map[string]Policy) {
	t := rp.t
	l, err := New(b.rdb, Options{Policies: pols})
	if err != nil {
		t.Fatal(err)
	}
	lmax := int64(0)
	for _, w := range rp.windows {
		lmax = max(lmax, w[1])
	}
	tenant := map[string]string{"mix": "t1", "bulk": "t2"}[rp.app]
	for rc, as := range rp.arr {
		got, err := l.Arrivals(b.ctx, rp.app, tenant, rc)
		if err != nil {
			t.Fatal(err)
		}
		left := map[int64]int{}
		for _, g := range got {
			left[ms(g)]++
		}
		for _, a := range as {
			switch {
			case left[a.at] > 0:
				left[a.at]--
			case a.at > rp.maxNow-lmax:
				t.Errorf("%s %s: arrival at %d missing in Redis", rp.app, rc, a.at)
			}
		}
		for at, n := range left {
			if n > 0 {
				t.Errorf("%s %s: Redis holds %d arrivals at %d the replay does not", rp.app, rc, n, at)
			}
		}
	}
	for day, n := range rp.daily {
		v, err := b.rdb.Get(b.ctx, l.dailyPrefix(rp.app, tenant)+day).Int64()
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		if err != nil || v != n {
			t.Errorf("%s: daily counter of %s = %d (%v), replay %d", rp.app, day, v, err, n)
		}
	}
}
