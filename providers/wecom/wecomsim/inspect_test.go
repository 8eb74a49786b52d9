package wecomsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInspectHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.PerMemberLimits = []Limit{{Count: 1, Window: time.Minute}} })
	tok := b.token()
	first := b.sendText(tok, "alice|bob", "one")
	b.sendText(tok, "alice", "two") // dropped
	dup := dupBody("carol", 1, 0)
	b.send(tok, dup)
	b.send(tok, dup) // suppressed

	tests := []struct {
		desc       string
		method     string
		path       string
		body       string
		wantStatus int
		want       []string // substrings of the answer
		notWant    []string
	}{
		{desc: "deliveries of a user", method: "GET", path: "/sim/deliveries?user=ALICE", wantStatus: 200,
			want: []string{`"user":"alice"`, `"content":"one"`, first.MsgID}, notWant: []string{`"user":"bob"`}},
		{desc: "all deliveries", method: "GET", path: "/sim/deliveries", wantStatus: 200, want: []string{`"user":"bob"`, `"user":"carol"`}},
		{desc: "deliveries of nobody", method: "GET", path: "/sim/deliveries?user=ghost", wantStatus: 200, want: []string{"[]"}},
		{desc: "drops", method: "GET", path: "/sim/drops", wantStatus: 200,
			want: []string{`"user":"alice"`, `"reason":"per_member_limit"`, `"limit":{"count":1,"window":"1m0s"}`}},
		{desc: "suppressed", method: "GET", path: "/sim/suppressed", wantStatus: 200, want: []string{`"enable_duplicate_check":1`}},
		{desc: "requests by endpoint", method: "GET", path: "/sim/requests?endpoint=gettoken", wantStatus: 200,
			want: []string{`"endpoint":"gettoken"`}, notWant: []string{"message/send", secret, tok}},
		{desc: "counters of a user", method: "GET", path: "/sim/counters?user=alice", wantStatus: 200,
			want: []string{`{"delivered":1,"dropped":1,"suppressed":0,"recalled":0}`}},
		{desc: "all counters", method: "GET", path: "/sim/counters", wantStatus: 200, want: []string{`"carol":{"delivered":1,"dropped":0,"suppressed":1`}},
		{desc: "message", method: "GET", path: "/sim/messages/" + first.MsgID, wantStatus: 200, want: []string{`"delivered":["alice","bob"]`}},
		{desc: "unknown message", method: "GET", path: "/sim/messages/nope", wantStatus: 404},
		{desc: "stats", method: "GET", path: "/sim/stats", wantStatus: 200, want: []string{`"deliveries":3`, `"drops":1`, `"suppressed":1`}},
		{desc: "apps without secrets", method: "GET", path: "/sim/apps", wantStatus: 200,
			want: []string{`{"corp_id":"ww1","agent_id":1000002,"token_fetches":1}`}, notWant: []string{secret, secretB, secret2}},
		{desc: "concurrency", method: "GET", path: "/sim/concurrency?corp=ww1&endpoint=message/send", wantStatus: 200, want: []string{`"peak":1`}},
		{desc: "inject a fault", method: "POST", path: "/sim/faults", body: `{"kind":"latency","latency":"1.5s","endpoint":"message/send","count":2}`, wantStatus: 200},
		{desc: "bad fault", method: "POST", path: "/sim/faults", body: `{"kind":"boom"}`, wantStatus: 400},
		{desc: "bad duration", method: "POST", path: "/sim/faults", body: `{"kind":"latency","latency":"soon"}`, wantStatus: 400},
		{desc: "set rates", method: "PUT", path: "/sim/faults/rates", body: `{"system_busy":0.5,"min_latency":"1ms","max_latency":0.002}`, wantStatus: 200},
		{desc: "bad rates", method: "PUT", path: "/sim/faults/rates", body: `{"system_busy":2}`, wantStatus: 400},
		{desc: "add users", method: "POST", path: "/sim/users", body: `{"corp_id":"ww1","users":["Zoe"]}`, wantStatus: 200},
		{desc: "add users without corp", method: "POST", path: "/sim/users", body: `{"users":["Zoe"]}`, wantStatus: 400},
		{desc: "wrong method", method: "DELETE", path: "/sim/stats", wantStatus: 405},
	}
	// The routes' effects do not interfere: the control calls change faults, rates
	// and the directory, which no inspection route shows.
	t.Run("routes", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.desc, func(t *testing.T) {
				t.Parallel()
				var body []byte
				if tc.body != "" {
					body = []byte(tc.body)
				}
				_, status, raw, err := b.do(t.Context(), tc.method, tc.path, body)
				if err != nil || status != tc.wantStatus {
					t.Fatalf("status %d, %s, %v", status, raw, err)
				}
				for _, w := range tc.want {
					if !strings.Contains(string(raw), w) {
						t.Errorf("answer lacks %s:\n%s", w, raw)
					}
				}
				for _, w := range tc.notWant {
					if strings.Contains(string(raw), w) {
						t.Errorf("answer holds %s:\n%s", w, raw)
					}
				}
			})
		}
	})
	// The state changes made through the API took effect.
	if f := b.sim.PendingFaults(); len(f) != 1 || f[0].Latency != 1500*time.Millisecond || f[0].Count != 2 {
		t.Fatalf("faults %+v", f)
	}
	_, _, raw, _ := b.do(t.Context(), "GET", "/sim/faults", nil)
	if !strings.Contains(string(raw), `"latency":"1.5s"`) {
		t.Fatalf("GET /sim/faults: %s", raw)
	}
	b.sim.mu.Lock()
	rates := b.sim.rates
	b.sim.mu.Unlock()
	if rates.SystemBusy != 0.5 || rates.MinLatency != time.Millisecond || rates.MaxLatency != 2*time.Millisecond {
		t.Fatalf("rates %+v", rates)
	}
	if _, _, raw, _ := b.do(t.Context(), "DELETE", "/sim/faults", nil); !strings.Contains(string(raw), "ok") || len(b.sim.PendingFaults()) != 0 {
		t.Fatalf("DELETE /sim/faults: %s", raw)
	}
	wantCode(t, b.sendText(tok, "zoe", "hi"), CodeOK)
}

func TestInspectHTTPControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		path  string
		body  string
		check func(t *testing.T, b *testBundle, tok string)
	}{
		{desc: "down", path: "/sim/down", body: `{"down":true}`, check: func(t *testing.T, b *testBundle, tok string) {
			_, status, _, _ := b.do(t.Context(), "POST", "/cgi-bin/message/send?access_token="+tok, []byte(textBody("alice", "x")))
			if status != 503 {
				t.Fatalf("status %d", status)
			}
		}},
		{desc: "expire tokens", path: "/sim/tokens/expire", check: func(t *testing.T, b *testBundle, tok string) {
			wantCode(t, b.sendText(tok, "alice", "x"), CodeTokenExpired)
		}},
		{desc: "reset records", path: "/sim/reset", check: func(t *testing.T, b *testBundle, tok string) {
			if s := b.sim.Stats(); s != (Stats{}) {
				t.Fatalf("stats %+v", s)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tok := b.token()
			b.sendText(tok, "alice", "before")
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			if _, status, raw, err := b.do(t.Context(), "POST", tc.path, body); err != nil || status != 200 {
				t.Fatalf("status %d %s %v", status, raw, err)
			}
			tc.check(t, b, tok)
		})
	}
}

func TestWaitDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 5 {
			// Not b.sendText: FailNow must not be called off the test goroutine.
			r, _, _, err := b.do(context.Background(), "POST", "/cgi-bin/message/send?access_token="+tok, []byte(textBody("alice|bob", fmt.Sprint(i))))
			if err != nil || r.ErrCode != 0 {
				t.Errorf("send: %+v %v", r, err)
			}
		}
	})
	if err := b.sim.WaitDeliveries(ctxTimeout(t), 10); err != nil {
		t.Fatal(err)
	}
	if err := b.sim.WaitRequests(ctxTimeout(t), EndpointSend, 5); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := len(b.sim.Deliveries("bob")); got != 5 {
		t.Fatalf("bob got %d", got)
	}
}

func TestWaitForTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := b.sim.WaitFor(ctx, func() bool { return len(b.sim.Drops()) > 0 })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, func(o *Options) { o.Logger = logger })
	tok := b.token()
	b.getToken(corp1, "wrong-secret-value")
	wantCode(t, b.sendText(tok, "alice", "hi"), CodeOK)
	_ = b.sim.Inject(LostResponse())
	_, _, _, _ = b.do(t.Context(), "POST", "/cgi-bin/message/send?access_token="+tok, []byte(textBody("alice", "x")))
	out := logs.String()
	if strings.Count(out, "wecomsim request") != 4 {
		t.Fatalf("want 4 log records:\n%s", out)
	}
	for _, s := range []string{secret, "wrong-secret-value", tok} {
		if strings.Contains(out, s) {
			t.Fatalf("log holds %q:\n%s", s, out)
		}
	}
	for _, r := range b.sim.Requests() {
		raw, _ := json.Marshal(r)
		if strings.Contains(string(raw), secret) || strings.Contains(string(raw), tok) {
			t.Fatalf("request record holds a secret: %s", raw)
		}
	}
}

func TestResetRecordsKeepsState(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.PerMemberLimits = []Limit{{Count: 1, Window: time.Minute}} })
	tok := b.token()
	sent := b.sendText(tok, "alice", "one")
	b.sim.ResetRecords()
	if s := b.sim.Stats(); s != (Stats{}) || len(b.sim.Deliveries("")) != 0 {
		t.Fatalf("stats after reset %+v", s)
	}
	b.sendText(tok, "alice", "two") // the window survived the reset
	if len(b.sim.Drops()) != 1 {
		t.Fatal("limit window forgotten")
	}
	wantCode(t, b.post("/cgi-bin/message/recall", tok, fmt.Sprintf(`{"msgid":%q}`, sent.MsgID)), CodeOK)
}
