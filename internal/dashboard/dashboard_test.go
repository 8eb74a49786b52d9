package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/dashboard"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
)

const (
	fullToken = "dash-full-token-0123"
	roToken   = "dash-ro-token-0123"
	apiToken  = "api-only-token-0123"
)

type testBundle struct {
	t   *testing.T
	ctx context.Context
	rdb *redis.Client
	url string
}

// setup serves the dashboard on a private Redis holding one pending send
// task whose text is secret.
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{t: t, ctx: context.Background(), rdb: redistest.Start(t).Client()}
	d, err := dashboard.New(dashboard.Options{Redis: b.rdb, Tokens: []config.APIToken{
		{Name: "full", Token: fullToken, Apps: []string{"hr"}, Dashboard: config.DashboardFull},
		{Name: "ro", Token: roToken, Apps: []string{"hr"}, Dashboard: config.DashboardReadOnly},
		{Name: "api", Token: apiToken, Apps: []string{"hr"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	d.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	j := job.Send{ID: "hr.01jd8x7c3k9f2m4q6r8t0v2w4y", Message: providers.Message{App: "hr", Kind: providers.KindText, Text: "TOP-SECRET-BODY",
		To: providers.Recipients{Users: []string{"zhangsan", "lisi"}}}, Queue: "default"}
	payload, _ := json.Marshal(j)
	c := asynq.NewClientFromRedisClient(b.rdb)
	if _, err := c.Enqueue(asynq.NewTask(job.TypeSend, payload), asynq.TaskID(j.ID), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return b
}

// client is an HTTP client with a cookie jar that does not follow redirects.
func (b *testBundle) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (b *testBundle) login(c *http.Client, token string) *http.Response {
	b.t.Helper()
	resp, err := c.PostForm(b.url+"/monitoring/login", url.Values{"token": {token}})
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (b *testBundle) get(c *http.Client, path string) (*http.Response, string) {
	b.t.Helper()
	resp, err := c.Get(b.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}

// TestLoginRequired: without a session the pages redirect to the login and
// the API is 401; a wrong token or one without a dashboard scope is refused;
// a good one sets an HttpOnly, SameSite=Strict cookie that opens the queues.
func TestLoginRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client()
	if resp, _ := b.get(c, "/monitoring/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/monitoring/login" {
		t.Errorf("page without session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := b.get(c, "/monitoring/api/queues"); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "default") {
		t.Errorf("api without session: %d %s", resp.StatusCode, body)
	}
	for _, tok := range []string{"", "wrong", apiToken} {
		if resp := b.login(c, tok); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
			t.Errorf("login with %q: %d, cookies %v", tok, resp.StatusCode, resp.Cookies())
		}
	}
	// a forged cookie
	forged := &http.Cookie{Name: dashboard.CookieName, Value: "ZnVsbA.99999999999.AAAA"}
	req, _ := http.NewRequest("GET", b.url+"/monitoring/api/queues", nil)
	req.AddCookie(forged)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged cookie: %v %v", resp, err)
	}

	resp := b.login(c, fullToken)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/monitoring" || strings.Contains(ck.Value, fullToken) {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, path /monitoring, no token", ck)
	}
	if resp, body := b.get(c, "/monitoring/api/queues"); resp.StatusCode != 200 || !strings.Contains(body, `"default"`) {
		t.Errorf("queues after login: %d %s", resp.StatusCode, body)
	}
	if resp, body := b.get(c, "/monitoring/"); resp.StatusCode != 200 || !strings.Contains(body, "<html") {
		t.Errorf("page after login: %d", resp.StatusCode)
	}
}

// TestPayloadShowsNoBody: the task list shows the message id, app, kind and
// recipient count, never the text or the recipients.
func TestPayloadShowsNoBody(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client()
	b.login(c, roToken)
	resp, body := b.get(c, "/monitoring/api/queues/default/scheduled_tasks")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	for _, want := range []string{"hr.01jd8x7c3k9f2m4q6r8t0v2w4y", "app hr", "kind text", "2 recipients"} {
		if !strings.Contains(body, want) {
			t.Errorf("task list lacks %q: %s", want, body)
		}
	}
	for _, bad := range []string{"TOP-SECRET-BODY", "zhangsan"} {
		if strings.Contains(body, bad) {
			t.Errorf("task list shows %q", bad)
		}
	}
}

// TestReadOnlySession: a read_only session can read but not change a queue.
func TestReadOnlySession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		desc, token string
		wantOK      bool
	}{{"read_only", roToken, false}, {"full", fullToken, true}} {
		c := b.client()
		b.login(c, tc.token)
		resp, err := c.Post(b.url+"/monitoring/api/queues/default:pause", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ok := resp.StatusCode < 300; ok != tc.wantOK {
			t.Errorf("%s: pause queue → %d", tc.desc, resp.StatusCode)
		}
	}
}
