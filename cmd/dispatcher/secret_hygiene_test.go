package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

// Secrets of the hygiene run, one per provider credential.
const (
	hyWecomSecret  = "wecom-app-s3cret-NEVER-PRINTED"
	hyXiezuoSecret = "xiezuo-app-s3cret-NEVER-PRINTED"
	hyWPSSecret    = "wps365-app-s3cret-NEVER-PRINTED"
)

// tokenRecorder is a reverse proxy in front of a simulator that remembers
// every credential the simulator hands out (any JSON string member whose
// name holds token, ticket, code or secret), so that the scan knows them.
type tokenRecorder struct {
	mu     sync.Mutex
	issued map[string]bool
}

var credentialKey = regexp.MustCompile(`(?i)token|ticket|permanent_code|secret`)

func (r *tokenRecorder) proxy(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var v any
		if json.Unmarshal(body, &v) == nil {
			r.collect("", v)
		}
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *tokenRecorder) collect(key string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			r.collect(k, x)
		}
	case []any:
		for _, x := range v {
			r.collect(key, x)
		}
	case string:
		if credentialKey.MatchString(key) && len(v) >= 8 {
			r.mu.Lock()
			if r.issued == nil {
				r.issued = map[string]bool{}
			}
			r.issued[v] = true
			r.mu.Unlock()
		}
	}
}

func (r *tokenRecorder) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.issued))
	for s := range r.issued {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// dumpRedis returns every key and value of the database, one per line.
func dumpRedis(ctx context.Context, t *testing.T, rdb *redis.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = rdb.Get(ctx, k).Result()
		case "hash":
			v, err = rdb.HGetAll(ctx, k).Result()
		case "list":
			v, err = rdb.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = rdb.SMembers(ctx, k).Result()
		case "zset":
			v, err = rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "stream":
			v, err = rdb.XRange(ctx, k, "-", "+").Result()
		case "none":
			continue // expired meanwhile
		default:
			t.Fatalf("key %s of unexpected type %s", k, typ)
		}
		if err != nil && err != redis.Nil {
			t.Fatalf("%s %s: %v", typ, k, err)
		}
		out[k] = fmt.Sprintf("%s %v", typ, v)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// leaks returns which secrets text holds, in clear or base64.
func leaks(text string, secrets []string) []string {
	var found []string
	for _, s := range secrets {
		if strings.Contains(text, s) || strings.Contains(text, base64.StdEncoding.EncodeToString([]byte(s))) {
			found = append(found, s[:min(8, len(s))]+"…")
		}
	}
	return found
}

// isTokenCache reports whether a Redis key is the shared access-token cache
// (msgd:tok:{…}) or the WeCom suite_ticket store, which hold the provider's
// short-lived tokens and the pushed ticket by design so that workers share
// them; the scan checks them for every other secret.
func isTokenCache(key string) bool {
	return strings.HasPrefix(key, "msgd:tok:") || strings.Contains(key, ":kv:suite_ticket:")
}

// Secret hygiene: the whole pipeline runs with known secrets for every
// provider (a self-built WeCom app, a third-party WeCom app installed by a
// tenant through real callbacks, WPS 协作, WPS 365) through `dispatcher
// worker --log-format json`, `send` and `status`, simulators behind proxies
// that record every token they issue. Then the JSON logs, every Redis key
// and value (SCAN + TYPE + the whole value, the events streams included),
// each `status` output and the /metrics exposition are scanned: no app
// secret, suite secret, callback token, AES key, tenant key, permanent code,
// auth code or issued token appears (issued tokens may appear only in the
// token cache). So are the bodies delivered to a webhook receiver, the HTTP
// API's answers (GET /v1/messages/{id}, GET /v1/apps, the events long poll)
// and the dashboard's asynqmon API (queues, servers, every queue's tasks in
// every state, payloads through its formatter) after a login.
func TestSecretHygiene(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	rec := &tokenRecorder{}

	wsim := wecomsim.New(wecomsim.Options{})
	wURL, err := wsim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wsim.Close() })
	if err := wsim.AddApp(wecomsim.App{CorpID: "ww1", AgentID: 1000002, Secret: hyWecomSecret}); err != nil {
		t.Fatal(err)
	}
	wsim.AddUsers("ww1", "zhangsan")

	xsim := xiezuosim.New(xiezuosim.Options{})
	xURL, err := xsim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { xsim.Close() })
	if err := xsim.AddApp(xiezuosim.App{Key: "AKHYGIENE", Secret: hyXiezuoSecret, CompanyID: "co1"}); err != nil {
		t.Fatal(err)
	}
	xsim.AddUsers("co1", "xz-user")

	psim := wps365sim.New(wps365sim.Options{})
	pURL, err := psim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = psim.Close() })
	psim.AddApp("AK365", hyWPSSecret, "c-1")
	psim.AddUsers("wps-user")

	hooks, hookURL := startHookReceiver(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
worker: {task_check_interval: 10ms, delayed_task_check_interval: 100ms, send_timeout: 2s, shutdown_timeout: 5s, metrics_listen: "127.0.0.1:0"}
api:
  listen: "127.0.0.1:0"
  tokens: [{name: hy, token: %s, apps: [%s, hr, xz, w365], dashboard: read_only}]
  webhooks: {secret: %s, urls: {%s: [%q], hr: [%q], xz: [%q], w365: [%q]}, max_backoff: 1s}
apps:
  %s:
    provider: wecom
    tenant_key: %s
    wecom: {base_url: %q, mode: third_party, suite_id: %s, suite_secret: %s, callback_token: %s, encoding_aes_key: %s}
  hr:
    provider: wecom
    wecom: {base_url: %q, corp_id: ww1, agent_id: 1000002, secret: %s}
  xz:
    provider: xiezuo
    xiezuo: {base_url: %q, app_key: AKHYGIENE, app_secret: %s, company_id: co1, company_uid: producer1}
  w365:
    provider: wps365
    wps365: {base_url: %q, app_id: AK365, app_secret: %s, company_id: c-1}
`, srv.Addr, hyAPIToken, mtApp, hyWebhookSecret, mtApp, hookURL, hookURL, hookURL, hookURL, mtApp, mtTenantKey, rec.proxy(t, wURL), mtSuiteID, mtSuiteSecret, mtCBToken, mtAESKey,
		rec.proxy(t, wURL), hyWecomSecret, rec.proxy(t, xURL), hyXiezuoSecret, rec.proxy(t, pURL), hyWPSSecret)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &mtBundle{t: t, ctx: ctx, cfg: path, redis: srv, rdb: srv.Client(), sim: wsim}
	events := b.watchEvents()
	base, apiLogs := b.startAPI()
	if err := wsim.AddSuite(wecomsim.Suite{ID: mtSuiteID, Secret: mtSuiteSecret, CallbackURL: base + "/callbacks/wecom/" + mtApp,
		Token: mtCBToken, EncodingAESKey: mtAESKey}); err != nil {
		t.Fatal(err)
	}

	// The worker, with JSON logs; its stdout names the /metrics address.
	wctx, stop := context.WithCancel(ctx)
	workerOut, workerLogs := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(wctx, []string{"worker", "--config", path, "--log-format", "json"}, workerOut, workerLogs)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker exited with %v", err)
		}
	})

	// The tenant installs the third-party app through real callbacks.
	ticket, _, err := wsim.FireSuiteTicket(ctx, mtSuiteID)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := wsim.InstallTenant(mtSuiteID, wecomsim.Install{CorpID: "wpCorpHygiene", CorpName: "Hy", AgentID: 1000017, UserMax: 10, Users: []string{"wmAlice"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wsim.FireCreateAuth(ctx, mtSuiteID, inst.AuthCode); err != nil {
		t.Fatal(err)
	}
	events.waitFor("tenant.added", eventIs("tenant.added", "tenant", "wpCorpHygiene"))
	permCode, ok := wsim.PermanentCode(mtSuiteID, "wpCorpHygiene")
	if !ok {
		t.Fatal("the simulator issued no permanent code")
	}

	// One message per app, and a card update on WPS 365.
	var ids []string
	for _, args := range [][]string{
		{"--app", mtApp, "--tenant", "wpCorpHygiene", "--to-user", "wmAlice", "--text", "hello tenant"},
		{"--app", "hr", "--to-user", "zhangsan", "--text", "hello wecom"},
		{"--app", "xz", "--to-user", "xz-user", "--text", "hello xiezuo"},
		{"--app", "w365", "--to-user", "wps-user", "--text", "hello wps365"},
	} {
		out, errs, err := b.run("", append([]string{"send", "--config", path}, args...)...)
		if err != nil {
			t.Fatalf("send %v: %v\n%s", args, err, errs)
		}
		ids = append(ids, strings.TrimSpace(out))
	}
	var statuses []string
	for _, id := range ids {
		app := id[:strings.Index(id, ".")]
		waitAccepted(t, ctx, b.rdb, app, id)
		out, errs, err := b.run("", "status", "--config", path, id)
		if err != nil {
			t.Fatalf("status %s: %v\n%s", id, err, errs)
		}
		if !strings.Contains(out, `"accepted"`) {
			t.Errorf("status of %s: %s", id, out)
		}
		statuses = append(statuses, out)
	}

	metricsText := scrapeMetrics(t, ctx, workerOut)

	// The HTTP side: webhook bodies, the HTTP API's answers (a long poll woken
	// by one more message), and the dashboard's API over tasks scheduled an
	// hour ahead, one per app, whose payloads it formats.
	hookBodies := hooks.waitHooks(t, ctx, ids)
	apps := []string{mtApp, "hr", "xz", "w365"}
	apiAnswers, _ := scanHTTPAPI(t, ctx, base, ids, apps, func() string {
		out, errs, err := b.run("", "send", "--config", path, "--app", "hr", "--to-user", "zhangsan", "--text", "woken")
		if err != nil {
			t.Fatalf("send: %v\n%s", err, errs)
		}
		return strings.TrimSpace(out)
	})
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, args := range [][]string{
		{"--app", mtApp, "--tenant", "wpCorpHygiene", "--to-user", "wmAlice"},
		{"--app", "hr", "--to-user", "zhangsan"},
		{"--app", "xz", "--to-user", "xz-user"},
		{"--app", "w365", "--to-user", "wps-user"},
	} {
		if _, errs, err := b.run("", append([]string{"send", "--config", path, "--at", at, "--text", "later"}, args...)...); err != nil {
			t.Fatalf("send --at %v: %v\n%s", args, err, errs)
		}
	}
	dashAnswers, dashTasks := scanDashboard(t, ctx, base)
	if dashTasks < 4 {
		t.Errorf("the dashboard lists %d tasks, want at least the 4 scheduled", dashTasks)
	}

	secrets := []string{hyWecomSecret, hyXiezuoSecret, hyWPSSecret, mtSuiteSecret, mtCBToken, mtAESKey, mtTenantKey, permCode, inst.AuthCode,
		hyAPIToken, hyWebhookSecret, ticket} // the ticket last: the token cache holds it by design
	issued := rec.tokens()
	if len(issued) < 4 {
		t.Fatalf("the proxies saw %d issued credentials, want at least a token per app: %q", len(issued), issued)
	}
	all := append(append([]string(nil), secrets...), issued...)
	check := func(what, text string, list []string) {
		if l := leaks(text, list); len(l) > 0 {
			t.Errorf("%s holds %d secret(s): %v", what, len(l), l)
		}
	}
	logs := workerLogs.String()
	if !strings.Contains(logs, `"level"`) {
		t.Fatalf("worker logs are not JSON:\n%.500s", logs)
	}
	check("worker JSON logs", logs, all)
	check("api logs", apiLogs.String(), all)
	check("status output", strings.Join(statuses, "\n"), all)
	check("/metrics", metricsText, all)
	check("webhook bodies", hookBodies, all)
	httpBytes := len(hookBodies)
	for _, answers := range []map[string]string{apiAnswers, dashAnswers} {
		for what, body := range answers {
			check(what, body, all)
			httpBytes += len(body)
		}
	}
	keys := dumpRedis(ctx, t, b.rdb)
	nStreams := 0
	for k, v := range keys {
		list := all
		if isTokenCache(k) {
			list = secrets[:len(secrets)-1] // holds tokens (and the suite ticket) by design
		}
		if strings.HasSuffix(k, ":events") {
			nStreams++
		}
		check("Redis key "+k, k+" "+v, list)
	}
	if nStreams < 4 {
		t.Errorf("%d events streams in Redis, want one per app", nStreams)
	}
	t.Logf("secret hygiene: %d secrets and %d issued credentials checked in %d bytes of logs, %d status outputs, %d bytes of /metrics, %d Redis keys, "+
		"%d webhook bodies, %d HTTP API answers, %d dashboard API answers listing %d tasks (%d bytes over HTTP)",
		len(secrets), len(issued), len(logs), len(statuses), len(metricsText), len(keys),
		hooks.count(), len(apiAnswers), len(dashAnswers), dashTasks, httpBytes)
}

// waitAccepted blocks on the app's events stream until id is accepted.
func waitAccepted(t *testing.T, ctx context.Context, rdb *redis.Client, app, id string) {
	t.Helper()
	last := "0"
	for {
		res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{"msgd:{" + app + "}:events", last}, Block: 5 * time.Second}).Result()
		if err != nil && err != redis.Nil {
			t.Fatalf("waiting for %s to be accepted: %v", id, err)
		}
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				if m.Values["message_id"] == id && m.Values["type"] == "accepted" {
					return
				}
				if b, _ := json.Marshal(m.Values); bytes.Contains(b, []byte(id)) && bytes.Contains(b, []byte(`"accepted"`)) {
					return
				}
			}
		}
	}
}

// scrapeMetrics reads the worker's /metrics at the address it printed.
func scrapeMetrics(t *testing.T, ctx context.Context, out *syncBuffer) string {
	t.Helper()
	var addr string
	for addr == "" {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "worker metrics on "); ok {
				addr = a
			}
		}
		if addr == "" {
			select {
			case <-ctx.Done():
				t.Fatal("the worker printed no metrics address")
			case <-time.After(20 * time.Millisecond): // polling the worker's output; no signal to wait on
			}
		}
	}
	resp, err := http.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || !bytes.Contains(body, []byte("# TYPE")) {
		t.Fatalf("/metrics: %d %v\n%.300s", resp.StatusCode, err, body)
	}
	return string(body)
}
