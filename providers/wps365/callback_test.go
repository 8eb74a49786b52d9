package wps365_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wps365"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
)

type callbackBundle struct {
	*testBundle
	sink *memSink
	url  string
}

func setupCallback(t *testing.T) *callbackBundle {
	t.Helper()
	b := setup(t)
	sink := &memSink{}
	h, err := wps365.NewCallbackHandler(wps365.CallbackOptions{App: "app1", Config: b.cfg, Sink: sink, Now: b.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/callbacks/wps365/app1", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &callbackBundle{testBundle: b, sink: sink, url: srv.URL + "/callbacks/wps365/app1"}
}

func TestCallbackChallengeEchoed(t *testing.T) {
	t.Parallel()
	b := setupCallback(t)
	res, err := b.sim.FireChallenge(context.Background(), b.url, appID, "ch-123")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"challenge":"ch-123"`) {
		t.Fatalf("challenge answer %d %s", res.Status, res.Body)
	}
	if len(b.sink.Events()) != 0 {
		t.Fatalf("the URL check published an event")
	}
}

func TestCallbackCardClick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		click     func(c *wps365sim.CardClick, now time.Time)
		status    int
		published int
	}{
		{desc: "verified", click: func(*wps365sim.CardClick, time.Time) {}, status: http.StatusOK, published: 1},
		{desc: "forged with another secret", click: func(c *wps365sim.CardClick, _ time.Time) { c.Secret = "not-the-secret" }, status: http.StatusUnauthorized},
		{desc: "one byte changed after signing", click: func(c *wps365sim.CardClick, _ time.Time) {
			c.Tamper = func(b []byte) []byte { return []byte(strings.Replace(string(b), "approve", "approvf", 1)) }
		}, status: http.StatusUnauthorized},
		{desc: "stale date", click: func(c *wps365sim.CardClick, now time.Time) { c.SignedAt = now.Add(-6 * time.Minute) }, status: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setupCallback(t)
			click := wps365sim.CardClick{URL: b.url, AppID: appID, CompanyID: companyID, AppCtxID: "ctx-42", UserID: "u1",
				Action: "approve", Values: map[string]string{"comment": "ok"}}
			tc.click(&click, b.clock.Now())
			res, err := b.sim.FireCardClick(context.Background(), click)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Fatalf("status %d (%s), want %d", res.Status, res.Body, tc.status)
			}
			evs := b.sink.Events()
			if len(evs) != tc.published {
				t.Fatalf("%d events published, want %d", len(evs), tc.published)
			}
			if tc.published == 1 {
				ev := evs[0]
				if ev.Type != wps365.EventTypeCardClick || ev.AppCtxID != "ctx-42" || ev.Action != "approve" || ev.Values["comment"] != "ok" || ev.User != "u1" || ev.App != "app1" {
					t.Fatalf("event %+v", ev)
				}
			}
		})
	}
}

func TestCallbackReplayDeduplicated(t *testing.T) {
	t.Parallel()
	b := setupCallback(t)
	click := wps365sim.CardClick{URL: b.url, AppID: appID, CompanyID: companyID, AppCtxID: "ctx-1", Action: "ok"}
	for i := range 2 {
		res, err := b.sim.FireCardClick(context.Background(), click) // same date (manual clock), same body
		if err != nil || res.Status != http.StatusOK {
			t.Fatalf("fire %d: %v %d", i, err, res.Status)
		}
	}
	if n := len(b.sink.Events()); n != 1 {
		t.Fatalf("%d events, want the replay dropped", n)
	}
}

func TestCallbackEncryptedEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		tamper    func(env map[string]any)
		status    int
		published int
	}{
		{desc: "verified and decrypted", status: http.StatusOK, published: 1},
		{desc: "bad signature", tamper: func(env map[string]any) { env["topic"] = "kso.other" }, status: http.StatusUnauthorized},
		{desc: "stale time", tamper: func(env map[string]any) { env["time"] = env["time"].(int64) - 600 }, status: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setupCallback(t)
			res, err := b.sim.FireEvent(context.Background(), wps365sim.Event{URL: b.url, AppID: appID, Topic: "kso.app_chat.message",
				Operation: "create", Data: []byte(`{"chat_id":"c1","text":"hi"}`), Tamper: tc.tamper})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d", res.Status, tc.status)
			}
			evs := b.sink.Events()
			if len(evs) != tc.published {
				t.Fatalf("%d events, want %d", len(evs), tc.published)
			}
			if tc.published == 1 && (evs[0].Type != wps365.EventTypeEvent || evs[0].Topic != "kso.app_chat.message" || string(evs[0].Data) != `{"chat_id":"c1","text":"hi"}`) {
				t.Fatalf("event %+v", evs[0])
			}
		})
	}
}
