package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// LoadApps decodes only the named apps: another app's unset secret is no
// error, while Load still reports it.
func TestLoadAppsSkipsOtherApps(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.yaml")
	doc := `
redis: {addr: 127.0.0.1:1}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s}
  crm:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww2, agent_id: 1000003, secret: "${MSGD_TEST_SURELY_UNSET_SECRET}"}
api:
  tokens: [{name: t, token: "0123456789abcdef0123456789abcdef", apps: [hr, crm]}]
`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "MSGD_TEST_SURELY_UNSET_SECRET") {
		t.Fatalf("Load: %v, want the unset variable named", err)
	}
	c, err := LoadApps(path, "hr")
	if err != nil {
		t.Fatalf("LoadApps(hr): %v", err)
	}
	if _, ok := c.Apps["hr"]; !ok || len(c.Apps) != 1 {
		t.Errorf("apps %v, want hr only", c.Apps)
	}
	if _, err := LoadApps(path, "crm"); err == nil || !strings.Contains(err.Error(), "MSGD_TEST_SURELY_UNSET_SECRET") {
		t.Errorf("LoadApps(crm): %v, want its unset variable named", err)
	}
	c, err = LoadApps(path, "nope")
	if err != nil || len(c.Apps) != 0 {
		t.Fatalf("LoadApps(nope): %v, %v; want no error and no apps", c, err)
	}
	if _, err := c.App("nope"); err == nil || !strings.Contains(err.Error(), "configured: crm, hr") {
		t.Errorf("App(nope) = %v, want the file's apps listed", err)
	}
}
