package wecomsim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc           string
		fault          Fault
		wantStatus     int
		wantCode       int
		wantRetryAfter string
	}{
		{desc: "system busy", fault: ErrCode(CodeSystemBusy), wantStatus: 200, wantCode: -1},
		{desc: "frequency limit", fault: ErrCode(CodeFreqLimit), wantStatus: 200, wantCode: 45009},
		{desc: "app disabled", fault: ErrCode(50003), wantStatus: 200, wantCode: 50003},
		{desc: "HTTP 500", fault: HTTPStatus(500, 0), wantStatus: 500},
		{desc: "HTTP 502", fault: HTTPStatus(502, 0), wantStatus: 502},
		{desc: "HTTP 503 with Retry-After", fault: HTTPStatus(503, 1500*time.Millisecond), wantStatus: 503, wantRetryAfter: "2"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tok := b.token()
			if err := b.sim.Inject(tc.fault.On(EndpointSend)); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", b.base+"/cgi-bin/message/send?access_token="+tok, strings.NewReader(textBody("alice", "hi")))
			res, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.wantStatus || res.Header.Get("Retry-After") != tc.wantRetryAfter {
				t.Fatalf("status %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
			}
			if tc.wantStatus == 200 {
				// Re-run through the JSON helper to check the errcode of a second fault.
				_ = b.sim.Inject(tc.fault.On(EndpointSend))
				wantCode(t, b.sendText(tok, "alice", "hi"), tc.wantCode)
			}
			if n := b.sim.DeliveryCount(); n != 0 {
				t.Fatalf("a faulted request was delivered %d times", n)
			}
			// The fault is used up: the next request goes through.
			wantCode(t, b.sendText(tok, "alice", "hi"), CodeOK)
			reqs := b.sim.RequestsTo(EndpointSend)
			if reqs[0].Fault == "" || reqs[0].HTTPStatus != tc.wantStatus {
				t.Fatalf("request record %+v", reqs[0])
			}
		})
	}
}

func TestFaultTargetingAndCount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.sim.Inject(ErrCode(CodeSystemBusy).On(EndpointSend).Times(2), ErrCode(CodeFreqLimit).On(EndpointGetToken)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, b.getToken(corp1, secret), CodeFreqLimit)
	tok := b.token() // the gettoken fault is used up
	wantCode(t, b.sendText(tok, "alice", "1"), CodeSystemBusy)
	wantCode(t, b.sendText(tok, "alice", "2"), CodeSystemBusy)
	wantCode(t, b.sendText(tok, "alice", "3"), CodeOK)
	if got := len(b.sim.PendingFaults()); got != 0 {
		t.Fatalf("%d faults left", got)
	}
	if got := b.sim.TokenFetches(corp1, agent); got != 1 {
		t.Fatalf("TokenFetches = %d, want 1 (the faulted call never reached the app)", got)
	}
}

func TestFaultForever(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	_ = b.sim.Inject(ErrCode(CodeSystemBusy).Times(-1))
	for range 5 {
		wantCode(t, b.sendText(tok, "alice", "x"), CodeSystemBusy)
	}
	b.sim.ClearFaults()
	wantCode(t, b.sendText(tok, "alice", "x"), CodeOK)
}

func TestInjectRejectsBadFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		fault Fault
	}{
		{desc: "no kind", fault: Fault{}},
		{desc: "errcode 0", fault: ErrCode(0)},
		{desc: "status 42", fault: HTTPStatus(42, 0)},
		{desc: "unknown endpoint", fault: LostResponse().On("message/nope")},
		{desc: "inverted latency", fault: LatencyBetween(time.Second, time.Millisecond)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if err := b.sim.Inject(ErrCode(-1), tc.fault); err == nil {
				t.Fatal("Inject accepted it")
			}
			if n := len(b.sim.PendingFaults()); n != 0 {
				t.Fatalf("%d faults queued", n)
			}
		})
	}
}

func TestLostResponse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	_ = b.sim.Inject(LostResponse().On(EndpointSend))
	body := dupBody("alice", 1, 0)
	_, _, _, err := b.do(t.Context(), "POST", "/cgi-bin/message/send?access_token="+tok, []byte(body))
	if err == nil {
		t.Fatal("the client got an answer")
	}
	d := b.sim.Deliveries("alice")
	if len(d) != 1 {
		t.Fatalf("delivered %d times, want 1: a lost response is still applied", len(d))
	}
	reqs := b.sim.RequestsTo(EndpointSend)
	if len(reqs) != 1 || !reqs[0].Lost || reqs[0].ErrCode != 0 || reqs[0].MsgID != d[0].MsgID {
		t.Fatalf("request record %+v", reqs)
	}
	// The unknown-outcome resend of the same bytes is suppressed and answers the msgid.
	r := b.send(tok, body)
	if r.ErrCode != 0 || r.MsgID != d[0].MsgID || len(b.sim.Deliveries("alice")) != 1 {
		t.Fatalf("resend = %+v", r)
	}
}

func TestLostResponseOnGetToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_ = b.sim.Inject(LostResponse().On(EndpointGetToken))
	// A fresh connection: Go retries an idempotent GET on a reused one.
	b.client.Transport.(*http.Transport).DisableKeepAlives = true
	_, _, _, err := b.do(t.Context(), "GET", "/cgi-bin/gettoken?corpid=ww1&corpsecret="+secret, nil)
	if err == nil {
		t.Fatal("the client got an answer")
	}
	if _, _, ok := b.sim.CurrentToken(corp1, agent); !ok {
		t.Fatal("the token was not issued")
	}
	if b.sim.TokenFetches(corp1, agent) != 1 {
		t.Fatal("not counted")
	}
}

func TestLostResponseWithoutHijack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	_ = b.sim.Inject(LostResponse())
	rr := httptest.NewRecorder()
	b.sim.ServeHTTP(rr, httptest.NewRequest("POST", "/cgi-bin/message/send?access_token="+tok, strings.NewReader(textBody("alice", "hi"))))
	if rr.Code != http.StatusBadGateway || b.sim.DeliveryCount() != 1 {
		t.Fatalf("status %d, %d deliveries", rr.Code, b.sim.DeliveryCount())
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	_ = b.sim.Inject(Latency(30*time.Millisecond), ErrCode(CodeSystemBusy))
	start := time.Now()
	r := b.sendText(tok, "alice", "hi")
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Fatalf("answered after %s", el)
	}
	wantCode(t, r, CodeSystemBusy) // latency combines with another fault
	reqs := b.sim.RequestsTo(EndpointSend)
	if reqs[0].Latency != 30*time.Millisecond || reqs[0].Fault != "latency(30ms)+errcode(-1)" {
		t.Fatalf("record %+v", reqs[0])
	}
}

func TestLatencyBetween(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	_ = b.sim.Inject(LatencyBetween(time.Millisecond, 5*time.Millisecond).Times(5))
	for range 5 {
		wantCode(t, b.sendText(tok, "alice", "hi"), CodeOK)
	}
	for _, r := range b.sim.RequestsTo(EndpointSend) {
		if r.Latency < time.Millisecond || r.Latency >= 5*time.Millisecond {
			t.Fatalf("latency %s outside [1ms, 5ms)", r.Latency)
		}
	}
}

func TestLatencyRespectsCancellation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	_ = b.sim.Inject(Latency(time.Hour).On(EndpointSend))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, _, _, err := b.do(ctx, "POST", "/cgi-bin/message/send?access_token="+tok, []byte(textBody("alice", "hi")))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if err := b.sim.WaitRequests(ctxTimeout(t), EndpointSend, 1); err != nil {
		t.Fatal(err)
	}
	r := b.sim.RequestsTo(EndpointSend)[0]
	if !r.Cancelled || b.sim.DeliveryCount() != 0 {
		t.Fatalf("record %+v, %d deliveries", r, b.sim.DeliveryCount())
	}
}

func TestDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	b.sim.SetDown(true)
	for _, path := range []string{"/cgi-bin/gettoken?corpid=ww1&corpsecret=" + secret, "/cgi-bin/message/send?access_token=" + tok} {
		_, status, _, err := b.do(t.Context(), "POST", path, []byte(textBody("alice", "hi")))
		if err != nil || status != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d, %v", path, status, err)
		}
	}
	if _, status, _, _ := b.do(t.Context(), "GET", "/sim/stats", nil); status != 200 {
		t.Fatalf("/sim/ down too: %d", status)
	}
	if b.sim.DeliveryCount() != 0 {
		t.Fatal("delivered while down")
	}
	b.sim.SetDown(false)
	wantCode(t, b.sendText(tok, "alice", "hi"), CodeOK)
	if reqs := b.sim.Requests(); reqs[1].Fault != "down" || reqs[1].HTTPStatus != 503 {
		t.Fatalf("record %+v", reqs[1])
	}
}

func TestFaultRates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		rates FaultRates
		check func(t *testing.T, status, code int, err error)
	}{
		{desc: "always busy", rates: FaultRates{SystemBusy: 1}, check: func(t *testing.T, status, code int, err error) {
			if err != nil || status != 200 || code != -1 {
				t.Fatalf("%d %d %v", status, code, err)
			}
		}},
		{desc: "always throttled", rates: FaultRates{Throttled: 1}, check: func(t *testing.T, status, code int, err error) {
			if err != nil || code != CodeFreqLimit {
				t.Fatalf("%d %d %v", status, code, err)
			}
		}},
		{desc: "always 5xx", rates: FaultRates{ServerError: 1}, check: func(t *testing.T, status, code int, err error) {
			if err != nil || status < 500 {
				t.Fatalf("%d %d %v", status, code, err)
			}
		}},
		{desc: "always lost", rates: FaultRates{LostResponse: 1}, check: func(t *testing.T, status, code int, err error) {
			if err == nil {
				t.Fatalf("answered %d", status)
			}
		}},
		{desc: "other endpoints only", rates: FaultRates{SystemBusy: 1, Endpoints: []string{EndpointRecall}}, check: func(t *testing.T, status, code int, err error) {
			if err != nil || code != 0 {
				t.Fatalf("%d %d %v", status, code, err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tok := b.token()
			if err := b.sim.SetFaults(tc.rates); err != nil {
				t.Fatal(err)
			}
			r, status, _, err := b.do(t.Context(), "POST", "/cgi-bin/message/send?access_token="+tok, []byte(textBody("alice", "hi")))
			tc.check(t, status, r.ErrCode, err)
		})
	}
}

func TestFaultRatesAreSeeded(t *testing.T) {
	t.Parallel()
	run := func() string {
		b := setup(t)
		tok := b.token()
		if err := b.sim.SetFaults(FaultRates{SystemBusy: 0.3, Throttled: 0.2}); err != nil {
			t.Fatal(err)
		}
		var out []string
		for i := range 40 {
			out = append(out, fmt.Sprint(b.sendText(tok, "alice", fmt.Sprint(i)).ErrCode))
		}
		return strings.Join(out, ",")
	}
	a, c := run(), run()
	if a != c {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, c)
	}
	if !strings.Contains(a, "-1") || !strings.Contains(a, "45009") || !strings.Contains(a, ",0") {
		t.Fatalf("implausible mix: %s", a)
	}
}

func TestSetFaultsRejectsBadRates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		rates FaultRates
	}{
		{desc: "negative", rates: FaultRates{SystemBusy: -0.1}},
		{desc: "over one", rates: FaultRates{Latency: 1.5}},
		{desc: "outcomes sum over one", rates: FaultRates{SystemBusy: 0.6, LostResponse: 0.6}},
		{desc: "inverted latency", rates: FaultRates{Latency: 1, MinLatency: time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if err := New(Options{}).SetFaults(tc.rates); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestInjectedFaultsUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.PerMemberLimits = []Limit{} })
	tok := b.token()
	_ = b.sim.Inject(ErrCode(CodeSystemBusy).On(EndpointSend).Times(25))
	var busy, ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			r, _, _, err := b.do(t.Context(), "POST", "/cgi-bin/message/send?access_token="+tok, []byte(textBody("bob", fmt.Sprint(i))))
			switch {
			case err != nil:
				t.Error(err)
			case r.ErrCode == CodeSystemBusy:
				busy.Add(1)
			case r.ErrCode == CodeOK:
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if busy.Load() != 25 || ok.Load() != 35 || b.sim.DeliveryCount() != 35 {
		t.Fatalf("busy %d ok %d delivered %d", busy.Load(), ok.Load(), b.sim.DeliveryCount())
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		max       int
		wantThird int
		wantPeak  int
	}{
		{desc: "over the cap", max: 2, wantThird: CodeConcurrencyLimit, wantPeak: 2},
		{desc: "no cap", max: 0, wantThird: CodeOK, wantPeak: 3},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *Options) { o.MaxConcurrentPerCorp = tc.max })
			tok := b.token()
			_ = b.sim.Inject(Latency(time.Hour).On(EndpointSend).Times(2))
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					_, _, _, _ = b.do(ctx, "POST", "/cgi-bin/message/send?access_token="+tok, []byte(textBody("alice", fmt.Sprint(i))))
				})
			}
			if err := b.sim.WaitFor(ctxTimeout(t), func() bool { cur, _ := b.sim.Concurrency(corp1, EndpointSend); return cur == 2 }); err != nil {
				t.Fatal(err)
			}
			// Another corp and another endpoint are not affected.
			wantCode(t, b.sendText(b.tokenOf(corp2, secret2), "zed", "x"), CodeOK)
			wantCode(t, b.sendText(tok, "alice", "third"), tc.wantThird)
			cancel()
			wg.Wait()
			if err := b.sim.WaitFor(ctxTimeout(t), func() bool { cur, _ := b.sim.Concurrency(corp1, EndpointSend); return cur == 0 }); err != nil {
				t.Fatal(err)
			}
			wantCode(t, b.sendText(tok, "alice", "fourth"), CodeOK)
			if _, peak := b.sim.Concurrency("WW1", EndpointSend); peak != tc.wantPeak {
				t.Fatalf("peak %d", peak)
			}
		})
	}
}
