// Package config loads the dispatcher's YAML config: strict (an unknown or missing
// key is an error naming its path), with ${ENV} expansion for secrets and the
// defaults of docs/architecture.md filled in.
package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Config is the whole config file. Build one with [Load] or [Parse], which fill in
// the defaults documented on each field and validate the result.
type Config struct {
	Redis  Redis          `yaml:"redis"`
	Worker Worker         `yaml:"worker"`
	Peak   Peak           `yaml:"peak"`
	Apps   map[string]App `yaml:"apps"`
	API    API            `yaml:"api"`
	// notLoaded are the apps of the file that LoadApps left out.
	notLoaded []string
}

// Redis says where Redis is: one server (Addr or URL), a Sentinel-watched
// master (Sentinel) or a Redis Cluster (Cluster) — one of them. Nothing set
// means "embedded" in dev mode and is an error elsewhere.
type Redis struct {
	// Addr is host:port. Default empty.
	Addr string `yaml:"addr"`
	// URL is a redis:// or rediss:// (TLS) URL; it wins over Addr when both
	// are set. Default empty.
	URL string `yaml:"url"`
	// Password for AUTH (of the server, the master and its replicas, or every
	// cluster node); use ${ENV}. Default empty.
	Password string `yaml:"password"`
	// DB is the database number; Redis Cluster has only 0. Default 0.
	DB int `yaml:"db"`
	// Sentinel, when set, finds the master through Redis Sentinel and follows
	// its failovers. Default nil.
	Sentinel *Sentinel `yaml:"sentinel"`
	// Cluster, when set, talks to a Redis Cluster. Default nil.
	Cluster *Cluster `yaml:"cluster"`
}

// Sentinel is a master watched by Redis Sentinel.
type Sentinel struct {
	// MasterName is the name the sentinels know the master by (their
	// "sentinel monitor <name> …"). Required.
	MasterName string `yaml:"master_name"`
	// Addrs are sentinels' host:port; one that answers is enough, give them all.
	// Required.
	Addrs []string `yaml:"addrs"`
	// Password is the master's and replicas' AUTH password (Redis.Password is
	// used when empty); use ${ENV}. Default empty.
	Password string `yaml:"password"`
	// SentinelPassword is the sentinels' own AUTH password (requirepass in
	// sentinel.conf); use ${ENV}. Default empty.
	SentinelPassword string `yaml:"sentinel_password"`
}

// Cluster is a Redis Cluster.
type Cluster struct {
	// Addrs are seed nodes' host:port; the client discovers the others.
	// Required.
	Addrs []string `yaml:"addrs"`
}

// Worker sizes and times the worker pools.
type Worker struct {
	// Concurrency is the number of tasks one asynq server runs at once. Default 50.
	Concurrency int `yaml:"concurrency"`
	// Servers is the number of asynq servers per process (each has its own
	// dequeue loop; see asynq's behaviour as measured on this project's machine). Default 1.
	Servers int `yaml:"servers"`
	// Queues are the queue names and their weights, each at least 1; critical,
	// default and low (the queues producers use) must be present. Default
	// critical:6, default:3, low:1.
	Queues map[string]int `yaml:"queues"`
	// TaskCheckInterval is how long an idle server sleeps between dequeue tries.
	// Default 100ms.
	TaskCheckInterval time.Duration `yaml:"task_check_interval"`
	// DelayedTaskCheckInterval is how often scheduled and retry tasks are moved to
	// pending. Default 1s; at most 1s.
	DelayedTaskCheckInterval time.Duration `yaml:"delayed_task_check_interval"`
	// FailureBudget is how many failed attempts a message may spend before it is
	// given up as failed. Deferrals never spend it. Default 10.
	FailureBudget int `yaml:"failure_budget"`
	// SendTimeout bounds one provider request. Default 15s.
	SendTimeout time.Duration `yaml:"send_timeout"`
	// ShutdownTimeout is how long a stopping worker waits for running tasks; it
	// must be longer than SendTimeout. Default 25s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MessageTTL is how long a message without expires_at may wait before it is
	// given up as expired. Default 24h.
	MessageTTL time.Duration `yaml:"message_ttl"`
	// Retention is how long delivery records are kept after completion. Default 168h.
	Retention time.Duration `yaml:"retention"`
	// InteractiveTTL is how long the delivery records, update state and
	// tombstones of messages that may still be updated (template cards) are
	// kept after completion. Default 720h (30 days).
	InteractiveTTL time.Duration `yaml:"interactive_ttl"`
	// PauseFor is how long an app with broken credentials stays paused before one
	// task probes it again. Default 1h (WeCom bans an IP for an hour after
	// repeated wrong secrets).
	PauseFor time.Duration `yaml:"pause_for"`
	// Breaker configures the circuit breaker of each (provider, app) in each process.
	Breaker Breaker `yaml:"breaker"`
	// MetricsListen is the address `dispatcher worker` serves /metrics,
	// /healthz and /readyz on. Default ":9090".
	MetricsListen string `yaml:"metrics_listen"`
}

// Breaker configures the per-process circuit breakers. Only provider-side failures
// (busy, 5xx, timeouts, throttling) count; bad input never trips a breaker.
type Breaker struct {
	// Failures is how many consecutive provider-side failures open the breaker.
	// Default 5.
	Failures int `yaml:"failures"`
	// Timeout is how long an open breaker defers work before one probe may go
	// (half-open). Default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Peak configures peak-minute avoidance.
type Peak struct {
	// Enabled turns peak avoidance on. Default true.
	Enabled *bool `yaml:"enabled"`
	// Minutes are the congested minute marks of each hour. Default [0, 30].
	Minutes []int `yaml:"minutes"`
	// Guard is how far around each mark the window reaches. Default 60s.
	Guard time.Duration `yaml:"guard"`
	// Spread is the span after a window that deferred work is spread over. Default 120s.
	Spread time.Duration `yaml:"spread"`
}

// App is one configured app: a provider and its credentials.
type App struct {
	// Provider is the name of a registered provider ("wecom", …). Required.
	Provider string `yaml:"provider"`
	// Block is the provider block: the app's key named after its provider
	// (apps.hr-bot.wecom), decoded into that provider's config type
	// ([providers.Descriptor.NewConfig]). Required.
	Block providers.AppConfig `yaml:"-"`
	// Limits are the quotas the dispatcher enforces for this app.
	Limits Limits `yaml:"limits"`
	// OnUnknown is what to do when a request's outcome is unknown:
	// [OnUnknownResend] (within the provider's dedupe window) or [OnUnknownGiveUp].
	// Default: the provider's ([providers.Descriptor.OnUnknown]): resend for
	// a provider with a documented duplicate check, give_up otherwise.
	OnUnknown string `yaml:"on_unknown"`
	// TenantKey is the key that encrypts the permanent codes of the app's
	// tenants at rest (AES-256-GCM): 32 bytes written as 64 hex digits or as
	// base64. Required for a multi-tenant app (one whose provider block says
	// it has tenants, e.g. a WeCom third-party app) and only allowed there;
	// use ${ENV}. Never logged.
	TenantKey string `yaml:"tenant_key"`
}

// MultiTenant reports whether the app has tenants (its provider block says so).
func (a App) MultiTenant() bool { return a.Block != nil && a.Block.MultiTenant() }

// Descriptor returns the registry entry of the app's provider.
func (a App) Descriptor() (*providers.Descriptor, error) {
	d, ok := providers.Lookup(a.Provider)
	if !ok {
		return nil, fmt.Errorf("provider %q is not registered", a.Provider)
	}
	return d, nil
}

// Limits are an app's quotas (enforced by the ratelimit package).
type Limits struct {
	// PerRecipient are the (count, window) limits per recipient. Default the
	// provider's ([providers.Descriptor.Limits]): WeCom's 30/1m and 1000/1h,
	// none for a provider that documents none. An empty list means none.
	PerRecipient []Window `yaml:"per_recipient"`
	// Daily is the person-times cap per (app, tenant) per Asia/Shanghai day; 0 = none.
	Daily int `yaml:"daily"`
	// Margin lengthens every window to absorb the gap between admission and
	// receipt. Default 2s.
	Margin time.Duration `yaml:"margin"`
	// UrgentHeadroom is the part of each per-recipient limit only urgent messages
	// may use. Default 0.
	UrgentHeadroom int `yaml:"urgent_headroom"`
	// Concurrency is how many requests may be in flight to the provider for this
	// app's company at once, across every worker process (providers refuse
	// beyond a per-company limit they do not publish, e.g. WeCom's 45033).
	// Default 20.
	Concurrency int `yaml:"concurrency"`
	// Rate is how many requests per second one worker process sends for this
	// app, smoothing bursts; the exact quotas are the per-recipient limits.
	// Default 500.
	Rate int `yaml:"rate"`
	// GroupSize is how many person-times a department, tag or @all target counts
	// against the daily cap (their members are not known). Default 100.
	GroupSize int `yaml:"group_size"`
	// MaxRecipients is the most targets (users plus groups) one message may
	// name; the producer refuses a message over it on "to". Default
	// [DefaultMaxRecipients].
	MaxRecipients int `yaml:"max_recipients"`
}

// DefaultMaxRecipients is limits.max_recipients when the config does not set it.
const DefaultMaxRecipients = 10000

// Window is one (count, window) limit.
type Window struct {
	// Count is how many messages a recipient may get within Window. Required, > 0.
	Count int `yaml:"count"`
	// Window is the length of the sliding window. Required, > 0.
	Window time.Duration `yaml:"window"`
}

// API configures the HTTP service of the api subcommand.
type API struct {
	// Listen is the address to serve on. Default ":8080".
	Listen string `yaml:"listen"`
	// Tokens are the bearer tokens accepted, each scoped to apps.
	Tokens []APIToken `yaml:"tokens"`
	// Webhooks are where the api process POSTs the apps' events. Default none.
	Webhooks Webhooks `yaml:"webhooks"`
}

// APIToken is one bearer token and the apps it may use.
type APIToken struct {
	// Name identifies the token in logs and metrics. Required, unique.
	Name string `yaml:"name"`
	// Token is the bearer token itself; use ${ENV}. Exactly one of Token and
	// TokenSHA256 is required; unique.
	Token string `yaml:"token"`
	// TokenSHA256 is the SHA-256 of the token, 64 hex digits (`printf %s
	// "$TOKEN" | sha256sum`), so that the config holds no usable secret.
	TokenSHA256 string `yaml:"token_sha256"`
	// Apps are the configured apps the token may use. At least one.
	Apps []string `yaml:"apps"`
	// DailyPercent is the share, in percent (1–100), of each of its apps'
	// daily cap (limits.daily) this token may enqueue per Asia/Shanghai day,
	// counted in recipients at enqueue. Default 0: no share of its own (the
	// app's cap still holds).
	DailyPercent int `yaml:"daily_percent"`
	// Dashboard lets the token log in to /monitoring: "" (default, no),
	// "read_only" or "full".
	Dashboard string `yaml:"dashboard"`
}

// Values of [APIToken.Dashboard].
const (
	DashboardNone     = ""
	DashboardReadOnly = "read_only"
	DashboardFull     = "full"
)

// Values of [App.OnUnknown].
const (
	// OnUnknownResend re-sends the frozen request within the provider's dedupe window.
	OnUnknownResend = "resend"
	// OnUnknownGiveUp records the message as unknown at once.
	OnUnknownGiveUp = "give_up"
)

// App returns the app configured under name, or an error naming name and the
// configured apps.
func (c *Config) App(name string) (App, error) {
	if a, ok := c.Apps[name]; ok {
		return a, nil
	}
	if slices.Contains(c.notLoaded, name) {
		return App{}, fmt.Errorf("app %q is configured but was not loaded", name)
	}
	return App{}, fmt.Errorf("unknown app %q (configured: %s)", name, c.appNames())
}

// appNames lists the configured apps for messages.
func (c *Config) appNames() string {
	names := append(slices.Collect(maps.Keys(c.Apps)), c.notLoaded...)
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// On reports whether peak avoidance is on. A nil Enabled means the default, on.
func (p Peak) On() bool {
	return p.Enabled == nil || *p.Enabled
}
