package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

// The CLI as a process reaches a Redis Cluster and a Sentinel-watched master
// from the config alone: send enqueues, status reads the record back.
func TestCLIOnClusterAndSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster and a Sentinel set-up")
	}
	t.Parallel()
	tests := []struct {
		desc  string
		redis func(t *testing.T) string // the config's redis block
	}{
		{desc: "cluster", redis: func(t *testing.T) string { return redistest.StartCluster(t).YAML() }},
		{desc: "sentinel", redis: func(t *testing.T) string { return redistest.StartSentinel(t).YAML() }},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "config.yaml")
			cfg := fmt.Sprintf(`
redis: %s
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s}
`, tc.redis(t))
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := runMain(t, "send", "--config", path, "--app", "hr", "--to-user", "zhangsan", "--text", "hello")
			id := strings.TrimSpace(stdout)
			if code != 0 || !strings.HasPrefix(id, "hr.") {
				t.Fatalf("send: exit %d, stdout %q, stderr %q; want exit 0 and an id", code, stdout, stderr)
			}
			stdout, stderr, code = runMain(t, "status", id, "--config", path)
			if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, `"state": "queued"`) {
				t.Errorf("status: exit %d, stdout %q, stderr %q; want the queued record of %s", code, stdout, stderr, id)
			}
		})
	}
}
