package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// Credentials of the multi-tenant tests. The secrets must never be printed.
const (
	mtApp         = "crm"
	mtSuiteID     = "wwsuite0000000001"
	mtSuiteSecret = "suite-s3cret-NEVER-PRINTED"
	mtCBToken     = "cbT0kenNeverPrinted"
	mtAESKey      = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	mtTenantKey   = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	mtPermCode    = "perm-c0de-NEVER-PRINTED"
)

// mtBundle is a config with a third-party app (and a self-built one), its
// Redis, and a WeCom simulator with the app's suite.
type mtBundle struct {
	t     *testing.T
	ctx   context.Context
	cfg   string
	redis *redistest.Server
	rdb   *redis.Client
	sim   *wecomsim.Sim
}

func setupMultiTenant(t *testing.T) *mtBundle {
	t.Helper()
	srv := redistest.Start(t)
	sim := wecomsim.New(wecomsim.Options{})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.AddApp(wecomsim.App{CorpID: "ww1", AgentID: 1000002, Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}   # tests must not depend on the hour
worker: {task_check_interval: 10ms, delayed_task_check_interval: 100ms, send_timeout: 2s, shutdown_timeout: 5s, metrics_listen: "127.0.0.1:0"}
api: {listen: "127.0.0.1:0"}
apps:
  %s:
    provider: wecom
    tenant_key: %s
    wecom:
      base_url: %q
      mode: third_party
      suite_id: %s
      suite_secret: %s
      callback_token: %s
      encoding_aes_key: %s
  hr:
    provider: wecom
    wecom: {base_url: %q, corp_id: ww1, agent_id: 1000002, secret: s}
`, srv.Addr, mtApp, mtTenantKey, simURL, mtSuiteID, mtSuiteSecret, mtCBToken, mtAESKey, simURL)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &mtBundle{t: t, ctx: ctx, cfg: path, redis: srv, rdb: srv.Client(), sim: sim}
}

// run runs the dispatcher with args and returns its stdout and stderr.
func (b *mtBundle) run(stdin string, args ...string) (string, string, error) {
	var out, errs bytes.Buffer
	ctx := b.ctx
	if stdin != "" {
		ctx = context.WithValue(ctx, stdinKey{}, strings.NewReader(stdin))
	}
	err := run(ctx, args, &out, &errs)
	return out.String(), errs.String(), err
}

// tenantCmd runs `dispatcher tenant sub --config F --app crm args...`.
func (b *mtBundle) tenantCmd(stdin, sub string, args ...string) (string, string, error) {
	return b.run(stdin, append([]string{"tenant", sub, "--config", b.cfg, "--app", mtApp}, args...)...)
}

// syncBuffer is a buffer a goroutine writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startAPI runs `dispatcher api` until the test ends and returns its base URL
// and its output.
func (b *mtBundle) startAPI() (string, *syncBuffer) {
	b.t.Helper()
	addr := make(chan string, 1)
	ctx, stop := context.WithCancel(context.WithValue(b.ctx, apiListeningKey{}, (chan<- string)(addr)))
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"api", "--config", b.cfg}, logs, logs) }()
	b.t.Cleanup(func() {
		stop() // what SIGTERM does
		if err := <-done; err != nil {
			b.t.Errorf("api exited with %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a, logs
	case err := <-done:
		b.t.Fatalf("api exited: %v\n%s", err, logs)
	case <-b.ctx.Done():
		b.t.Fatal("api did not start")
	}
	return "", nil
}

// startWorker runs `dispatcher worker` until the test ends.
func (b *mtBundle) startWorker() *syncBuffer {
	b.t.Helper()
	ctx, stop := context.WithCancel(b.ctx)
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"worker", "--config", b.cfg}, logs, logs) }()
	b.t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			b.t.Errorf("worker exited with %v", err)
		}
	})
	return logs
}

// assertNoSecret fails if any text holds a secret of the tests.
func assertNoSecret(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range []string{mtSuiteSecret, mtCBToken, mtAESKey, mtTenantKey, mtPermCode} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows a secret (%.8s…):\n%s", what, s, text)
			}
		}
	}
}

func TestTenantCLI(t *testing.T) {
	t.Parallel()
	b := setupMultiTenant(t)

	out, errs, err := b.tenantCmd(mtPermCode+"\n", "add", "--corp", "wpCorpAbC", "--agent-id", "1000017", "--corp-name", "Corp Co",
		"--corp-user-max", "300", "--permanent-code", "-")
	if err != nil {
		t.Fatalf("add: %v\n%s", err, errs)
	}
	if !strings.Contains(out, "tenant wpCorpAbC of app crm added: agent 1000017") {
		t.Errorf("add printed %q", out)
	}
	assertNoSecret(t, "tenant add", out, errs)
	// The code is stored sealed.
	raw, _ := b.rdb.HGet(b.ctx, tenant.Key(mtApp, "wpCorpAbC"), "code").Result()
	if raw == "" || strings.Contains(raw, mtPermCode) {
		t.Errorf("stored code %q", raw)
	}
	// Added by hand with the code given as a value (allowed, discouraged).
	if _, errs, err := b.tenantCmd("", "add", "--corp", "wpOther", "--agent-id", "7", "--permanent-code", "another-code"); err != nil {
		t.Fatalf("add: %v\n%s", err, errs)
	}

	out, errs, err = b.tenantCmd("", "list")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CORP ID") || !strings.Contains(lines[1], "wpCorpAbC") ||
		!strings.Contains(lines[1], "Corp Co") || !strings.Contains(lines[1], "1000017") || !strings.Contains(lines[1], "300") ||
		!strings.Contains(lines[1], "active") || !strings.Contains(lines[2], "wpOther") {
		t.Errorf("list:\n%s", out)
	}
	assertNoSecret(t, "tenant list", out, errs)
	if strings.Contains(out, "another-code") {
		t.Errorf("list shows a permanent code:\n%s", out)
	}

	out, errs, err = b.tenantCmd("", "remove", "--corp", "wpCorpAbC")
	if err != nil || !strings.Contains(out, "tenant wpCorpAbC of app crm disabled") {
		t.Fatalf("remove: %q %v\n%s", out, err, errs)
	}
	if p, _ := appstate.New(b.rdb).Paused(b.ctx, mtApp, "wpCorpAbC"); p == nil || !strings.Contains(p.Reason, "dispatcher tenant remove") {
		t.Errorf("removed tenant is not paused: %+v", p)
	}
	out, _, _ = b.tenantCmd("", "list")
	if !strings.Contains(out, "disabled") || !strings.Contains(out, "removed by an operator") {
		t.Errorf("list after remove:\n%s", out)
	}
	if out, errs, err := b.tenantCmd("", "remove", "--corp", "wpOther", "--purge"); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("remove --purge: %q %v\n%s", out, err, errs)
	}
	out, _, _ = b.tenantCmd("", "list")
	if strings.Contains(out, "wpOther") {
		t.Errorf("purged tenant still listed:\n%s", out)
	}
}

// Errors name the flag at fault and never show the permanent code.
func TestTenantCLIErrors(t *testing.T) {
	t.Parallel()
	b := setupMultiTenant(t)
	tests := []struct {
		desc  string
		stdin string
		args  []string
		want  string
	}{
		{desc: "no subcommand", args: []string{"tenant"}, want: "give a subcommand"},
		{desc: "unknown subcommand", args: []string{"tenant", "rename"}, want: `unknown subcommand "rename"`},
		{desc: "no config", args: []string{"tenant", "list", "--app", mtApp}, want: "--config is required"},
		{desc: "no app", args: []string{"tenant", "list", "--config", b.cfg}, want: "--app is required"},
		{desc: "unknown app", args: []string{"tenant", "list", "--config", b.cfg, "--app", "nope"}, want: `--app: unknown app "nope"`},
		{desc: "self-built app", args: []string{"tenant", "list", "--config", b.cfg, "--app", "hr"}, want: "--app: app hr has no tenants"},
		{desc: "no corp", args: []string{"tenant", "add", "--config", b.cfg, "--app", mtApp, "--agent-id", "1", "--permanent-code", mtPermCode}, want: "--corp is required"},
		{desc: "bad corp", args: []string{"tenant", "add", "--config", b.cfg, "--app", mtApp, "--corp", "wp{1}", "--agent-id", "1", "--permanent-code", mtPermCode}, want: "--corp: corp id"},
		{desc: "no agent", args: []string{"tenant", "add", "--config", b.cfg, "--app", mtApp, "--corp", "wp1", "--permanent-code", mtPermCode}, want: "--agent-id is required"},
		{desc: "no code", args: []string{"tenant", "add", "--config", b.cfg, "--app", mtApp, "--corp", "wp1", "--agent-id", "1"}, want: "--permanent-code is required"},
		{desc: "empty stdin", args: []string{"tenant", "add", "--config", b.cfg, "--app", mtApp, "--corp", "wp1", "--agent-id", "1", "--permanent-code", "-"}, want: "stdin is empty"},
		{desc: "unset env", args: []string{"tenant", "add", "--config", b.cfg, "--app", mtApp, "--corp", "wp1", "--agent-id", "1", "--permanent-code-env", "MSGD_TEST_UNSET_VAR"}, want: "--permanent-code-env: environment variable MSGD_TEST_UNSET_VAR is not set"},
		{desc: "negative seats", args: []string{"tenant", "add", "--config", b.cfg, "--app", mtApp, "--corp", "wp1", "--agent-id", "1", "--corp-user-max", "-1", "--permanent-code", mtPermCode}, want: "--corp-user-max must not be negative"},
		{desc: "remove without corp", args: []string{"tenant", "remove", "--config", b.cfg, "--app", mtApp}, want: "--corp is required"},
		{desc: "remove unknown", args: []string{"tenant", "remove", "--config", b.cfg, "--app", mtApp, "--corp", "wpNobody"}, want: "--corp: tenant: disable"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			out, errs, err := b.run(tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if err != nil {
				assertNoSecret(t, "error", err.Error(), out, errs)
			}
		})
	}
}

// --permanent-code-env reads the code from the environment.
func TestTenantAddFromEnv(t *testing.T) {
	t.Setenv("MSGD_TEST_PERM_CODE", mtPermCode) // not parallel: t.Setenv
	b := setupMultiTenant(t)
	out, errs, err := b.tenantCmd("", "add", "--corp", "wpEnv", "--agent-id", "9", "--permanent-code-env", "MSGD_TEST_PERM_CODE")
	if err != nil {
		t.Fatalf("add: %v\n%s", err, errs)
	}
	assertNoSecret(t, "tenant add", out, errs)
	ts, err := tenant.New(b.rdb, mtApp, mustHex(t, mtTenantKey), tenant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ts.Get(b.ctx, "wpEnv")
	if err != nil || got.Secret != mtPermCode {
		t.Errorf("stored tenant %+v, %v", got, err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	k, err := providers.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// `dispatcher api` serves /healthz, /readyz (Redis answers) and 404 for apps
// without callbacks, and stops on SIGTERM.
func TestAPIHealth(t *testing.T) {
	t.Parallel()
	b := setupMultiTenant(t)
	base, logs := b.startAPI()
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/healthz", 200, "ok\n"},
		{"/readyz", 200, "ready\n"},
		{"/callbacks/wecom/hr", 404, ""},
		{"/callbacks/wecom/nope", 404, ""},
		{"/callbacks/xiezuo/crm", 404, ""},
	} {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.body != "" && body.String() != tt.body) {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body.String(), tt.status, tt.body)
		}
	}
	b.redis.Kill()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz without Redis = %d, want 503", resp.StatusCode)
	}
	b.redis.Restart()
	assertNoSecret(t, "api logs", logs.String())
}
