package xiezuo

import (
	"fmt"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{AppKey: "AK1", AppSecret: "secret-DO-NOT-LOG", CompanyID: "c1", CompanyUID: "u0"}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		in   Config
		want Config
	}{
		{desc: "wps3 public cloud", in: validConfig(), want: Config{BaseURL: DefaultBaseURL, Signature: SignatureWPS3,
			CompanyTokenPath: DefaultCompanyTokenPath, SendPath: DefaultSendPathWPS3}},
		{desc: "wps4 private deployment", in: Config{BaseURL: "https://wps.corp/", Signature: SignatureWPS4, UpdatePath: "/o/woa/x", UpdateMethod: "put"},
			want: Config{BaseURL: "https://wps.corp", Signature: SignatureWPS4, HeaderStyle: HeaderStyleWPSDocs,
				UnsignedPrefix: "/o/woa", SendPath: DefaultSendPathWPS4, UpdatePath: "/o/woa/x", UpdateMethod: "PUT"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got := tc.in.Defaults()
			got.AppKey, got.AppSecret, got.CompanyID, got.CompanyUID = "", "", "", ""
			if got != tc.want {
				t.Fatalf("Defaults =\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		mutate  func(*Config)
		wantErr string // "" for valid
	}{
		{desc: "valid wps3", mutate: func(*Config) {}},
		{desc: "missing app_key", mutate: func(c *Config) { c.AppKey = "" }, wantErr: "app_key: required"},
		{desc: "missing app_secret", mutate: func(c *Config) { c.AppSecret = "" }, wantErr: "app_secret: required"},
		{desc: "bad signature", mutate: func(c *Config) { c.Signature = "kso1" }, wantErr: "signature: must be"},
		{desc: "bad header style", mutate: func(c *Config) { c.HeaderStyle = "x" }, wantErr: "header_style: must be"},
		{desc: "bad base_url", mutate: func(c *Config) { c.BaseURL = "openapi.wps.cn" }, wantErr: "base_url: must be an absolute"},
		{desc: "wps4 without token path", mutate: func(c *Config) { c.Signature = SignatureWPS4; c.CompanyTokenPath = "" }, wantErr: "company_token_path: required"},
		{desc: "update path with query", mutate: func(c *Config) { c.UpdatePath = "/x?y=1" }, wantErr: "update_path: must be a path"},
		{desc: "bad update method", mutate: func(c *Config) { c.UpdatePath = "/x"; c.UpdateMethod = "GET" }, wantErr: "update_method: must be"},
		{desc: "missing company_id", mutate: func(c *Config) { c.CompanyID = "" }, wantErr: "company_id: required"},
		{desc: "missing company_uid", mutate: func(c *Config) { c.CompanyUID = "" }, wantErr: "company_uid: required"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			if tc.desc == "wps4 without token path" {
				c.Signature = SignatureWPS4
			}
			c = c.Defaults()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "secret-DO-NOT-LOG"):
				t.Fatalf("Validate error leaks the secret: %v", err)
			}
		})
	}
}

func TestConfigStringHidesSecret(t *testing.T) {
	t.Parallel()
	c := validConfig().Defaults()
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "secret-DO-NOT-LOG") {
			t.Fatalf("config print leaks the secret: %s", s)
		}
		if !strings.Contains(s, "AK1") {
			t.Fatalf("config print lacks the app key: %s", s)
		}
	}
}
