package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/httpapi"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	_ "github.com/msgdispatch/msgdispatch/providers/all"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// The apps and tokens of the tests.
const (
	wecomApp = "hr"   // a self-built WeCom app on wecomsim
	wpsApp   = "appr" // a WPS 协作 app on xiezuosim

	tokenAll   = "tok-all-apps-0123456789"  // may use both apps
	tokenHR    = "tok-hr-only-0123456789"   // may use hr only
	tokenShare = "tok-share-hr-0123456789"  // hr, with 50% of its daily cap
	tokenDash  = "tok-dashboard-0123456789" // hr, dashboard read_only
	hookSecret = "whsec-0123456789abcdef-test"

	wecomCorp   = "wwcorp1"
	wecomAgent  = 1000002
	wecomSecret = "wecom-secret-never-shown"
	wpsKey      = "AK20240101API"
	wpsSecret   = "wps-secret-never-shown"
	wpsCompany  = "c-100"
	wpsToken    = "/o/woa/oauthapi/v3/inner/company/token"
	wpsUpdate   = "/o/woa/api/v2/developer/app/messages/update"
)

// wecomCard is an updatable WeCom card (button_interaction) titled title.
func wecomCard(title string) string {
	return fmt.Sprintf(`{"card_type":"button_interaction","main_title":{"title":%q},"button_list":[{"text":"OK","style":1,"key":"ok"}]}`, title)
}

// wpsCard is a WPS 协作 card whose text is text.
func wpsCard(text string) string {
	return fmt.Sprintf(`{"header":{"title":{"tag":"text","content":{"type":"plainText","text":"审批"}}},"elements":[{"tag":"text","content":{"type":"markdown","text":%q}}]}`, text)
}

// testBundle is a dispatcher on a private Redis: the API server over real
// HTTP, and (unless noWorker) a worker sending to the simulators.
type testBundle struct {
	t     *testing.T
	ctx   context.Context
	rdb   *redis.Client
	cfg   *config.Config
	api   *httpapi.Server
	url   string
	wecom *wecomsim.Sim
	wps   *xiezuosim.Sim
}

type setupOpts struct {
	noWorker bool
	// hrLimits is the limits block of the hr app ("" for the default).
	hrLimits string
	// apiYAML is added under api: (webhooks).
	apiYAML string
}

func setup(t *testing.T, opts ...func(*setupOpts)) *testBundle {
	t.Helper()
	var o setupOpts
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	b := &testBundle{t: t, ctx: ctx, rdb: redistest.Start(t).Client()}

	b.wecom = wecomsim.New(wecomsim.Options{})
	wurl, err := b.wecom.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.wecom.Close() })
	if err := b.wecom.AddApp(wecomsim.App{CorpID: wecomCorp, AgentID: wecomAgent, Secret: wecomSecret}); err != nil {
		t.Fatal(err)
	}
	b.wecom.AddUsers(wecomCorp, "zhangsan", "lisi", "wangwu")

	b.wps = xiezuosim.New(xiezuosim.Options{})
	purl, err := b.wps.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.wps.Close() })
	if err := b.wps.AddApp(xiezuosim.App{Key: wpsKey, Secret: wpsSecret, Signature: "wps4", HeaderStyle: xiezuo.HeaderStyleWPSDocs,
		UnsignedPrefix: "/o/woa", CompanyID: wpsCompany}); err != nil {
		t.Fatal(err)
	}
	b.wps.AddUsers(wpsCompany, "u1", "u2")

	limits := o.hrLimits
	if limits == "" {
		limits = "limits: {daily: 4}"
	}
	yml := fmt.Sprintf(`
peak: {enabled: false}
worker: {concurrency: 4, task_check_interval: 10ms, delayed_task_check_interval: 100ms, send_timeout: 5s, shutdown_timeout: 10s}
apps:
  %s:
    provider: wecom
    wecom: {base_url: %q, corp_id: %s, agent_id: %d, secret: %q}
    %s
  %s:
    provider: xiezuo
    xiezuo:
      base_url: %q
      app_key: %s
      app_secret: %s
      signature: wps4
      header_style: wps_docs
      company_token_path: %s
      update_path: %s
      biz_type: approval
      company_id: %s
      company_uid: bot-1
api:
  tokens:
    - {name: all, token: %s, apps: [%s, %s]}
    - {name: hr-only, token_sha256: %s, apps: [%s]}
    - {name: share, token: %s, apps: [%s], daily_percent: 50}
    - {name: dash, token: %s, apps: [%s], dashboard: read_only}
%s
`, wecomApp, wurl, wecomCorp, wecomAgent, wecomSecret, limits, wpsApp, purl, wpsKey, wpsSecret, wpsToken, wpsUpdate, wpsCompany,
		tokenAll, wecomApp, wpsApp, sha256hex(tokenHR), wecomApp, tokenShare, wecomApp, tokenDash, wecomApp, o.apiYAML)
	b.cfg, err = config.Parse([]byte(yml), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !o.noWorker {
		w, err := worker.New(worker.Options{Config: b.cfg, Redis: b.rdb, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Shutdown)
	}
	b.api, err = httpapi.New(httpapi.Options{Config: b.cfg, Redis: b.rdb})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.api.Handler())
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// reply is an HTTP answer: status, headers and the body decoded as JSON.
type reply struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

// errField is the error.field of r ("" when r is no error).
func (r reply) errField() string {
	e, _ := r.json["error"].(map[string]any)
	s, _ := e["field"].(string)
	return s
}

func (r reply) errCode() string {
	e, _ := r.json["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// do sends a plain HTTP request: token "" sends no Authorization header;
// headers are name, value pairs.
func (b *testBundle) do(method, path, token, body string, headers ...string) reply {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(b.ctx, method, b.url+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.json)
	return r
}

// must fails unless r has status want, and returns r.
func (b *testBundle) must(r reply, want int) reply {
	b.t.Helper()
	if r.status != want {
		b.t.Fatalf("HTTP %d, want %d: %s", r.status, want, r.raw)
	}
	return r
}

// keys returns every key of the test's Redis, sorted.
func (b *testBundle) keys() []string {
	b.t.Helper()
	ks, err := b.rdb.Keys(b.ctx, "*").Result()
	if err != nil {
		b.t.Fatal(err)
	}
	slices.Sort(ks)
	return ks
}

// records returns the keys of messages and tasks: delivery records,
// idempotency keys and asynq tasks (the worker's own bookkeeping of
// queues and servers left out).
func (b *testBundle) records() []string {
	b.t.Helper()
	var out []string
	for _, k := range b.keys() {
		if strings.Contains(k, ":rec:") || strings.Contains(k, ":idem:") || strings.Contains(k, "}:t:") {
			out = append(out, k)
		}
	}
	return out
}

// waitEnd long-polls the app's events (plain HTTP) until message id ends,
// and returns its terminal state.
func (b *testBundle) waitEnd(token, app, id string) string {
	b.t.Helper()
	after := "0"
	for {
		r := b.must(b.do("GET", "/v1/apps/"+app+"/events?wait=5s&after="+after, token, ""), 200)
		evs, _ := r.json["events"].([]any)
		for _, e := range evs {
			ev := e.(map[string]any)
			if ev["message_id"] == id {
				switch ev["state"] {
				case "accepted", "partially_accepted", "failed", "expired", "cancelled", "unknown":
					return ev["state"].(string)
				}
			}
		}
		after = r.json["next"].(string)
		if b.ctx.Err() != nil {
			b.t.Fatalf("message %s did not end", id)
		}
	}
}

// waitState long-polls the app's events until n messages reached state,
// and returns their ids.
func (b *testBundle) waitState(token, app, state string, n int) []string {
	b.t.Helper()
	after := "0"
	var ids []string
	for {
		r := b.must(b.do("GET", "/v1/apps/"+app+"/events?wait=5s&after="+after, token, ""), 200)
		for _, e := range r.json["events"].([]any) {
			if ev := e.(map[string]any); ev["state"] == state && !slices.Contains(ids, ev["message_id"].(string)) {
				ids = append(ids, ev["message_id"].(string))
			}
		}
		if len(ids) >= n {
			return ids
		}
		after = r.json["next"].(string)
		if b.ctx.Err() != nil {
			b.t.Fatalf("%d messages reached %s, want %d", len(ids), state, n)
		}
	}
}

// jsonBody marshals v.
func jsonBody(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return buf.String()
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
