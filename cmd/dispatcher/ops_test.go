package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// Known values the log scan looks for: none may appear in any log line.
const (
	opsSecret = "S3cret-0f-the-hr-app-7f3a"
	opsBody   = "salary-review-body-91c2e"
)

// syncBuffer is in tenant_test.go.

type opsBundle struct {
	ctx  context.Context
	cfg  string
	sim  *wecomsim.Sim
	logs *syncBuffer
}

// setupOps is a Redis, a WeCom simulator with one app (its secret in the
// config file itself, so that the test runs in parallel) and a config whose
// worker serves its metrics on a free port.
func setupOps(t *testing.T) *opsBundle {
	t.Helper()
	srv := redistest.Start(t)
	sim := wecomsim.New(wecomsim.Options{})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.AddApp(wecomsim.App{CorpID: "ww1", AgentID: 1000002, Secret: opsSecret}); err != nil {
		t.Fatal(err)
	}
	sim.AddUsers("ww1", "zhangsan", "lisi", "wangwu")
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
worker: {task_check_interval: 10ms, delayed_task_check_interval: 100ms, send_timeout: 2s, shutdown_timeout: 5s, metrics_listen: "127.0.0.1:0"}
apps:
  hr:
    provider: wecom
    wecom: {base_url: %q, corp_id: ww1, agent_id: 1000002, secret: %q}
`, srv.Addr, url, opsSecret)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return &opsBundle{ctx: ctx, cfg: path, sim: sim, logs: &syncBuffer{}}
}

// send enqueues a message through the CLI and returns its id.
func (b *opsBundle) send(t *testing.T, args ...string) string {
	t.Helper()
	var out, errs bytes.Buffer
	if err := run(b.ctx, append([]string{"send", "--config", b.cfg, "--app", "hr"}, args...), &out, &errs); err != nil {
		t.Fatal(err, errs.String())
	}
	return strings.TrimSpace(out.String())
}

// startWorker runs `dispatcher worker` until the returned stop (SIGTERM's
// effect), and returns the address of its metrics server.
func (b *opsBundle) startWorker(t *testing.T) (addr string, stop func()) {
	t.Helper()
	listening := make(chan string, 1)
	wctx, cancel := context.WithCancel(context.WithValue(b.ctx, opsListeningKey{}, (chan<- string)(listening)))
	done := make(chan error, 1)
	go func() { done <- run(wctx, []string{"worker", "--config", b.cfg}, io.Discard, b.logs) }()
	select {
	case addr = <-listening:
	case err := <-done:
		cancel()
		t.Fatalf("worker exited: %v\n%s", err, b.logs)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker exited with %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return addr, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// waitMetric polls /metrics until it has line; each scrape is the signal.
func waitMetric(ctx context.Context, t *testing.T, addr, line string) string {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, body := get(t, "http://"+addr+"/metrics")
		if strings.Contains(body, line+"\n") {
			return body
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/metrics never showed %q; last scrape:\n%s", line, grepLines(body, "msgdispatch_"))
		case <-tick.C:
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func TestWorkerMetricsHealthAndLogsAfterARun(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	var ids []string
	for _, u := range []string{"zhangsan", "lisi", "wangwu"} {
		ids = append(ids, b.send(t, "--to-user", u, "--text", opsBody+" for "+u))
	}
	failedID := b.send(t, "--to-user", "nobody-here", "--text", opsBody) // no such user: refused
	addr, stop := b.startWorker(t)

	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, "http://"+addr+path); code != http.StatusOK {
			t.Errorf("%s = %d %q, want 200", path, code, body)
		}
	}
	if err := b.sim.WaitDeliveries(b.ctx, 3); err != nil {
		t.Fatal("the worker did not deliver:", err)
	}
	body := waitMetric(b.ctx, t, addr, `msgdispatch_messages_finished_total{app="hr",outcome="accepted",provider="wecom"} 3`)
	body = waitMetric(b.ctx, t, addr, `msgdispatch_messages_finished_total{app="hr",outcome="failed",provider="wecom"} 1`)
	for _, want := range []string{
		`msgdispatch_provider_request_duration_seconds_count{app="hr",class="ok",provider="wecom"} 3`,
		`msgdispatch_provider_request_duration_seconds_count{app="hr",class="permanent",provider="wecom"} 1`,
		`msgdispatch_token_refreshes_total{app="hr",provider="wecom"} 1`,
		`msgdispatch_breaker_state{app="hr",provider="wecom"} 0`,
		`asynq_tasks_processed_total{queue="default"}`,
		`asynq_queue_size{queue="default"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q; it has:\n%s", want, grepLines(body, "msgdispatch_"))
		}
	}
	for _, zero := range []string{
		`msgdispatch_token_refresh_failures_total{app="hr",provider="wecom"} 0`,
		`msgdispatch_messages_finished_total{app="hr",outcome="expired",provider="wecom"} 0`,
		`msgdispatch_late_arrivals_total{app="hr",provider="wecom"} 0`,
	} {
		if !strings.Contains(body, zero+"\n") {
			t.Errorf("/metrics lacks %q", zero)
		}
	}
	stop()

	// The logs: JSON, one line per task outcome, no secret, no body.
	logs := b.logs.String()
	for _, secret := range []string{opsSecret, opsBody} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
	outcomes := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, sc.Text())
		}
		if rec["msg"] == "send task" {
			id, _ := rec["message"].(string)
			if outcomes[id] != nil {
				t.Errorf("two outcome lines for %s", id)
			}
			outcomes[id] = rec
		}
	}
	for _, id := range append(ids, failedID) {
		rec := outcomes[id]
		if rec == nil {
			t.Errorf("no outcome line for %s in\n%s", id, logs)
			continue
		}
		want := map[string]any{"app": "hr", "provider": "wecom", "attempt": 1.0, "outcome": "accepted", "error_class": ""}
		if id == failedID {
			want["outcome"], want["error_class"] = "failed", "permanent"
		}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("%s: %s = %v, want %v", id, k, rec[k], v)
			}
		}
		if _, ok := rec["duration"].(float64); !ok {
			t.Errorf("%s: no duration in %v", id, rec)
		}
	}
}

func TestLogFormat(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	var out, errs bytes.Buffer
	err := run(b.ctx, []string{"worker", "--config", b.cfg, "--log-format", "yaml"}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "--log-format: want json or text") {
		t.Errorf("worker --log-format yaml: %v, want it refused", err)
	}
	err = run(b.ctx, []string{"api", "--config", b.cfg, "--log-format", "xml"}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("api --log-format xml: %v, want it refused", err)
	}
}

func TestAPIServesMetrics(t *testing.T) {
	t.Parallel()
	b := setupOps(t)
	listening := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.WithValue(b.ctx, apiListeningKey{}, (chan<- string)(listening)))
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"api", "--config", b.cfg, "--listen", "127.0.0.1:0"}, io.Discard, b.logs)
	}()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		cancel()
		t.Fatalf("api exited: %v", err)
	}
	b.send(t, "--to-user", "zhangsan", "--text", "queued") // a queue for asynq's metrics
	code, body := get(t, "http://"+addr+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `msgdispatch_webhook_deliveries_total{app="hr",result="delivered"} 0`) ||
		!strings.Contains(body, `asynq_queue_size{queue="default"} 1`) {
		t.Errorf("api /metrics = %d:\n%s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("api exited with %v", err)
	}
	var lines int
	for l := range strings.Lines(b.logs.String()) {
		if !json.Valid([]byte(l)) {
			t.Errorf("api log line not JSON: %s", l)
		}
		lines++
	}
	if lines == 0 {
		t.Error("the api logged nothing")
	}
}
