package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// Secrets of the multi-tenant cases; none may appear in an error.
const (
	testSuiteSecret = "suite-s3cret-never-shown"
	testCBToken     = "cb-t0ken-never-shown"
	testAESKey      = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C" // WeCom's published sample key
	testTenantKey   = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
)

var modeEnv = map[string]string{
	"SUITE_SECRET": testSuiteSecret, "CB_TOKEN": testCBToken, "AES_KEY": testAESKey, "TENANT_KEY": testTenantKey,
	"HR_SECRET": "hr-s3cret",
}

// thirdPartyApp is a valid third-party app; %s is replaced by the mode.
const thirdPartyApp = `apps:
  crm:
    provider: wecom
    tenant_key: ${TENANT_KEY}
    wecom:
      base_url: https://qyapi.weixin.qq.com
      mode: %s
      suite_id: wwsuite1
      suite_secret: ${SUITE_SECRET}
      callback_token: ${CB_TOKEN}
      encoding_aes_key: ${AES_KEY}
`

func multiTenantYAML(mode string) string { return strings.Replace(thirdPartyApp, "%s", mode, 1) }

func TestWeComModesValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		yml  string
		want func() App
	}{
		{
			desc: "third_party",
			yml:  multiTenantYAML("third_party"),
			want: func() App {
				a := defaultApp()
				a.Block = &wecom.Config{
					BaseURL: "https://qyapi.weixin.qq.com", Mode: "third_party", SuiteID: "wwsuite1", SuiteSecret: testSuiteSecret,
					CallbackToken: testCBToken, EncodingAESKey: testAESKey, DuplicateCheckInterval: 4 * time.Hour,
				}
				a.TenantKey = testTenantKey
				return a
			},
		},
		{
			desc: "custom with a base64 tenant key and the provider corp id",
			yml: strings.Replace(strings.Replace(multiTenantYAML("custom"), "${TENANT_KEY}", "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=", 1),
				"suite_id: wwsuite1", "suite_id: dksuite1\n      provider_corp_id: wwprovider", 1),
			want: func() App {
				a := defaultApp()
				a.Block = &wecom.Config{
					BaseURL: "https://qyapi.weixin.qq.com", Mode: "custom", SuiteID: "dksuite1", ProviderCorpID: "wwprovider", SuiteSecret: testSuiteSecret,
					CallbackToken: testCBToken, EncodingAESKey: testAESKey, DuplicateCheckInterval: 4 * time.Hour,
				}
				a.TenantKey = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8="
				return a
			},
		},
		{
			desc: "self_built receiving callbacks",
			yml:  wecomApp[:len(wecomApp)-2] + `, callback_token: "${CB_TOKEN}", encoding_aes_key: "${AES_KEY}"}` + "\n",
			want: func() App {
				a := defaultApp()
				w := a.Block.(*wecom.Config)
				w.CallbackToken, w.EncodingAESKey = testCBToken, testAESKey
				return a
			},
		},
		{
			desc: "explicit self_built",
			yml:  strings.Replace(wecomApp, "base_url:", "mode: self_built, base_url:", 1),
			want: defaultApp,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, tt.yml, modeEnv)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(c.Apps) != 1 {
				t.Fatalf("apps %v", c.Apps)
			}
			for _, got := range c.Apps {
				if want := tt.want(); !reflect.DeepEqual(got, want) {
					t.Errorf("app =\n%#v\nwant\n%#v", got, want)
				}
			}
		})
	}
}

func TestWeComModesErrors(t *testing.T) {
	t.Parallel()
	tp := multiTenantYAML("third_party")
	tests := []struct {
		desc string
		yml  string
		env  map[string]string // modeEnv when nil
		want []string
	}{
		{
			desc: "third_party without its keys",
			yml:  "apps:\n  crm:\n    provider: wecom\n    tenant_key: ${TENANT_KEY}\n    wecom: {base_url: https://q.example.com, mode: third_party}\n",
			want: []string{
				"apps.crm.wecom.callback_token: required",
				"apps.crm.wecom.encoding_aes_key: required",
				"apps.crm.wecom.suite_id: required",
				"apps.crm.wecom.suite_secret: required",
			},
		},
		{
			desc: "custom without its keys",
			yml:  "apps:\n  crm:\n    provider: wecom\n    tenant_key: ${TENANT_KEY}\n    wecom: {base_url: https://q.example.com, mode: custom, suite_id: dk1}\n",
			want: []string{
				"apps.crm.wecom.callback_token: required",
				"apps.crm.wecom.encoding_aes_key: required",
				"apps.crm.wecom.suite_secret: required",
			},
		},
		{
			desc: "third_party with self-built keys",
			yml:  strings.Replace(tp, "      mode: third_party\n", "      mode: third_party\n      corp_id: ww1\n      agent_id: 7\n      secret: ${HR_SECRET}\n", 1),
			want: []string{
				"apps.crm.wecom.agent_id: not used with mode third_party: each tenant has its own agentid, learnt when it installs the app",
				"apps.crm.wecom.corp_id: not used with mode third_party: each tenant has its own corp id (set provider_corp_id for the service provider's own)",
				"apps.crm.wecom.secret: not used with mode third_party: each tenant has its own permanent code, learnt when it installs the app",
			},
		},
		{
			desc: "self_built with suite keys",
			yml:  strings.Replace(wecomApp, "base_url:", `suite_id: ww9, suite_secret: "${SUITE_SECRET}", base_url:`, 1),
			want: []string{
				"apps.hr-bot.wecom.suite_id: only used by modes third_party and custom",
				"apps.hr-bot.wecom.suite_secret: only used by modes third_party and custom",
			},
		},
		{
			desc: "self_built with half a callback config",
			yml:  strings.Replace(wecomApp, "base_url:", `callback_token: "${CB_TOKEN}", base_url:`, 1),
			want: []string{"apps.hr-bot.wecom.encoding_aes_key: required with callback_token (to receive the app's callbacks)"},
		},
		{
			desc: "unknown mode",
			yml:  strings.Replace(wecomApp, "base_url:", "mode: thirdparty, base_url:", 1),
			want: []string{`apps.hr-bot.wecom.mode: want self_built, third_party, custom, got "thirdparty"`},
		},
		{
			desc: "bad encoding_aes_key",
			yml:  tp,
			env:  map[string]string{"SUITE_SECRET": testSuiteSecret, "CB_TOKEN": testCBToken, "AES_KEY": "short", "TENANT_KEY": testTenantKey},
			want: []string{"apps.crm.wecom.encoding_aes_key: invalid: want the 43-character EncodingAESKey from the callback settings (EncodingAESKey must be 43 characters, got 5)"},
		},
		{
			desc: "no tenant_key",
			yml:  strings.Replace(tp, "    tenant_key: ${TENANT_KEY}\n", "", 1),
			want: []string{"apps.crm.tenant_key: required for an app with tenants: the key that encrypts the tenants' secrets at rest (32 bytes as 64 hex digits or base64; use ${ENV})"},
		},
		{
			desc: "short tenant_key",
			yml:  tp,
			env:  map[string]string{"SUITE_SECRET": testSuiteSecret, "CB_TOKEN": testCBToken, "AES_KEY": testAESKey, "TENANT_KEY": "0011223344"},
			want: []string{"apps.crm.tenant_key: want 32 bytes as 64 hex digits, got 10 digits (generate one with: openssl rand -hex 32)"},
		},
		{
			desc: "tenant_key on a self-built app",
			yml:  strings.Replace(wecomApp, "    provider: wecom\n", "    provider: wecom\n    tenant_key: ${TENANT_KEY}\n", 1),
			want: []string{"apps.hr-bot.tenant_key: only used by apps with tenants (whose provider block says so)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			env := tt.env
			if env == nil {
				env = modeEnv
			}
			c, err := parse(t, tt.yml, env)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", c)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, secret := range []string{testSuiteSecret, testCBToken, testAESKey, testTenantKey, env["TENANT_KEY"]} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestWeComRequiredKeysExist(t *testing.T) {
	t.Parallel()
	fields := yamlFields(reflect.TypeFor[wecom.Config]())
	for _, mode := range wecom.Modes {
		keys := (&wecom.Config{Mode: mode}).RequiredKeys()
		if len(keys) < 2 {
			t.Errorf("mode %s has required keys %v, want more than base_url", mode, keys)
		}
		for _, k := range keys {
			if _, ok := fields[k]; !ok {
				t.Errorf("mode %s: required key %q is not a yaml field of wecom.Config", mode, k)
			}
		}
	}
}
