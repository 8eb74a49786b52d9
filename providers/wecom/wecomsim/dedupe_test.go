package wecomsim

import (
	"fmt"
	"testing"
	"time"
)

func dupBody(touser string, check int, interval int) string {
	iv := ""
	if interval != 0 {
		iv = fmt.Sprintf(`,"duplicate_check_interval":%d`, interval)
	}
	return fmt.Sprintf(`{"touser":%q,"msgtype":"text","agentid":1000002,"text":{"content":"hi"},"enable_duplicate_check":%d%s}`, touser, check, iv)
}

func TestDuplicateCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc           string
		first, second  string
		gap            time.Duration
		wantSuppressed bool
	}{
		{desc: "same bytes, default interval", first: dupBody("alice|bob", 1, 0), second: dupBody("alice|bob", 1, 0), gap: 1799 * time.Second, wantSuppressed: true},
		{desc: "same bytes after default interval", first: dupBody("alice|bob", 1, 0), second: dupBody("alice|bob", 1, 0), gap: 1800 * time.Second},
		{desc: "custom interval, inside", first: dupBody("alice|bob", 1, 60), second: dupBody("alice|bob", 1, 60), gap: 59 * time.Second, wantSuppressed: true},
		{desc: "custom interval, after", first: dupBody("alice|bob", 1, 60), second: dupBody("alice|bob", 1, 60), gap: 60 * time.Second},
		{desc: "4 h interval, inside", first: dupBody("alice|bob", 1, 14400), second: dupBody("alice|bob", 1, 14400), gap: 4*time.Hour - time.Second, wantSuppressed: true},
		{desc: "interval over 4 h is clamped", first: dupBody("alice|bob", 1, 20000), second: dupBody("alice|bob", 1, 20000), gap: 4 * time.Hour},
		{desc: "check disabled", first: dupBody("alice|bob", 0, 0), second: dupBody("alice|bob", 0, 0)},
		{desc: "different bytes, same meaning", first: dupBody("alice|bob", 1, 0), second: dupBody("alice|bob", 1, 0) + " "},
		{desc: "different recipients", first: dupBody("alice|bob", 1, 0), second: dupBody("alice", 1, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tok := b.token()
			first := b.send(tok, tc.first)
			wantCode(t, first, CodeOK)
			b.clock.Advance(tc.gap)
			tok = b.token() // the gap may outlive the token
			second := b.send(tok, tc.second)
			wantCode(t, second, CodeOK)
			if (second.MsgID == first.MsgID) != tc.wantSuppressed {
				t.Fatalf("second msgid %q, first %q, want suppressed %v", second.MsgID, first.MsgID, tc.wantSuppressed)
			}
			sup := b.sim.Suppressed()
			alice := b.sim.Deliveries("alice")
			if tc.wantSuppressed {
				if len(sup) != 1 || sup[0].MsgID != first.MsgID || !sup[0].OriginalAt.Equal(t0) || len(alice) != 1 {
					t.Fatalf("suppressed %+v, alice got %d", sup, len(alice))
				}
				if c := b.sim.Counters("bob"); c.Delivered != 1 || c.Suppressed != 1 {
					t.Fatalf("bob counters %+v", c)
				}
				reqs := b.sim.RequestsTo(EndpointSend)
				if !reqs[1].Duplicate || reqs[1].MsgID != first.MsgID {
					t.Fatalf("request record %+v", reqs[1])
				}
				return
			}
			if len(sup) != 0 || len(alice) != 2 {
				t.Fatalf("suppressed %+v, alice got %d", sup, len(alice))
			}
		})
	}
}

func TestDuplicateReplaysOriginalAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	body := `{"touser":"alice|ghost","msgtype":"template_card","agentid":1000002,"enable_duplicate_check":1,` +
		`"template_card":{"card_type":"button_interaction","task_id":"T9","main_title":{"title":"t"},"button_list":[{"text":"ok","key":"k"}]}}`
	first := b.send(tok, body)
	wantCode(t, first, CodeOK)
	// Not refused for reusing task_id: the duplicate check answers first.
	second := b.send(tok, body)
	if second.ErrCode != 0 || second.MsgID != first.MsgID || second.ResponseCode != first.ResponseCode ||
		string(second.InvalidUser) != string(first.InvalidUser) {
		t.Fatalf("second = %+v, first = %+v", second, first)
	}
}

func TestDuplicateIsPerApp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Byte-identical bodies sent by two corps' apps with the same agentid.
	body := `{"touser":"zed|alice","msgtype":"text","agentid":1000002,"text":{"content":"hi"},"enable_duplicate_check":1}`
	r1 := b.send(b.token(), body)
	r2 := b.send(b.tokenOf(corp2, secret2), body)
	wantCode(t, r1, CodeOK)
	wantCode(t, r2, CodeOK)
	if r1.MsgID == r2.MsgID || len(b.sim.Suppressed()) != 0 {
		t.Fatalf("suppressed across apps")
	}
}

func TestFailedRequestIsNotRemembered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := b.token()
	body := dupBody("ghost", 1, 0)
	wantCode(t, b.send(tok, body), CodeAllInvalid)
	b.sim.AddUsers(corp1, "ghost")
	r := b.send(tok, body)
	wantCode(t, r, CodeOK)
	if len(b.sim.Deliveries("ghost")) != 1 || len(b.sim.Suppressed()) != 0 {
		t.Fatal("a refused request suppressed its retry")
	}
}

func TestSuppressedDuplicatesDoNotCountAgainstLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) { o.PerMemberLimits = []Limit{{Count: 2, Window: time.Minute}} })
	tok := b.token()
	body := dupBody("alice", 1, 0)
	first := b.send(tok, body)
	for range 5 {
		if r := b.send(tok, body); r.MsgID != first.MsgID {
			t.Fatal("not suppressed")
		}
	}
	wantCode(t, b.sendText(tok, "alice", "second"), CodeOK)
	if got := len(b.sim.Deliveries("alice")); got != 2 || len(b.sim.Drops()) != 0 {
		t.Fatalf("alice got %d, drops %+v", got, b.sim.Drops())
	}
}
