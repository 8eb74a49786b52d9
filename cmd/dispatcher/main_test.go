package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

type testBundle struct {
	ctx    context.Context
	cfg    string
	sim    *wecomsim.Sim
	stdout *bytes.Buffer
	stderr *bytes.Buffer
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	srv := redistest.Start(t)
	sim := wecomsim.New(wecomsim.Options{})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.AddApp(wecomsim.App{CorpID: "ww1", AgentID: 1000002, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	sim.AddUsers("ww1", "zhangsan")
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
worker: {task_check_interval: 10ms, delayed_task_check_interval: 100ms, send_timeout: 2s, shutdown_timeout: 5s, metrics_listen: "127.0.0.1:0"}
apps:
  hr:
    provider: wecom
    wecom: {base_url: %q, corp_id: ww1, agent_id: 1000002, secret: "${HR_SECRET}"}
`, srv.Addr, url)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return &testBundle{ctx: ctx, cfg: path, sim: sim, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
}

func (b *testBundle) run(args ...string) error {
	b.stdout.Reset()
	b.stderr.Reset()
	return run(b.ctx, args, b.stdout, b.stderr)
}

func TestSendWorkerStatus(t *testing.T) {
	t.Setenv("HR_SECRET", "s") // not parallel: t.Setenv
	b := setup(t)
	if err := b.run("send", "--config", b.cfg, "--app", "hr", "--to-user", "zhangsan", "--text", "from the CLI", "--key", "cli-1"); err != nil {
		t.Fatal(err, b.stderr)
	}
	id := strings.TrimSpace(b.stdout.String())
	if !strings.HasPrefix(id, "hr.") {
		t.Fatalf("send printed %q, want a message id", id)
	}

	wctx, stop := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- run(wctx, []string{"worker", "--config", b.cfg}, &bytes.Buffer{}, &bytes.Buffer{}) }()
	if err := b.sim.WaitDeliveries(b.ctx, 1); err != nil {
		t.Fatal("the worker did not deliver:", err)
	}
	stop() // what SIGTERM does
	if err := <-done; err != nil {
		t.Fatalf("worker exited with %v", err)
	}

	if err := b.run("status", "--config", b.cfg, id); err != nil {
		t.Fatal(err, b.stderr)
	}
	var st struct {
		State string `json:"state"`
		Parts []struct {
			Body   []byte `json:"body"`
			Result struct {
				ProviderMessageID string `json:"provider_message_id"`
			} `json:"result"`
		} `json:"parts"`
	}
	if err := json.Unmarshal(b.stdout.Bytes(), &st); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, b.stdout)
	}
	if st.State != "accepted" || len(st.Parts) != 1 || st.Parts[0].Result.ProviderMessageID == "" || st.Parts[0].Body != nil {
		t.Errorf("status %s", b.stdout)
	}
	if strings.Contains(b.stdout.String(), `"s"`) {
		t.Error("status shows the secret")
	}
}

func TestSendErrors(t *testing.T) {
	t.Setenv("HR_SECRET", "s")
	b := setup(t)
	tests := []struct {
		desc string
		args []string
		want string
	}{
		{desc: "no content", args: []string{"--to-user", "u"}, want: "exactly one of --text"},
		{desc: "two contents", args: []string{"--to-user", "u", "--text", "a", "--markdown", "b"}, want: "exactly one of --text"},
		{desc: "bad card file", args: []string{"--to-user", "u", "--card", "@/does/not/exist.json"}, want: "--card"},
		{desc: "card not json", args: []string{"--to-user", "u", "--card", "{nope"}, want: "--card: not valid JSON"},
		{desc: "bad time", args: []string{"--to-user", "u", "--text", "a", "--at", "tomorrow"}, want: "--at: want an RFC3339 time"},
		{desc: "no recipient", args: []string{"--text", "a"}, want: "to: no recipients"},
		{desc: "kind without body", args: []string{"--to-user", "u", "--kind", "news"}, want: "--kind and --body go together"},
		{desc: "news without articles", args: []string{"--to-user", "u", "--kind", "news", "--body", `{"articles":[]}`}, want: "body.articles"},
		{desc: "unknown app", args: []string{"--to-user", "u", "--text", "a", "--app", "nope"}, want: `app: "nope" is not a configured app`},
	}
	for _, tc := range tests {
		args := append([]string{"send", "--config", b.cfg, "--app", "hr"}, tc.args...)
		if err := b.run(args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.desc, err, tc.want)
		}
	}
	for _, tc := range []struct {
		desc string
		args []string
		want string
	}{
		{desc: "update: two contents", args: []string{"update", "--config", b.cfg, "hr.x", "--text", "a", "--button", "b"}, want: "exactly one of"},
		{desc: "update: no id", args: []string{"update", "--config", b.cfg, "--text", "a"}, want: "usage"},
		{desc: "update: unknown message", args: []string{"update", "--config", b.cfg, "hr.nosuchmessage", "--text", "a"}, want: "hr.nosuchmessage"},
		{desc: "cancel: no id", args: []string{"cancel", "--config", b.cfg}, want: "usage"},
		{desc: "cancel: not a message id", args: []string{"cancel", "--config", b.cfg, "nodot"}, want: "nodot"},
	} {
		if err := b.run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.desc, err, tc.want)
		}
	}
	if err := b.run("status", "--config", b.cfg); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("status without id: %v", err)
	}
	if err := b.run("bogus"); err == nil || !strings.Contains(err.Error(), `unknown command "bogus"`) {
		t.Errorf("unknown command: %v", err)
	}
}

func TestDevRunsTheDemo(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, []string{"dev", "--listen", "127.0.0.1:0", "--exit-after-demo"}, &out, &errs); err != nil {
		t.Fatalf("dev: %v\n%s\n%s", err, out.String(), errs.String())
	}
	for _, want := range []string{"/monitoring/", "text to one user", "accepted", "partially_accepted", "invalid users: nobody", "failed", "sees update 1 (updated)",
		// WPS 协作: a card clicked through a signed callback and updated; WPS 365: a card updated and a reply.
		`click    zhangsan pressed "approve"`, "for message wps.", "update   1 applied",
		"WPS 365: card wps365.", "update 1 applied", "in chat-dev (accepted)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dev output lacks %q:\n%s", want, out.String())
		}
	}
	// The demo's failure is expected: nothing on stderr looks like a fault.
	for _, bad := range []string{"Retry exhausted", "task failed", "WARN"} {
		if strings.Contains(errs.String(), bad) {
			t.Errorf("dev printed %q for the demo's expected failure:\n%s", bad, errs.String())
		}
	}
}

// dev serves the HTTP API with the token it prints: a producer in another
// language can try /v1 at once.
func TestDevServesTheHTTPAPI(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"dev", "--listen", "127.0.0.1:0", "--demo=false"}, pw, io.Discard)
		pw.CloseWithError(err)
		done <- err
	}()
	var api, token string
	sc := bufio.NewScanner(pr)
	for sc.Scan() && (api == "" || token == "") {
		if m := regexp.MustCompile(`http api\s+(\S+)/v1/\s+\(Authorization: Bearer (\S+);`).FindStringSubmatch(sc.Text()); m != nil {
			api, token = m[1], m[2]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if api == "" {
		t.Fatal("dev printed no http api line")
	}
	get := func(auth string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/v1/apps", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(token); code != http.StatusOK || !strings.Contains(body, `"wps365"`) || !strings.Contains(body, `"demo"`) {
		t.Errorf("GET /v1/apps with the printed token: %d %s", code, body)
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/apps without a token: %d, want 401", code)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("dev: %v", err)
	}
}
