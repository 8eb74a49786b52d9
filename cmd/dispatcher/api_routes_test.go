package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

// TestAPIServesV1AndMonitoring: a running `dispatcher api` mounts the HTTP
// API (its document public, the rest behind a token), the dashboard behind
// its login, next to /healthz.
func TestAPIServesV1AndMonitoring(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	yml := fmt.Sprintf(`
redis: {addr: %q}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:9", corp_id: ww1, agent_id: 1000002, secret: s}
api:
  listen: "127.0.0.1:0"
  tokens: [{name: a, token: tok-0123456789, apps: [hr]}]
`, srv.Addr)
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &mtBundle{t: t, ctx: ctx, cfg: path}
	base, _ := b.startAPI()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cases := []struct {
		desc, path, token string
		want              int
	}{
		{"health", "/healthz", "", 200},
		{"openapi, public", "/v1/openapi.json", "", 200},
		{"catalog without token", "/v1/apps", "", 401},
		{"catalog with token", "/v1/apps", "tok-0123456789", 200},
		{"dashboard without session", "/monitoring/", "", 302},
		{"dashboard login page", "/monitoring/login", "", 200},
		{"dashboard api without session", "/monitoring/api/queues", "", 401},
	}
	for _, tc := range cases {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.desc, tc.path, resp.StatusCode, tc.want)
		}
	}
}
