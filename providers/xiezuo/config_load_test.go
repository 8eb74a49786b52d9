package xiezuo_test

import (
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo"
)

// TestConfigThroughLoader: the xiezuo block as the core's config loader
// reads it under apps.<name>.xiezuo — errors named by their path, and the
// defaults the README states (on_unknown give_up, no per-recipient limit,
// limits settable like WeCom's, update disabled without update_path).
func TestConfigThroughLoader(t *testing.T) {
	t.Parallel()
	const head = "apps:\n  appr:\n    provider: xiezuo\n"
	tests := []struct {
		desc string
		yml  string
		want []string // substrings of the error; nil: valid
	}{
		{desc: "wps4 without app_key and company_token_path",
			yml:  head + "    xiezuo: {base_url: \"https://wps.example.com\", app_secret: sk-LEAK-9, signature: wps4, company_id: c, company_uid: u}\n",
			want: []string{"apps.appr.xiezuo.app_key: required", "apps.appr.xiezuo.company_token_path: required"}},
		{desc: "no base_url", yml: head + "    xiezuo: {app_key: k, app_secret: sk-LEAK-9, company_id: c, company_uid: u}\n",
			want: []string{"apps.appr.xiezuo.base_url: required"}},
		{desc: "bad signature and update_method",
			yml:  head + "    xiezuo: {base_url: \"https://openapi.wps.cn\", app_key: k, app_secret: sk-LEAK-9, signature: wps5, update_path: /u, update_method: GET, company_id: c, company_uid: u}\n",
			want: []string{"apps.appr.xiezuo.signature", "apps.appr.xiezuo.update_method"}},
		{desc: "public cloud, defaults", yml: head + "    xiezuo: {base_url: \"https://openapi.wps.cn\", app_key: k, app_secret: sk-LEAK-9, company_id: c, company_uid: u}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Parse([]byte(tc.yml), nil)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				app := cfg.Apps["appr"]
				if app.OnUnknown != config.OnUnknownGiveUp || len(app.Limits.PerRecipient) != 0 {
					t.Fatalf("on_unknown = %q, per_recipient = %v; want give_up and none", app.OnUnknown, app.Limits.PerRecipient)
				}
				c := app.Block.(*xiezuo.Config).Defaults()
				if c.Signature != xiezuo.SignatureWPS3 || c.SendPath != xiezuo.DefaultSendPathWPS3 || c.CompanyTokenPath != xiezuo.DefaultCompanyTokenPath || app.Block.Capabilities().Update {
					t.Fatalf("defaults = %s, update %v; want wps3 public-cloud paths, no update", c, app.Block.Capabilities().Update)
				}
				return
			}
			if err == nil {
				t.Fatal("Parse accepted the block")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "sk-LEAK-9") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

// TestLimitsSettable: no per-recipient limit is documented for WPS, but an
// app can set WeCom-style sliding windows.
func TestLimitsSettable(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte(`
apps:
  appr:
    provider: xiezuo
    limits: {per_recipient: [{count: 30, window: 1m}]}
    xiezuo: {base_url: "https://openapi.wps.cn", app_key: k, app_secret: sk-LEAK-9, company_id: c, company_uid: u}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Apps["appr"].Limits.PerRecipient; len(w) != 1 || w[0].Count != 30 || w[0].Window != time.Minute {
		t.Fatalf("per_recipient = %+v, want 30 per 1m", w)
	}
}
