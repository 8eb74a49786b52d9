package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
)

// send --to-chat and --reply-to reach a WPS 365 chat through the worker; a
// malformed --reply-to is refused naming the flag, with nothing enqueued.
func TestSendToChatAndReplyTo(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	sim := wps365sim.New(wps365sim.Options{})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	sim.AddApp("app-1", "sec-1", "c-1")
	sim.AddUsers("u1", "u2")
	sim.AddChat("chat-1", true, "u1", "u2")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `
redis: {addr: %q}
peak: {enabled: false}
worker: {task_check_interval: 10ms, delayed_task_check_interval: 100ms, send_timeout: 2s, shutdown_timeout: 5s}
apps:
  w365:
    provider: wps365
    wps365: {base_url: %q, app_id: app-1, app_secret: sec-1, company_id: c-1}
`, srv.Addr, url), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	send := func(args ...string) (string, error) {
		out.Reset()
		errs.Reset()
		err := run(ctx, append([]string{"send", "--config", cfg, "--app", "w365"}, args...), &out, &errs)
		return strings.TrimSpace(out.String()), err
	}

	if _, err := send("--reply-to", "chat-1", "--text", "x"); err == nil || !strings.Contains(err.Error(), "--reply-to") {
		t.Fatalf("--reply-to without a message id: %v, want an error naming --reply-to", err)
	}
	if n, err := srv.Client().DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("after a refused send Redis holds %d keys (%v), want none", n, err)
	}
	question, err := sim.PostUserMessage("chat-1", "u2", "ready?")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send("--to-chat", "chat-1", "--text", "to the chat"); err != nil {
		t.Fatal(err, errs.String())
	}
	if _, err := send("--reply-to", "chat-1/"+question, "--text", "yes"); err != nil {
		t.Fatal(err, errs.String())
	}

	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(wctx, []string{"worker", "--config", cfg}, &bytes.Buffer{}, &bytes.Buffer{}) }()
	var got []wps365sim.Message
	if err := sim.WaitFor(ctx, func() bool { got = sim.ChatMessages("chat-1"); return len(got) >= 3 }); err != nil {
		t.Fatalf("chat-1 holds %+v: %v", got, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	var toChat, reply bool
	for _, m := range got {
		toChat = toChat || (m.Via == wps365sim.EndpointCreate && strings.Contains(string(m.Content), "to the chat"))
		reply = reply || (m.Via == wps365sim.EndpointReply && m.ReplyTo == question)
	}
	if !toChat || !reply {
		t.Errorf("chat-1: %+v, want the message to the chat and the reply to %s", got, question)
	}
}
