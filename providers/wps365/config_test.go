package wps365

import (
	"fmt"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{desc: "public cloud minimal", cfg: Config{AppID: "AK1", AppSecret: "s"}},
		{desc: "private deployment", cfg: Config{BaseURL: "https://wps.example.com/", AppID: "AK1", AppSecret: "s", UnsignedPrefix: "/openapi"}},
		{desc: "missing ids", cfg: Config{}, want: []string{"app_id: required", "app_secret: required"}},
		{desc: "base url with path", cfg: Config{BaseURL: "https://x.example/openapi", AppID: "a", AppSecret: "s"}, want: []string{"base_url:"}},
		{desc: "bad scheme", cfg: Config{BaseURL: "ftp://x", AppID: "a", AppSecret: "s"}, want: []string{"base_url:"}},
		{desc: "prefix without slash", cfg: Config{AppID: "a", AppSecret: "s", UnsignedPrefix: "openapi"}, want: []string{"unsigned_prefix:"}},
		{desc: "token path without slash", cfg: Config{AppID: "a", AppSecret: "s", TokenPath: "oauth2/token"}, want: []string{"token_path:"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestConfigDefaultsAndString(t *testing.T) {
	t.Parallel()
	c := Config{AppID: "AK1", AppSecret: "topsecret-value"}.Defaults()
	if c.BaseURL != DefaultBaseURL || c.TokenPath != DefaultTokenPath || c.CallbackMaxSkew != DefaultMaxSkew {
		t.Fatalf("defaults not applied: %+v", c)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "topsecret-value") {
			t.Fatalf("printed config leaks the secret: %s", s)
		}
	}
}
