package wecomsim

import (
	"fmt"
	"testing"
	"time"
)

func TestRecall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc         string
		age          time.Duration
		msgid        func(sent string) string
		otherApp     bool
		body         string // overrides the request body
		wantCode     int
		wantRecalled bool
	}{
		{desc: "fresh", wantCode: CodeOK, wantRecalled: true},
		{desc: "exactly 24 h old", age: 24 * time.Hour, wantCode: CodeOK, wantRecalled: true},
		{desc: "older than 24 h", age: 24*time.Hour + time.Second, wantCode: CodeRecallExpired},
		{desc: "unknown msgid", msgid: func(string) string { return "nope" }, wantCode: CodeInvalidRequestParam},
		{desc: "empty msgid", msgid: func(string) string { return "" }, wantCode: CodeInvalidRequestParam},
		{desc: "msgid of another app", otherApp: true, wantCode: CodeInvalidRequestParam},
		{desc: "invalid JSON", body: `{"msgid":`, wantCode: CodeInvalidParam},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			sent := b.sendText(b.token(), "alice|bob", "oops")
			wantCode(t, sent, CodeOK)
			b.clock.Advance(tc.age)
			tok := b.token()
			if tc.otherApp {
				tok = b.tokenOf(corp1, secretB)
			}
			id := sent.MsgID
			if tc.msgid != nil {
				id = tc.msgid(sent.MsgID)
			}
			body := tc.body
			if body == "" {
				body = fmt.Sprintf(`{"msgid":%q}`, id)
			}
			wantCode(t, b.post("/cgi-bin/message/recall", tok, body), tc.wantCode)
			for _, u := range []string{"alice", "bob"} {
				d := b.sim.Deliveries(u)
				if got := !d[0].RecalledAt.IsZero(); got != tc.wantRecalled {
					t.Fatalf("%s: recalled %v, want %v", u, got, tc.wantRecalled)
				}
				if c := b.sim.Counters(u); (c.Recalled == 1) != tc.wantRecalled {
					t.Fatalf("%s counters %+v", u, c)
				}
			}
			if tc.wantRecalled {
				// Recalling again is harmless.
				wantCode(t, b.post("/cgi-bin/message/recall", tok, body), CodeOK)
				m, _ := b.sim.Message(sent.MsgID)
				if !m.RecalledAt.Equal(t0.Add(tc.age)) || b.sim.Stats().Recalls != 1 {
					t.Fatalf("message %+v stats %+v", m, b.sim.Stats())
				}
			}
		})
	}
}

func TestRecallNeedsToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wantCode(t, b.post("/cgi-bin/message/recall", "", `{"msgid":"x"}`), CodeMissingToken)
	wantCode(t, b.post("/cgi-bin/message/recall", "bad", `{"msgid":"x"}`), CodeInvalidToken)
}
