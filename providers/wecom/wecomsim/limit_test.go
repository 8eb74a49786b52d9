package wecomsim

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// step is one batch of sends at an offset from the test start.
type step struct {
	at          time.Duration // since the start (the clock is set to start+at)
	n           int           // messages to alice
	wantDropped int           // how many of them are dropped
}

func TestPerMemberLimits(t *testing.T) {
	t.Parallel()
	// start is 10:00:50, ten seconds before a minute boundary.
	start := time.Date(2025, 1, 6, 10, 0, 50, 0, time.UTC)
	tests := []struct {
		desc   string
		limits []Limit // nil = WeCom defaults
		steps  []step
	}{
		{desc: "30 in a minute delivered, 31st dropped", steps: []step{{at: 0, n: 30}, {at: 59 * time.Second, n: 1, wantDropped: 1}}},
		{desc: "slot frees exactly one window after", steps: []step{{at: 0, n: 30}, {at: time.Minute, n: 30}, {at: time.Minute, n: 1, wantDropped: 1}}},
		{desc: "sliding, not fixed: a new clock minute is no reset", steps: []step{
			{at: 0, n: 30}, // 10:00:50
			{at: 20 * time.Second, n: 5, wantDropped: 5}, // 10:01:10: a fixed window would allow these
			{at: 60 * time.Second, n: 30},                // 10:01:50: the first 30 left the window
		}},
		{desc: "sliding across a boundary: 59 in 20 s is refused", steps: []step{
			{at: 0, n: 15},
			{at: 5 * time.Second, n: 15},
			{at: 15 * time.Second, n: 29, wantDropped: 29}, // 10:01:05: a fixed window would allow 29 of them
			{at: 60 * time.Second, n: 15},                  // the first 15 left
			{at: 60 * time.Second, n: 1, wantDropped: 1},
		}},
		{desc: "hourly limit", limits: []Limit{{Count: 3, Window: time.Minute}, {Count: 5, Window: time.Hour}}, steps: []step{
			{at: 0, n: 3},
			{at: time.Minute, n: 3, wantDropped: 1},
			{at: 59 * time.Minute, n: 1, wantDropped: 1},
			{at: 60 * time.Minute, n: 3}, // the first three left the hour
			{at: 61 * time.Minute, n: 3, wantDropped: 1},
		}},
		{desc: "default hourly 1000", steps: func() []step {
			var s []step
			for i := range 34 { // 33 full minutes = 990, then 10 more allowed
				n, drop := 30, 0
				if i == 33 {
					drop = 20
				}
				s = append(s, step{at: time.Duration(i) * time.Minute, n: n, wantDropped: drop})
			}
			return s
		}()},
		{desc: "limits disabled", limits: []Limit{}, steps: []step{{at: 0, n: 100}}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *Options) { o.PerMemberLimits = tc.limits })
			b.clock.Set(start)
			tok := b.token()
			total, dropped := 0, 0
			for i, st := range tc.steps {
				b.clock.Set(start.Add(st.at))
				if st.at >= time.Hour {
					tok = b.token()
				}
				before := len(b.sim.Drops())
				for j := range st.n {
					// errcode 0 whether or not the message is dropped.
					wantCode(t, b.sendText(tok, "alice", fmt.Sprintf("s%d-%d", i, j)), CodeOK)
				}
				if got := len(b.sim.Drops()) - before; got != st.wantDropped {
					t.Fatalf("step %d (+%s): %d dropped, want %d", i, st.at, got, st.wantDropped)
				}
				total += st.n
				dropped += st.wantDropped
			}
			if got := len(b.sim.Deliveries("alice")); got != total-dropped {
				t.Fatalf("alice received %d, want %d", got, total-dropped)
			}
			c := b.sim.Counters("alice")
			if c.Delivered != total-dropped || c.Dropped != dropped {
				t.Fatalf("counters %+v", c)
			}
		})
	}
}

func TestDropIsPerMember(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.PerMemberLimits = []Limit{{Count: 1, Window: time.Minute}} })
	tok := b.token()
	wantCode(t, b.sendText(tok, "alice", "first"), CodeOK)
	r := b.send(tok, `{"touser":"alice|bob","toparty":"3","msgtype":"text","agentid":1000002,"text":{"content":"second"}}`)
	wantCode(t, r, CodeOK)
	if len(r.InvalidUser) != 0 {
		t.Fatalf("a dropped member is reported invalid: %s", r.InvalidUser)
	}
	m, _ := b.sim.Message(r.MsgID)
	if fmt.Sprint(m.Delivered) != "[bob frank]" || fmt.Sprint(m.Dropped) != "[alice]" {
		t.Fatalf("delivered %v dropped %v", m.Delivered, m.Dropped)
	}
	drops := b.sim.Drops()
	want := Drop{At: t0, CorpID: corp1, AgentID: agent, User: "alice", MsgID: r.MsgID, MsgType: "text",
		Reason: DropPerMember, Limit: Limit{Count: 1, Window: time.Minute}}
	if len(drops) != 1 || drops[0] != want {
		t.Fatalf("drops = %+v, want %+v", drops, want)
	}
}

func TestLimitsArePerApp(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.PerMemberLimits = []Limit{{Count: 1, Window: time.Minute}} })
	wantCode(t, b.sendText(b.token(), "alice", "from app 2"), CodeOK)
	body := `{"touser":"alice","msgtype":"text","agentid":1000003,"text":{"content":"from app 3"}}`
	wantCode(t, b.send(b.tokenOf(corp1, secretB), body), CodeOK)
	if got := len(b.sim.Deliveries("alice")); got != 2 {
		t.Fatalf("alice received %d, want 2 (one per app)", got)
	}
	if got := b.sim.WindowCount(corp1, agent, "ALICE", time.Minute); got != 1 {
		t.Fatalf("WindowCount = %d", got)
	}
}

func TestDailyLimit(t *testing.T) {
	t.Parallel()
	// 23:59:00 in Shanghai.
	start := time.Date(2025, 1, 6, 15, 59, 0, 0, time.UTC)
	b := setup(t, func(o *Options) { o.DailyLimit = 3 })
	b.clock.Set(start)
	tok := b.token()
	r := b.sendText(tok, "alice|bob|carol|dave", "hi")
	wantCode(t, r, CodeOK)
	drops := b.sim.Drops()
	if len(drops) != 1 || drops[0].User != "dave" || drops[0].Reason != DropDaily {
		t.Fatalf("drops = %+v", drops)
	}
	b.clock.Set(start.Add(time.Minute)) // 00:00 next day in Shanghai
	wantCode(t, b.sendText(tok, "dave", "hi"), CodeOK)
	if got := len(b.sim.Deliveries("dave")); got != 1 {
		t.Fatalf("dave received %d after the day changed", got)
	}
}

func TestLimitsUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			r, status, raw, err := b.do(t.Context(), "POST", "/cgi-bin/message/send?access_token="+tok, []byte(textBody("alice", fmt.Sprint(i))))
			if err != nil || status != 200 || r.ErrCode != 0 {
				t.Errorf("send: %d %s %v", status, raw, err)
			}
		})
	}
	wg.Wait()
	if d, dr := len(b.sim.Deliveries("alice")), len(b.sim.Drops()); d != 30 || dr != 70 {
		t.Fatalf("delivered %d dropped %d, want 30 and 70", d, dr)
	}
}
