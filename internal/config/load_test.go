package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// wecomApp is a minimal valid apps section; cases about other sections append to it.
const wecomApp = `apps:
  hr-bot:
    provider: wecom
    wecom: {base_url: https://qyapi.weixin.qq.com, corp_id: ww1, agent_id: 1000002, secret: "${HR_SECRET}"}
`

// testEnv is the environment of most cases.
var testEnv = map[string]string{"HR_SECRET": "hr-s3cret", "BILLING_TOKEN": "billing-t0ken"}

// parse runs Parse on yml with env as the environment.
func parse(t *testing.T, yml string, env map[string]string) (*Config, error) {
	t.Helper()
	return Parse([]byte(yml), func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
}

// defaultApp is hr-bot of wecomApp with its defaults filled in.
func defaultApp() App {
	return App{
		Provider: "wecom",
		Block: &wecom.Config{
			Mode:                   "self_built",
			BaseURL:                "https://qyapi.weixin.qq.com",
			CorpID:                 "ww1",
			AgentID:                1000002,
			Secret:                 "hr-s3cret",
			DuplicateCheckInterval: 4 * time.Hour,
		},
		Limits: Limits{
			PerRecipient:  []Window{{Count: 30, Window: time.Minute}, {Count: 1000, Window: time.Hour}},
			Margin:        2 * time.Second,
			Concurrency:   20,
			Rate:          500,
			GroupSize:     100,
			MaxRecipients: 10000,
		},
		OnUnknown: "resend",
	}
}

// defaults is the config wecomApp parses to.
func defaults() *Config {
	return &Config{
		Worker: Worker{
			Concurrency:              50,
			Servers:                  1,
			Queues:                   map[string]int{"critical": 6, "default": 3, "low": 1},
			TaskCheckInterval:        100 * time.Millisecond,
			DelayedTaskCheckInterval: time.Second,
			FailureBudget:            10,
			SendTimeout:              15 * time.Second,
			ShutdownTimeout:          25 * time.Second,
			MessageTTL:               24 * time.Hour,
			Retention:                168 * time.Hour,
			InteractiveTTL:           720 * time.Hour,
			PauseFor:                 time.Hour,
			Breaker:                  Breaker{Failures: 5, Timeout: 30 * time.Second},
			MetricsListen:            ":9090",
		},
		Peak:  Peak{Enabled: new(true), Minutes: []int{0, 30}, Guard: 60 * time.Second, Spread: 120 * time.Second},
		Apps:  map[string]App{"hr-bot": defaultApp()},
		API:   API{Listen: ":8080"},
		Redis: Redis{},
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		yml  string
		env  map[string]string
		want func() *Config
	}{
		{
			desc: "defaults",
			yml:  wecomApp,
			env:  testEnv,
			want: defaults,
		},
		{
			desc: "null sections keep their defaults",
			yml:  wecomApp + "worker:\npeak: ~\napi: {listen: ~}\n",
			env:  testEnv,
			want: defaults,
		},
		{
			// docs/architecture.md, with the ${ENV} references inside {…} quoted (unquoted
			// they are a YAML syntax error, see TestParseErrors).
			desc: "docs/architecture.md example",
			yml: `
redis: {addr: 127.0.0.1:6379}        # or url / sentinel; empty in dev = embedded
worker: {concurrency: 50, servers: 1, task_check_interval: 100ms, failure_budget: 10,
         send_timeout: 15s, shutdown_timeout: 25s, message_ttl: 24h}
peak: {enabled: true, minutes: [0, 30], guard: 60s, spread: 120s}
apps:
  hr-bot:
    provider: wecom
    wecom: {base_url: https://qyapi.weixin.qq.com, corp_id: ww1, agent_id: 1000002, secret: "${HR_SECRET}"}
    limits: {per_recipient: [{count: 30, window: 1m}, {count: 1000, window: 1h}], daily: 100000,
             margin: 2s, urgent_headroom: 5}
api: {listen: ":8080", tokens: [{name: billing, token: "${BILLING_TOKEN}", apps: [hr-bot]}]}
`,
			env: testEnv,
			want: func() *Config {
				c := defaults()
				c.Redis.Addr = "127.0.0.1:6379"
				a := c.Apps["hr-bot"]
				a.Limits.Daily = 100000
				a.Limits.UrgentHeadroom = 5
				c.Apps["hr-bot"] = a
				c.API.Tokens = []APIToken{{Name: "billing", Token: "billing-t0ken", Apps: []string{"hr-bot"}}}
				return c
			},
		},
		{
			desc: "every key set",
			yml: `
redis:
  addr: redis:6379
  url: redis://redis:6379/2
  password: ${REDIS_PASSWORD}
  db: 2
worker:
  concurrency: 8
  servers: 3
  queues: {critical: 10, default: 5, low: 2, bulk: 1}
  task_check_interval: 50ms
  delayed_task_check_interval: 500ms
  failure_budget: 4
  send_timeout: 5s
  shutdown_timeout: 6s
  message_ttl: 2h
  retention: 48h
  pause_for: 30m
peak:
  enabled: false
  minutes: [0, 15, 30, 45]
  guard: 30s
  spread: 1m
apps:
  hr-bot:
    provider: wecom
    wecom:
      base_url: http://127.0.0.1:9001/
      corp_id: ww2
      agent_id: 7
      secret: ${HR_SECRET}
      duplicate_check_interval: 1h
    limits:
      per_recipient:
        - {count: 3, window: 1s}
      daily: 0
      margin: 0s
      urgent_headroom: 0
    on_unknown: give_up
  ops_2:
    provider: wecom
    wecom: {base_url: https://wecom.example.com, corp_id: ww3, agent_id: 8, secret: "${OPS_SECRET}"}
api:
  listen: 127.0.0.1:9000
  tokens:
    - name: billing
      token: ${BILLING_TOKEN}
      apps: [hr-bot, ops_2]
    - {name: ops, token: "${OPS_TOKEN}", apps: [ops_2]}
`,
			env: map[string]string{
				"REDIS_PASSWORD": "r", "HR_SECRET": "h", "OPS_SECRET": "o", "BILLING_TOKEN": "b", "OPS_TOKEN": "t",
			},
			want: func() *Config {
				ops := defaultApp()
				ops.Block = &wecom.Config{Mode: "self_built", BaseURL: "https://wecom.example.com", CorpID: "ww3", AgentID: 8, Secret: "o", DuplicateCheckInterval: 4 * time.Hour}
				return &Config{
					Redis: Redis{Addr: "redis:6379", URL: "redis://redis:6379/2", Password: "r", DB: 2},
					Worker: Worker{
						Concurrency:              8,
						Servers:                  3,
						Queues:                   map[string]int{"critical": 10, "default": 5, "low": 2, "bulk": 1},
						TaskCheckInterval:        50 * time.Millisecond,
						DelayedTaskCheckInterval: 500 * time.Millisecond,
						FailureBudget:            4,
						SendTimeout:              5 * time.Second,
						ShutdownTimeout:          6 * time.Second,
						MessageTTL:               2 * time.Hour,
						Retention:                48 * time.Hour,
						InteractiveTTL:           720 * time.Hour,
						PauseFor:                 30 * time.Minute,
						Breaker:                  Breaker{Failures: 5, Timeout: 30 * time.Second},
						MetricsListen:            ":9090",
					},
					Peak: Peak{Enabled: new(false), Minutes: []int{0, 15, 30, 45}, Guard: 30 * time.Second, Spread: time.Minute},
					Apps: map[string]App{
						"hr-bot": {
							Provider:  "wecom",
							Block:     &wecom.Config{Mode: "self_built", BaseURL: "http://127.0.0.1:9001/", CorpID: "ww2", AgentID: 7, Secret: "h", DuplicateCheckInterval: time.Hour},
							Limits:    Limits{PerRecipient: []Window{{Count: 3, Window: time.Second}}, Concurrency: 20, Rate: 500, GroupSize: 100, MaxRecipients: 10000},
							OnUnknown: "give_up",
						},
						"ops_2": ops,
					},
					API: API{Listen: "127.0.0.1:9000", Tokens: []APIToken{
						{Name: "billing", Token: "b", Apps: []string{"hr-bot", "ops_2"}},
						{Name: "ops", Token: "t", Apps: []string{"ops_2"}},
					}},
				}
			},
		},
		{
			desc: "anchors and aliases",
			yml: `apps:
  hr-bot:
    provider: wecom
    wecom: &wecom {base_url: https://qyapi.weixin.qq.com, corp_id: ww1, agent_id: 1000002, secret: "${HR_SECRET}"}
    limits: &limits {per_recipient: [{count: 5, window: 1m}]}
  hr-bot2:
    provider: wecom
    wecom: *wecom
    limits: *limits
`,
			env: testEnv,
			want: func() *Config {
				c := defaults()
				a := defaultApp()
				a.Limits.PerRecipient = []Window{{Count: 5, Window: time.Minute}}
				c.Apps = map[string]App{"hr-bot": a, "hr-bot2": a}
				return c
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := parse(t, tt.yml, tt.env)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if want := tt.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestParseExpansion(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"HR_SECRET": "h", "A": "a", "B": "b", "E": "${A}", "BLANK": " ",
		"N": "8", "T": "false", "D": "90s",
	}
	tests := []struct {
		desc   string
		corpID string // the corp_id value as written
		want   string
	}{
		{desc: "no reference", corpID: "ww1", want: "ww1"},
		{desc: "whole value", corpID: "${A}", want: "a"},
		{desc: "quoted", corpID: `"${A}"`, want: "a"},
		{desc: "several and literal text", corpID: "x${A}-${B}y", want: "xa-by"},
		{desc: "escaped", corpID: "$${A}", want: "${A}"},
		{desc: "escaped next to a reference", corpID: "${A}$${B}", want: "a${B}"},
		{desc: "lone dollars are literal", corpID: "pa$$w$rd$", want: "pa$$w$rd$"},
		{desc: "$NAME without braces is literal", corpID: "$A", want: "$A"},
		{desc: "value is not expanded again", corpID: "${E}", want: "${A}"},
		{desc: "blank value is kept", corpID: "${BLANK}", want: " "},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			// Block style: unquoted ${…} is a syntax error inside {…}.
			yml := "apps:\n  hr-bot:\n    provider: wecom\n    wecom:\n" +
				"      base_url: https://qyapi.weixin.qq.com\n      agent_id: 1\n      secret: s\n" +
				"      corp_id: " + tt.corpID + "\n"
			c, err := parse(t, yml, env)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.Apps["hr-bot"].Block.(*wecom.Config).CorpID; got != tt.want {
				t.Errorf("corp_id = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("expanded values are typed", func(t *testing.T) {
		t.Parallel()
		yml := wecomApp + "worker: {concurrency: \"${N}\"}\npeak: {enabled: \"${T}\", guard: \"${D}\"}\n"
		c, err := parse(t, yml, env)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if c.Worker.Concurrency != 8 || c.Peak.On() || c.Peak.Guard != 90*time.Second {
			t.Errorf("concurrency, peak on, guard = %d, %v, %s; want 8, false, 1m30s", c.Worker.Concurrency, c.Peak.On(), c.Peak.Guard)
		}
	})
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		yml  string
		env  map[string]string // testEnv when nil
		want []string          // the error's lines
	}{
		{
			desc: "unknown top-level key",
			yml:  wecomApp + "reddis: {addr: x}\n",
			want: []string{"reddis: unknown key"},
		},
		{
			desc: "unknown key in a section",
			yml:  wecomApp + "worker: {concurency: 5}\n",
			want: []string{"worker.concurency: unknown key"},
		},
		{
			desc: "unknown key in a provider block hides the required one",
			yml:  strings.Replace(wecomApp, "corp_id:", "corp_idd:", 1),
			want: []string{"apps.hr-bot.wecom.corp_id: required", "apps.hr-bot.wecom.corp_idd: unknown key"},
		},
		{
			desc: "unknown key in a list item",
			yml:  wecomApp + "    limits: {per_recipient: [{count: 5, window: 1m}, {cnt: 5, window: 1h}]}\n",
			want: []string{
				"apps.hr-bot.limits.per_recipient[1].cnt: unknown key",
				"apps.hr-bot.limits.per_recipient[1].count: required",
			},
		},
		{
			desc: "block of another registered provider",
			yml:  wecomApp + "    xiezuo: {base_url: https://openapi.wps.cn}\n",
			want: []string{"apps.hr-bot.xiezuo: only allowed with provider xiezuo"},
		},
		{
			desc: "duplicate key",
			yml:  wecomApp + "worker: {servers: 2, servers: 3}\n",
			want: []string{"worker.servers: duplicate key"},
		},
		{
			desc: "missing required keys",
			yml:  "apps:\n  hr-bot:\n    wecom: {base_url: https://qyapi.weixin.qq.com}\n",
			want: []string{
				"apps.hr-bot.provider: required",
				"apps.hr-bot.wecom.agent_id: required",
				"apps.hr-bot.wecom.corp_id: required",
				"apps.hr-bot.wecom.secret: required",
			},
		},
		{
			desc: "null required key",
			yml:  strings.Replace(wecomApp, "corp_id: ww1", "corp_id: ~", 1),
			want: []string{"apps.hr-bot.wecom.corp_id: required"},
		},
		{
			desc: "empty required string",
			yml:  strings.Replace(wecomApp, "corp_id: ww1", `corp_id: ""`, 1),
			want: []string{"apps.hr-bot.wecom.corp_id: must not be empty"},
		},
		{
			desc: "required secret from an empty variable",
			yml:  wecomApp,
			env:  map[string]string{"HR_SECRET": ""},
			want: []string{"apps.hr-bot.wecom.secret: must not be empty"},
		},
		{
			desc: "string for an integer",
			yml:  wecomApp + "worker: {concurrency: lots}\n",
			want: []string{`worker.concurrency: want an integer, got "lots"`},
		},
		{
			desc: "float for an integer",
			yml:  wecomApp + "worker: {servers: 1.5}\n",
			want: []string{`worker.servers: want an integer, got "1.5"`},
		},
		{
			desc: "quoted integer",
			yml:  strings.Replace(wecomApp, "agent_id: 1000002", `agent_id: "1000002"`, 1),
			want: []string{`apps.hr-bot.wecom.agent_id: want an integer, got "1000002"`},
		},
		{
			desc: "mapping for an integer",
			yml:  wecomApp + "worker: {concurrency: {n: 5}}\n",
			want: []string{"worker.concurrency: want an integer, got a mapping"},
		},
		{
			desc: "scalar for a list",
			yml:  wecomApp + "peak: {minutes: 30}\n",
			want: []string{`peak.minutes: want a list, got "30"`},
		},
		{
			desc: "null list item",
			yml:  wecomApp + "peak: {minutes: [0, ~]}\n",
			want: []string{"peak.minutes[1]: must not be null"},
		},
		{
			desc: "list for a mapping",
			yml:  wecomApp + "worker: [1, 2]\n",
			want: []string{"worker: want a mapping, got a list"},
		},
		{
			desc: "list for a string",
			yml:  wecomApp + "api: {listen: [a]}\n",
			want: []string{"api.listen: want a string, got a list"},
		},
		{
			desc: "yes for a boolean",
			yml:  wecomApp + "peak: {enabled: yes}\n",
			want: []string{`peak.enabled: want true or false, got "yes"`},
		},
		{
			desc: "document not a mapping",
			yml:  "hello\n",
			want: []string{`want a mapping, got "hello"`, "apps: at least one app is required"},
		},
		{
			desc: "integer for a duration",
			yml:  wecomApp + "peak: {guard: 60}\n",
			want: []string{`peak.guard: want a duration like "100ms" or "24h", got "60"`},
		},
		{
			desc: "bad duration",
			yml:  wecomApp + "worker: {send_timeout: 1 minute}\n",
			want: []string{`worker.send_timeout: want a duration like "100ms" or "24h", got "1 minute"`},
		},
		{
			desc: "bad duration in a list item",
			yml:  wecomApp + "    limits: {per_recipient: [{count: 5, window: 1mn}]}\n",
			want: []string{`apps.hr-bot.limits.per_recipient[0].window: want a duration like "100ms" or "24h", got "1mn"`},
		},
		{
			desc: "unset environment variable",
			yml:  wecomApp,
			env:  map[string]string{},
			want: []string{"apps.hr-bot.wecom.secret: environment variable HR_SECRET is not set"},
		},
		{
			desc: "unterminated reference",
			yml:  strings.Replace(wecomApp, `"${HR_SECRET}"`, `"${HR_SECRET"`, 1),
			want: []string{`apps.hr-bot.wecom.secret: unterminated "${" (write "$${" for a literal "${")`},
		},
		{
			desc: "bad variable name",
			yml:  strings.Replace(wecomApp, `"${HR_SECRET}"`, `"${HR-SECRET}"`, 1),
			want: []string{`apps.hr-bot.wecom.secret: invalid environment variable name "HR-SECRET"`},
		},
		{
			desc: "unquoted reference in a flow mapping",
			yml:  "apps: {hr-bot: {provider: wecom, wecom: {secret: ${HR_SECRET}}}}\n",
			want: []string{`yaml: did not find expected ',' or '}' (inside {…} or […], quote ${NAME} references: "${NAME}")`},
		},
		{
			desc: "empty variable name",
			yml:  strings.Replace(wecomApp, `"${HR_SECRET}"`, `"${}"`, 1),
			want: []string{`apps.hr-bot.wecom.secret: invalid environment variable name ""`},
		},
		{
			desc: "syntax error",
			yml:  "worker: {concurrency: 1\n",
			want: []string{"yaml: line 1: did not find expected ',' or '}'"},
		},
		{
			desc: "syntax error in a second document",
			yml:  wecomApp + "---\nworker: [\n",
			want: []string{"yaml: line 6: did not find expected node content"},
		},
		{
			desc: "scalar for a map",
			yml:  wecomApp + "worker: {queues: low}\n",
			want: []string{`worker.queues: want a mapping, got "low"`},
		},
		{
			desc: "non-string key",
			yml:  wecomApp + "worker: {queues: {critical: 6, default: 3, low: 1, [bulk]: 1}}\n",
			want: []string{"worker.queues: keys must be strings"},
		},
		{
			desc: "long value is cut",
			yml:  wecomApp + "    on_unknown: " + strings.Repeat("x", 100) + "\n",
			want: []string{`apps.hr-bot.on_unknown: want resend or give_up, got "` + strings.Repeat("x", 60) + `"…`},
		},
		{
			desc: "two documents",
			yml:  wecomApp + "---\n" + wecomApp,
			want: []string{"want one YAML document, found more (---)"},
		},
		{
			desc: "empty document",
			yml:  "# nothing\n",
			want: []string{"apps: at least one app is required"},
		},
		{
			desc: "no apps",
			yml:  "apps: {}\n",
			want: []string{"apps: at least one app is required"},
		},
		{
			desc: "bad app name",
			yml:  strings.Replace(wecomApp, "hr-bot:", "HR_Bot:", 1),
			want: []string{"apps.HR_Bot: invalid app name: want lowercase letters, digits, '_' and '-', starting with a letter or digit"},
		},
		{
			desc: "unknown provider",
			yml:  strings.Replace(wecomApp, "provider: wecom", "provider: slack", 1),
			want: []string{
				`apps.hr-bot.provider: unknown provider "slack": want wecom, wps365, xiezuo`,
				"apps.hr-bot.wecom: only allowed with provider wecom",
			},
		},
		{
			desc: "a provider without its block",
			yml:  "apps:\n  doc-bot:\n    provider: xiezuo\n",
			want: []string{`apps.doc-bot.xiezuo: required with provider xiezuo`},
		},
		{
			desc: "missing provider block",
			yml:  "apps:\n  hr-bot:\n    provider: wecom\n",
			want: []string{"apps.hr-bot.wecom: required with provider wecom"},
		},
		{
			desc: "null provider block",
			yml:  "apps:\n  hr-bot:\n    provider: wecom\n    wecom:\n",
			want: []string{"apps.hr-bot.wecom: required with provider wecom"},
		},
		{
			desc: "block of another provider",
			yml:  strings.Replace(wecomApp, "provider: wecom", "provider: wps365", 1),
			want: []string{
				"apps.hr-bot.wecom: only allowed with provider wecom",
				"apps.hr-bot.wps365: required with provider wps365",
			},
		},
		{
			desc: "relative base_url",
			yml:  strings.Replace(wecomApp, "https://qyapi.weixin.qq.com", "qyapi.weixin.qq.com", 1),
			want: []string{`apps.hr-bot.wecom.base_url: want an absolute http or https URL, got "qyapi.weixin.qq.com"`},
		},
		{
			desc: "base_url of another scheme",
			yml:  strings.Replace(wecomApp, "https://qyapi.weixin.qq.com", "ftp://qyapi.weixin.qq.com", 1),
			want: []string{`apps.hr-bot.wecom.base_url: want an absolute http or https URL, got "ftp://qyapi.weixin.qq.com"`},
		},
		{
			desc: "agent_id zero",
			yml:  strings.Replace(wecomApp, "agent_id: 1000002", "agent_id: 0", 1),
			want: []string{"apps.hr-bot.wecom.agent_id: must be greater than 0"},
		},
		{
			desc: "duplicate_check_interval above 4h",
			yml:  strings.Replace(wecomApp, "agent_id:", "duplicate_check_interval: 4h1s, agent_id:", 1),
			want: []string{"apps.hr-bot.wecom.duplicate_check_interval: must be greater than 0 and at most 4h0m0s"},
		},
		{
			desc: "bad limits",
			yml: wecomApp + `    limits:
      per_recipient: [{count: 0, window: 1m}, {count: 10, window: 0s}, {count: 3, window: 1h}]
      daily: -1
      margin: -1s
`,
			want: []string{
				"apps.hr-bot.limits.daily: must not be negative",
				"apps.hr-bot.limits.margin: must not be negative",
				"apps.hr-bot.limits.per_recipient[0].count: must be at least 1",
				"apps.hr-bot.limits.per_recipient[1].window: must be greater than 0",
			},
		},
		{
			desc: "urgent headroom not below a count",
			yml:  wecomApp + "    limits: {per_recipient: [{count: 30, window: 1m}, {count: 5, window: 1h}], urgent_headroom: 5}\n",
			want: []string{"apps.hr-bot.limits.urgent_headroom: must be less than every per_recipient count (apps.hr-bot.limits.per_recipient[1].count is 5)"},
		},
		{
			desc: "urgent headroom below a default count",
			yml:  wecomApp + "    limits: {urgent_headroom: -1}\n",
			want: []string{"apps.hr-bot.limits.urgent_headroom: must not be negative"},
		},
		{
			desc: "max_recipients zero",
			yml:  wecomApp + "    limits: {max_recipients: 0}\n",
			want: []string{"apps.hr-bot.limits.max_recipients: must be at least 1"},
		},
		{
			desc: "max_recipients of the wrong type",
			yml:  wecomApp + "    limits: {max_recipients: many}\n",
			want: []string{`apps.hr-bot.limits.max_recipients: want an integer, got "many"`},
		},
		{
			desc: "bad on_unknown",
			yml:  wecomApp + "    on_unknown: retry\n",
			want: []string{`apps.hr-bot.on_unknown: want resend or give_up, got "retry"`},
		},
		{
			desc: "bad worker",
			yml: wecomApp + `worker:
  concurrency: 0
  servers: -1
  queues: {critical: 0, default: 1}
  task_check_interval: 0s
  failure_budget: 0
  message_ttl: -1h
  retention: 0s
  pause_for: 0s
`,
			want: []string{
				"worker.concurrency: must be at least 1",
				"worker.failure_budget: must be at least 1",
				"worker.message_ttl: must be greater than 0",
				"worker.pause_for: must be greater than 0",
				"worker.queues.critical: must be at least 1",
				"worker.queues.low: required",
				"worker.retention: must be greater than 0",
				"worker.servers: must be at least 1",
				"worker.task_check_interval: must be greater than 0",
			},
		},
		{
			desc: "shutdown timeout equal to send timeout",
			yml:  wecomApp + "worker: {send_timeout: 20s, shutdown_timeout: 20s}\n",
			want: []string{"worker.shutdown_timeout: must be longer than worker.send_timeout (20s)"},
		},
		{
			desc: "shutdown timeout below the default send timeout",
			yml:  wecomApp + "worker: {shutdown_timeout: 10s}\n",
			want: []string{"worker.shutdown_timeout: must be longer than worker.send_timeout (15s)"},
		},
		{
			desc: "delayed task check interval above 1s",
			yml:  wecomApp + "worker: {delayed_task_check_interval: 1001ms}\n",
			want: []string{"worker.delayed_task_check_interval: must be greater than 0 and at most 1s"},
		},
		{
			desc: "delayed task check interval zero",
			yml:  wecomApp + "worker: {delayed_task_check_interval: 0s}\n",
			want: []string{"worker.delayed_task_check_interval: must be greater than 0 and at most 1s"},
		},
		{
			desc: "bad peak",
			yml:  wecomApp + "peak: {minutes: [0, 60, -1], guard: -1s, spread: 0s}\n",
			want: []string{
				"peak.guard: must not be negative",
				"peak.minutes[1]: must be between 0 and 59",
				"peak.minutes[2]: must be between 0 and 59",
				"peak.spread: must be greater than 0",
			},
		},
		{
			desc: "negative redis db",
			yml:  wecomApp + "redis: {db: -1}\n",
			want: []string{"redis.db: must not be negative"},
		},
		{
			desc: "bad api tokens",
			yml: wecomApp + `api:
  tokens:
    - {name: billing, token: "${BILLING_TOKEN}", apps: [hr-bot, hr-bot2]}
    - {token: "${BILLING_TOKEN}", apps: []}
    - {name: billing, apps: [hr-bot]}
`,
			want: []string{
				`api.tokens[0].apps[1]: unknown app "hr-bot2" (configured: hr-bot)`,
				"api.tokens[1].apps: at least one app is required",
				"api.tokens[1].name: required",
				"api.tokens[1].token: same token as api.tokens[0]",
				"api.tokens[2].name: same name as api.tokens[0]",
				"api.tokens[2].token: required (or token_sha256)",
			},
		},
		{
			desc: "several errors at once, sorted by path",
			yml: `
worker: {concurrency: lots, send_timeout: 30s}
apps:
  hr-bot:
    provider: wecom
    wecom: {base_url: https://qyapi.weixin.qq.com, corp_idd: ww1, agent_id: 1000002, secret: "${NOPE}"}
  doc-bot:
    provider: xiezuo
api: {tokens: [{name: billing, token: t, apps: [hr]}]}
`,
			want: []string{
				`api.tokens[0].apps[0]: unknown app "hr" (configured: doc-bot, hr-bot)`,
				`apps.doc-bot.xiezuo: required with provider xiezuo`,
				"apps.hr-bot.wecom.corp_id: required",
				"apps.hr-bot.wecom.corp_idd: unknown key",
				"apps.hr-bot.wecom.secret: environment variable NOPE is not set",
				`worker.concurrency: want an integer, got "lots"`,
				"worker.shutdown_timeout: must be longer than worker.send_timeout (30s)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			env := tt.env
			if env == nil {
				env = testEnv
			}
			c, err := parse(t, tt.yml, env)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", c)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseErrorsArePathed(t *testing.T) {
	t.Parallel()
	_, err := parse(t, wecomApp+"worker: {concurrency: 0}\nreddis: {}\n", testEnv)
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Parse error %T is not a joined error", err)
	}
	var paths []string
	for _, e := range joined.Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("problem %v is a %T, want *Error", e, e)
		}
		paths = append(paths, ce.Path)
	}
	if want := []string{"reddis", "worker.concurrency"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("paths = %q, want %q", paths, want)
	}
}

func TestParseErrorsHideEnvValues(t *testing.T) {
	t.Parallel()
	const secret = "T0P-S3CRET"
	yml := `
worker: {concurrency: "${S}", send_timeout: "${S}"}
peak: {enabled: "${S}", minutes: ["${S}"]}
apps:
  hr-bot:
    provider: wecom
    wecom: {base_url: "ftp://${S}@host", corp_id: ww1, agent_id: "${S}", secret: "${S}"}
    on_unknown: "${S}"
  doc-bot:
    provider: "${S}"
api: {tokens: [{name: a, token: "${S}", apps: ["${S}"]}, {name: "${S}", token: "${S}", apps: [hr-bot]}]}
`
	_, err := parse(t, yml, map[string]string{"S": secret})
	if err == nil {
		t.Fatal("Parse succeeded, want errors")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines {
		if strings.Contains(l, secret) {
			t.Errorf("error shows the secret: %s", l)
		}
	}
	// Each value above is reported, so each message was built and checked.
	if len(lines) != 10 {
		t.Errorf("got %d errors, want 10:\n%s", len(lines), err)
	}
	if want := "worker.concurrency: want an integer, got the value expanded from ${S}"; !slices.Contains(lines, want) {
		t.Errorf("errors lack %q:\n%s", want, err)
	}
}

func TestParseNilGetenv(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(wecomApp), nil)
	if want := "apps.hr-bot.wecom.secret: environment variable HR_SECRET is not set"; err == nil || err.Error() != want {
		t.Errorf("Parse = %v, want %s", err, want)
	}
}

func TestRequiredKeysExist(t *testing.T) {
	t.Parallel()
	for typ, keys := range requiredKeys {
		fields := yamlFields(typ)
		for _, k := range keys {
			if _, ok := fields[k]; !ok {
				t.Errorf("required key %q is not a yaml field of %s", k, typ)
			}
		}
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	valid := strings.Replace(wecomApp, `"${HR_SECRET}"`, "s", 1)

	t.Run("valid file", func(t *testing.T) {
		t.Parallel()
		c, err := Load(write("ok.yaml", valid))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if got := c.Apps["hr-bot"].Block.(*wecom.Config).Secret; got != "s" {
			t.Errorf("secret = %q, want s", got)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(dir, "missing.yaml")
		_, err := Load(path)
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("Load = %v, want a not-exist error naming %s", err, path)
		}
	})
	t.Run("invalid file", func(t *testing.T) {
		t.Parallel()
		path := write("bad.yaml", valid+"reddis: {}\n")
		_, err := Load(path)
		if want := "config " + path + ": reddis: unknown key"; err == nil || err.Error() != want {
			t.Errorf("Load = %v, want %s", err, want)
		}
	})
}

func TestConfigApp(t *testing.T) {
	t.Parallel()
	c := defaults()
	c.Apps["ops"] = App{Provider: "wecom"}
	tests := []struct {
		desc    string
		cfg     *Config
		name    string
		wantErr string
	}{
		{desc: "known", cfg: c, name: "hr-bot"},
		{desc: "unknown", cfg: c, name: "hr", wantErr: `unknown app "hr" (configured: hr-bot, ops)`},
		{desc: "none configured", cfg: &Config{}, name: "hr", wantErr: `unknown app "hr" (configured: none)`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			a, err := tt.cfg.App(tt.name)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("App(%q) = %v, want error %q", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(a, tt.cfg.Apps[tt.name]) {
				t.Errorf("App(%q) = %+v, %v; want %+v", tt.name, a, err, tt.cfg.Apps[tt.name])
			}
		})
	}
}

func TestPeakOn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		enabled *bool
		want    bool
	}{
		{desc: "unset means on", enabled: nil, want: true},
		{desc: "true", enabled: new(true), want: true},
		{desc: "false", enabled: new(false), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got := (Peak{Enabled: tt.enabled}).On(); got != tt.want {
				t.Errorf("On() = %v, want %v", got, tt.want)
			}
		})
	}
}

// A provider's default limits fill in per_recipient when it is left out; an
// empty list means no per-recipient limit.
func TestPerRecipientDefaultsAndNone(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc string
		yml  string
		want []Window
	}{
		{desc: "left out: the provider's", yml: wecomApp, want: []Window{{Count: 30, Window: time.Minute}, {Count: 1000, Window: time.Hour}}},
		{desc: "empty: none", yml: wecomApp + "    limits: {per_recipient: []}\n", want: []Window{}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, tt.yml, map[string]string{"HR_SECRET": "s"})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Apps["hr-bot"].Limits.PerRecipient; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("per_recipient = %v, want %v", got, tt.want)
			}
		})
	}
}

// limits.max_recipients defaults to DefaultMaxRecipients (10000) and may be set
// per app.
func TestMaxRecipientsDefaultAndSet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc string
		yml  string
		want int
	}{
		{desc: "left out: the default", yml: wecomApp, want: 10000},
		{desc: "limits without it: the default", yml: wecomApp + "    limits: {daily: 5}\n", want: DefaultMaxRecipients},
		{desc: "set", yml: wecomApp + "    limits: {max_recipients: 3}\n", want: 3},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, tt.yml, map[string]string{"HR_SECRET": "s"})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Apps["hr-bot"].Limits.MaxRecipients; got != tt.want {
				t.Errorf("max_recipients = %d, want %d", got, tt.want)
			}
		})
	}
}
