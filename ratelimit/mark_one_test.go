package ratelimit

import (
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"
)

// markOneLua must do what markScript does for the actions it takes, from
// every state an entry can be in: the same entry afterwards, the same reply.
func TestMarkOneMatchesMarkScript(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain)
	l.fixed.Store(0) // production: Redis TIME, no test clock (EvalCmd's condition)

	entries := []struct {
		desc, value string
	}{
		{"none", ""},
		{"admitted", "A1773108900000,1773108900000123,0,0"},
		{"booked", "B1773108960000,1773108900000456,2,1"},
		{"sending", "S1773108900000,1773108900000123,0,0"},
		{"sent", "D1773108900000,1773108900000123,0,0"},
		{"failed", "F1773108900000,1773108900000123,1,0"},
		{"superseded", "C1773108900000,1773108900000123,0,0,m9"},
		{"malformed", "S17731,x"},
	}
	actions := []struct {
		desc    string
		prepare func(Ref) (*LedgerCall, error)
		mark    func(Ref) (*Transition, error)
	}{
		{"sent", l.PrepareMarkSent, func(r Ref) (*Transition, error) { return l.MarkSent(b.ctx, r) }},
		{"failed", l.PrepareMarkFailed, func(r Ref) (*Transition, error) { return l.MarkFailed(b.ctx, r) }},
	}
	for i, e := range entries {
		for _, a := range actions {
			desc := e.desc + " → " + a.desc
			script := Ref{App: "a", Tenant: "t", MessageID: fmt.Sprintf("s%d%s", i, a.desc), Recipients: []string{"u1"}}
			one := script
			one.MessageID = fmt.Sprintf("o%d%s", i, a.desc)
			for _, r := range []Ref{script, one} {
				if e.value != "" {
					if err := b.rdb.HSet(b.ctx, l.ledgerKey("a", r.MessageID), "u1", e.value).Err(); err != nil {
						t.Fatal(err)
					}
				}
			}

			want, err := a.mark(script)
			if err != nil {
				t.Fatalf("%s: markScript: %v", desc, err)
			}
			call, err := a.prepare(one)
			if err != nil {
				t.Fatalf("%s: prepare: %v", desc, err)
			}
			cmd, ok := call.EvalCmd()
			if !ok {
				t.Fatalf("%s: EvalCmd refused a single recipient's %s", desc, a.desc)
			}
			reply, err := b.rdb.Do(b.ctx, cmd...).Result()
			if err != nil {
				t.Fatalf("%s: markOne: %v", desc, err)
			}
			got, err := call.Transition(reply)
			if err != nil {
				t.Fatalf("%s: Transition: %v", desc, err)
			}
			if got.Op == 0 || got.Now.IsZero() {
				t.Errorf("%s: op %d, now %v: want Redis TIME", desc, got.Op, got.Now)
			}
			if !slices.Equal(got.Done, want.Done) || !slices.Equal(got.Refused, want.Refused) {
				t.Errorf("%s: done %v refused %+v, markScript: done %v refused %+v", desc, got.Done, got.Refused, want.Done, want.Refused)
			}
			gv, gerr := b.rdb.HGet(b.ctx, l.ledgerKey("a", one.MessageID), "u1").Result()
			wv, werr := b.rdb.HGet(b.ctx, l.ledgerKey("a", script.MessageID), "u1").Result()
			if gv != wv || (gerr == redis.Nil) != (werr == redis.Nil) {
				t.Errorf("%s: entry %q (%v), markScript's %q (%v)", desc, gv, gerr, wv, werr)
			}
		}
	}
}

// EvalCmd takes only what markOneLua does.
func TestMarkOneEvalCmdRefuses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.limiter(plain)
	l.fixed.Store(0)
	one := Ref{App: "a", Tenant: "t", MessageID: "m", Recipients: []string{"u1"}}
	two := one
	two.Recipients = []string{"u1", "u2"}
	group := one
	group.Recipients = []string{GroupRecipient}

	tests := []struct {
		desc    string
		prepare func(Ref) (*LedgerCall, error)
		ref     Ref
		clock   bool // a test clock is set
		want    bool
	}{
		{"sent, one recipient", l.PrepareMarkSent, one, false, true},
		{"failed, one recipient", l.PrepareMarkFailed, one, false, true},
		{"sent, two recipients", l.PrepareMarkSent, two, false, false},
		{"sent, the group", l.PrepareMarkSent, group, false, false},
		{"sending", l.PrepareMarkSending, one, false, false},
		{"not sent (a refund)", l.PrepareMarkNotSent, one, false, false},
		{"sent, test clock", l.PrepareMarkSent, one, true, false},
	}
	for _, tt := range tests {
		if tt.clock {
			b.set(l, base)
		} else {
			l.fixed.Store(0)
		}
		call, err := tt.prepare(tt.ref)
		if err != nil {
			t.Fatalf("%s: %v", tt.desc, err)
		}
		if _, ok := call.EvalCmd(); ok != tt.want {
			t.Errorf("%s: EvalCmd ok = %v, want %v", tt.desc, ok, tt.want)
		}
	}
}
