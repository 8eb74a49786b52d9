package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
)

// TestMonitoringInChromium: a real headless Chromium loads /monitoring of a
// running `dispatcher api`, is sent to the login page (and the dashboard's
// API refuses it), logs in with a token that has a dashboard scope, gets an
// HttpOnly, SameSite=Strict cookie it cannot read from script, and sees the
// queues, with a waiting message's id but not its text. Skipped when
// chromium is not on PATH (CI installs it).
func TestMonitoringInChromium(t *testing.T) {
	t.Parallel()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not on PATH (apt-get install chromium; .ci/run installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv := redistest.Start(t)
	const dashToken = "dash-browser-token-0123456789"
	path := filepath.Join(t.TempDir(), "config.yaml")
	yml := fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:9", corp_id: ww1, agent_id: 1000002, secret: s}
api:
  listen: "127.0.0.1:0"
  tokens:
    - {name: ops, token: %s, apps: [hr], dashboard: read_only}
`, srv.Addr, dashToken)
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	// a message waiting in the default queue (not sent: no worker runs)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	id, err := producer.New(cfg, srv.Client()).Send(ctx, providers.Message{App: "hr", To: providers.Recipients{Users: []string{"zhangsan"}},
		Kind: providers.KindText, Text: "BROWSER-SECRET-TEXT"}, producer.NotBefore(time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	b := &mtBundle{t: t, ctx: ctx, cfg: path}
	base, _ := b.startAPI()

	br := startBrowser(t, chromium)
	page := br.page(ctx)

	// unauthenticated: the page is the login form, the dashboard API refuses
	br.navigate(ctx, page, base+"/monitoring/")
	if href := br.eval(ctx, page, "location.pathname"); href != "/monitoring/login" {
		t.Errorf("unauthenticated /monitoring/ ended at %v, want /monitoring/login", href)
	}
	if st := br.eval(ctx, page, "fetch('/monitoring/api/queues').then(r => r.status)"); st != float64(401) {
		t.Errorf("unauthenticated /monitoring/api/queues: %v, want 401", st)
	}
	// a wrong token is refused
	br.eval(ctx, page, `document.getElementById('token').value = 'wrong'; document.getElementById('login').click(); true`)
	if err := br.waitEvent(ctx, page, "Page.loadEventFired"); err != nil {
		t.Fatal(err)
	}
	if txt, _ := br.eval(ctx, page, "document.body.innerText").(string); !strings.Contains(txt, "Unknown token") {
		t.Errorf("after a wrong token: %q", txt)
	}
	// log in
	br.eval(ctx, page, fmt.Sprintf(`document.getElementById('token').value = %q; document.getElementById('login').click(); true`, dashToken))
	if err := br.waitEvent(ctx, page, "Page.loadEventFired"); err != nil {
		t.Fatal(err)
	}
	if c := br.eval(ctx, page, "document.cookie"); strings.Contains(fmt.Sprint(c), "msgd_dashboard") {
		t.Errorf("the session cookie is readable from script: %v", c)
	}
	var cookies struct {
		Cookies []struct {
			Name     string `json:"name"`
			HTTPOnly bool   `json:"httpOnly"`
			SameSite string `json:"sameSite"`
		} `json:"cookies"`
	}
	if err := br.call(ctx, page, "Network.getCookies", nil, &cookies); err != nil {
		t.Fatal(err)
	}
	if len(cookies.Cookies) != 1 || !cookies.Cookies[0].HTTPOnly || cookies.Cookies[0].SameSite != "Strict" {
		t.Errorf("cookies = %+v, want one HttpOnly SameSite=Strict", cookies.Cookies)
	}
	// the queues: asynqmon renders them from its API; wait until the table shows
	var txt string
	for !strings.Contains(txt, "default") {
		txt, _ = br.eval(ctx, page, `new Promise(r => setTimeout(() => r(document.body.innerText), 200))`).(string)
		if ctx.Err() != nil {
			t.Fatalf("the queues never showed; page text: %q", txt)
		}
	}
	if !strings.Contains(txt, "Queues") {
		t.Errorf("dashboard page lacks the queue list: %q", txt)
	}
	// the waiting task, through the page's own session: id shown, text not
	list, _ := br.eval(ctx, page, `fetch('/monitoring/api/queues/default/scheduled_tasks').then(r => r.text())`).(string)
	if !strings.Contains(list, id) || strings.Contains(list, "BROWSER-SECRET-TEXT") {
		t.Errorf("scheduled tasks as the browser sees them: %s", list)
	}
	var shot struct {
		Data string `json:"data"`
	}
	if err := br.call(ctx, page, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err == nil {
		png, _ := base64.StdEncoding.DecodeString(shot.Data)
		out := filepath.Join(t.TempDir(), "monitoring.png")
		if p := os.Getenv("MSGD_BROWSER_SCREENSHOT"); p != "" { // to look at it
			out = p
		}
		_ = os.WriteFile(out, png, 0o600)
		t.Logf("screenshot: %d bytes", len(png))
	}
}
