package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

// base is the fixed clock most unit tests start at: a Tuesday, 10:15 in
// Asia/Shanghai, far from the :00/:30 peak marks and from midnight.
var base = time.Date(2026, 3, 10, 10, 15, 0, 0, shanghai)

// Policies of the unit tests: scaled windows so that nothing takes long.
var (
	// plain: 3 per 1s, margin 200ms, no headroom, no daily cap, no peak rule.
	plain = Policy{Windows: []Window{{3, time.Second}}, Margin: 200 * time.Millisecond}
	// scaled: the 3 per 1s and 10 per 5s, margin 200ms, headroom 1.
	scaled = Policy{Windows: []Window{{3, time.Second}, {10, 5 * time.Second}}, Margin: 200 * time.Millisecond, UrgentHeadroom: 1}
)

// testBundle is one test's private Redis, a client counting its round trips,
// and a Limiter on them.
type testBundle struct {
	t   *testing.T
	ctx context.Context
	srv *redistest.Server
	rdb *redis.Client
	rt  *tripCounter
	l   *Limiter // policy scaled, clock fixed at base
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	srv := redistest.Start(t)
	b := &testBundle{t: t, ctx: context.Background(), srv: srv, rdb: srv.Client(), rt: &tripCounter{}}
	b.rdb.AddHook(b.rt)
	for _, s := range []*redis.Script{admitScript, markScript} { // so that round trips count only the work
		if err := s.Load(b.ctx, b.rdb).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.l = b.limiter(scaled)
	return b
}

// limiter returns a new Limiter on the bundle's client with p as the default
// policy and its clock fixed at base.
func (b *testBundle) limiter(p Policy) *Limiter {
	b.t.Helper()
	l, err := New(b.rdb, Options{Default: &p})
	if err != nil {
		b.t.Fatalf("New: %v", err)
	}
	b.set(l, base)
	return l
}

// set fixes l's clock at t (the scripts use it instead of Redis TIME).
func (b *testBundle) set(l *Limiter, t time.Time) { l.fixed.Store(t.UnixMilli()) }

func (b *testBundle) admit(l *Limiter, r Request) *Decision {
	b.t.Helper()
	d, err := l.Admit(b.ctx, r)
	if err != nil {
		b.t.Fatalf("Admit(%+v): %v", r, err)
	}
	return d
}

// arrivals returns the recipient's arrival slots in ms relative to base.
func (b *testBundle) arrivals(l *Limiter, app, tenant, rcpt string) []int64 {
	b.t.Helper()
	ts, err := l.Arrivals(b.ctx, app, tenant, rcpt)
	if err != nil {
		b.t.Fatal(err)
	}
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(base).Milliseconds()
	}
	return out
}

func (b *testBundle) dailyUsed(l *Limiter, app, tenant string, day time.Time) int {
	b.t.Helper()
	n, err := l.DailyUsed(b.ctx, app, tenant, day)
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// brief renders a decision for comparison, times in ms relative to its Now:
//
//	A:u1,u2 B:u3@1200/window L:u4@… S:u5@-50 D:u6 R:u1 M:u2
//
// Empty sections are left out.
func brief(d *Decision) string {
	rel := func(t time.Time) int64 { return t.Sub(d.Now).Milliseconds() }
	var s []string
	list := func(tag string, xs []string) {
		if len(xs) > 0 {
			s = append(s, tag+":"+strings.Join(xs, ","))
		}
	}
	books := func(tag string, bs []Booking) {
		if len(bs) == 0 {
			return
		}
		var xs []string
		for _, x := range bs {
			e := fmt.Sprintf("%s@%d", x.Recipient, rel(x.At))
			if x.Why != 0 {
				e += "/" + x.Why.String()
			}
			if x.Generation != 0 {
				e += fmt.Sprintf("#%d", x.Generation)
			}
			xs = append(xs, e)
		}
		s = append(s, tag+":"+strings.Join(xs, ","))
	}
	list("A", d.Admitted)
	books("B", d.Booked)
	books("L", d.Late)
	books("S", d.Sending)
	list("D", d.Sent)
	list("R", d.Repeated)
	list("M", d.Moved)
	return strings.Join(s, " ")
}

// briefT renders a transition: done recipients, then refusals with the state
// found.
func briefT(t *Transition) string {
	var s []string
	if len(t.Done) > 0 {
		s = append(s, "ok:"+strings.Join(t.Done, ","))
	}
	for _, r := range t.Refused {
		s = append(s, fmt.Sprintf("%s:%s(%s)", r.Recipient, r.Why, r.State))
	}
	return strings.Join(s, " ")
}

// tripCounter is a go-redis hook counting round trips: one per command sent
// alone, one per pipeline; a new connection's handshake (HELLO, CLIENT
// SETINFO) is not counted.
type tripCounter struct{ n atomic.Int64 }

func handshake(cmd redis.Cmder) bool { return cmd.Name() == "hello" || cmd.Name() == "client" }

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !slices.ContainsFunc(cmds, func(c redis.Cmder) bool { return !handshake(c) }) {
			return next(ctx, cmds)
		}
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

var _ redis.Hook = (*tripCounter)(nil)

// names returns recipient ids prefix0 … prefix(n-1).
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// sortedCopy returns a sorted copy of xs.
func sortedCopy(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}
