package config

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseAPIAdditions: hashed tokens, daily shares, dashboard scopes and
// webhooks decode into their fields.
func TestParseAPIAdditions(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("s3cret-token"))
	hexSum := hex.EncodeToString(sum[:])
	c, err := parse(t, wecomApp+`api:
  tokens:
    - {name: billing, token: "${BILLING_TOKEN}", apps: [hr-bot], daily_percent: 25, dashboard: read_only}
    - {name: ops, token_sha256: `+hexSum+`, apps: [hr-bot], dashboard: full}
  webhooks:
    secret: 0123456789abcdef
    urls: {hr-bot: ["https://hooks.example.com/msgd"]}
    allow_message_urls: true
    max_attempts: 5
    max_backoff: 10s
`, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	tk := c.API.Tokens
	if tk[0].DailyPercent != 25 || tk[0].Dashboard != DashboardReadOnly || tk[1].TokenSHA256 != hexSum || tk[1].Dashboard != DashboardFull {
		t.Errorf("tokens = %+v", tk)
	}
	w := c.API.Webhooks
	if !w.On() || w.MaxAttempts != 5 || w.MaxBackoff != 10*time.Second || !slices.Equal(w.URLs["hr-bot"], []string{"https://hooks.example.com/msgd"}) {
		t.Errorf("webhooks = %+v", w)
	}
}

// TestParseAPIErrors: every mistake in the api additions is named by its path.
func TestParseAPIErrors(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("billing-t0ken"))
	hexSum := hex.EncodeToString(sum[:])
	cases := []struct {
		desc string
		yml  string
		want []string
	}{
		{
			desc: "token and hash both given, bad hash, a hash equal to a clear token",
			yml: `api:
  tokens:
    - {name: a, token: "${BILLING_TOKEN}", token_sha256: ` + hexSum + `, apps: [hr-bot]}
    - {name: b, token_sha256: nothex, apps: [hr-bot]}
    - {name: c, token: "${BILLING_TOKEN}", apps: [hr-bot]}
    - {name: d, token_sha256: ` + strings.ToUpper(hexSum) + `, apps: [hr-bot]}
`,
			want: []string{
				"api.tokens[0].token_sha256: give token or token_sha256, not both",
				"api.tokens[1].token_sha256: want 64 hex digits (the SHA-256 of the token)",
				"api.tokens[3].token_sha256: same token as api.tokens[2]",
			},
		},
		{
			desc: "bad daily share and dashboard scope",
			yml: `api:
  tokens:
    - {name: a, token: t1, apps: [hr-bot], daily_percent: 101, dashboard: admin}
    - {name: b, token: t2, apps: [hr-bot], daily_percent: -1}
`,
			want: []string{
				`api.tokens[0].daily_percent: want 0 (none) to 100, got 101`,
				`api.tokens[0].dashboard: want "read_only" or "full" (or leave it out), got "admin"`,
				`api.tokens[1].daily_percent: want 0 (none) to 100, got -1`,
			},
		},
		{
			desc: "webhooks without a secret, unknown app, bad URL, negative numbers",
			yml: `api:
  webhooks:
    urls: {hr-bot: ["ftp://x"], nope: ["https://ok.example.com"], empty: []}
    max_attempts: -1
    max_backoff: -1s
    timeout: -1s
`,
			want: []string{
				`api.webhooks.max_attempts: must not be negative`,
				`api.webhooks.max_backoff: must not be negative`,
				`api.webhooks.secret: required when webhooks are configured`,
				`api.webhooks.timeout: must not be negative`,
				`api.webhooks.urls.empty: unknown app "empty" (configured: hr-bot)`,
				`api.webhooks.urls.hr-bot[0]: want an absolute http or https URL, got "ftp://x"`,
				`api.webhooks.urls.nope: unknown app "nope" (configured: hr-bot)`,
			},
		},
		{
			desc: "short webhook secret",
			yml:  "api:\n  webhooks: {secret: short, allow_message_urls: true}\n",
			want: []string{"api.webhooks.secret: at least 16 bytes"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := parse(t, wecomApp+tc.yml, testEnv)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
