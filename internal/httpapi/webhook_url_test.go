package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/webhook"
)

// TestMessageWebhookURL: a message sent with webhook_url has its events
// POSTed there, signed; a message without one is not.
func TestMessageWebhookURL(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) {
		o.apiYAML = "  webhooks: {secret: " + hookSecret + ", allow_message_urls: true, max_backoff: 1s}\n"
	})
	type got struct {
		ev    map[string]any
		valid bool
	}
	ch := make(chan got, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		_ = json.Unmarshal(body, &ev)
		err := webhook.Verify([]byte(hookSecret), r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 0)
		ch <- got{ev, err == nil}
	}))
	t.Cleanup(rcv.Close)
	d, err := webhook.New(webhook.Options{Config: b.cfg, Redis: b.rdb, Logger: slog.New(slog.DiscardHandler)})
	if err != nil || d == nil {
		t.Fatalf("webhook.New: %v %v", d, err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Shutdown)

	plain := b.must(b.do("POST", "/v1/messages", tokenAll, `{"app":"hr","to":{"users":["lisi"]},"kind":"text","text":"no hook"}`), 202).json["id"].(string)
	id := b.must(b.do("POST", "/v1/messages", tokenAll, `{"app":"hr","to":{"users":["zhangsan"]},"kind":"text","text":"hooked","webhook_url":"`+rcv.URL+`/cb"}`), 202).json["id"].(string)
	b.waitEnd(tokenAll, wecomApp, plain)
	for {
		select {
		case g := <-ch:
			if !g.valid {
				t.Errorf("bad signature on %v", g.ev)
			}
			if g.ev["message_id"] != id {
				t.Fatalf("got an event of %v, want only %s's", g.ev["message_id"], id)
			}
			if g.ev["state"] == "accepted" {
				return
			}
		case <-b.ctx.Done():
			t.Fatal("no accepted event delivered")
		}
	}
}
