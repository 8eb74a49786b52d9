package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// Descriptor is what a provider package registers with [Register]: everything
// the core needs to configure, validate, build and serve the apps of one
// provider. The config loader, the catalog, the producer, the worker and the
// binary iterate the registry and never name a provider, so adding one is a
// folder and one registration line.
type Descriptor struct {
	// Name is the provider name apps use in config ("wecom"), and the key of
	// the app's provider block. Required: lower-case letters and digits.
	Name string
	// Title names the provider for people ("WeCom (企业微信)").
	Title string
	// NewConfig returns a new provider block holding the provider's defaults.
	// The config loader decodes the app's block (the key Name) into it
	// strictly and then calls its Validate. It must return a pointer to a
	// struct whose fields carry yaml tags. Required.
	NewConfig func() AppConfig
	// OnUnknown is the default of an app's on_unknown: "resend" for a
	// provider that documents a duplicate check, "give_up" otherwise.
	// Default "give_up".
	OnUnknown string
	// Limits are the default quotas of the provider's apps.
	Limits DefaultLimits
	// New builds the client of one configured app. Required.
	New func(env *Env) (Provider, error)
	// Callback builds the handler of the app's provider callbacks, served by
	// `dispatcher api` at /callbacks/{provider}/{app}. Nil, or a nil handler
	// returned, means the app receives none.
	Callback func(env *Env) (http.Handler, error)
	// Tasks are the background task types the provider enqueues through
	// [Env.Tasks] (from a callback, say) and the worker runs, by type name.
	// Type names start with "msgd:<Name>:".
	Tasks map[string]TaskHandler
}

// DefaultLimits are a provider's default quotas: what its documentation says
// it enforces, or nothing.
type DefaultLimits struct {
	// PerRecipient are the (count, window) limits per recipient. Default none.
	PerRecipient []Window
	// PerSeatDaily is the person-times per seat per day a tenant may receive
	// (WeCom: 200); the daily cap of a tenant is its seats times this. 0: none.
	PerSeatDaily int
}

// Window is one (count, window) limit.
type Window struct {
	Count  int
	Window time.Duration
}

// AppConfig is an app's provider block, decoded from config. It carries the
// app's credentials, so it is never put into a payload; String must not show
// a secret.
type AppConfig interface {
	// RequiredKeys are the yaml keys of the block that must be present and,
	// for strings, not empty. They may depend on what was decoded (a mode).
	RequiredKeys() []string
	// Validate checks the decoded block. A *ValidationError's Field is a key
	// path inside the block ("corp_id", "update.path").
	Validate() error
	// MultiTenant reports whether the app has tenants (companies that
	// installed it): every message then names one.
	MultiTenant() bool
	// Company is the provider company a request for tenant goes to (tenant
	// is "" for an app that has one company). It scopes the cluster-wide
	// concurrency semaphore.
	Company(tenant string) string
	// NormalizeRecipient returns the form of a user id under which
	// per-recipient state (quotas) is kept, e.g. lower-cased where the
	// provider treats ids as case-insensitive.
	NormalizeRecipient(id string) string
	// Capabilities says what the app can do.
	Capabilities() Capabilities
	// ValidateMessage checks msg by the provider's rules, without credentials
	// or I/O. It returns a *ValidationError naming the first bad field.
	ValidateMessage(msg *Message) error
	// ValidateUpdate checks new content c for the message sent as msg, at
	// enqueue: content that cannot apply (a kind the provider cannot update
	// to, a message that is not updatable) is a *ValidationError naming the
	// field ("kind").
	ValidateUpdate(msg *Message, c *Content) error
}

// GivenIDs is implemented by a provider block whose provider refuses an id it
// has seen before from the same app (WeCom: a card's task_id, 42014). The
// producer reserves each such id per app at enqueue and refuses a message
// that reuses one, naming its field.
type GivenIDs interface {
	// GivenIDs returns the ids msg gives itself, by field path.
	GivenIDs(msg *Message) map[string]string
}

// Content is new content for a message: Kind and Text or Body as in [Message].
type Content struct {
	Kind Kind            `json:"kind"`
	Text string          `json:"text,omitempty"`
	Body json.RawMessage `json:"body,omitempty"`
}

// Env is what a provider's constructor, callback handler and tasks are given:
// the app's config and the neutral stores the core implements on Redis.
// Provider packages never import a Redis client.
type Env struct {
	// App is the configured app name.
	App string
	// Config is the app's provider block.
	Config AppConfig
	// TenantKey is the app's key for sealing tenant secrets at rest (32
	// bytes); nil for an app without tenants.
	TenantKey []byte
	// Tokens caches access tokens for every process.
	Tokens TokenStore
	// HTTP talks to the provider; nil means the provider's default.
	HTTP *http.Client
	// State is the app's small key-value state (suite tickets, single-use
	// codes, marks).
	State KV
	// Tenants are the app's tenants; nil for an app without tenants.
	Tenants TenantStore
	// Events publishes provider events (card clicks, tenant changes) to the
	// app's events stream.
	Events EventSink
	// Messages finds the dispatcher message a provider reference ([Part.Ref])
	// belongs to, for callbacks.
	Messages MessageIndex
	// Tasks enqueues the provider's background tasks ([Descriptor.Tasks]).
	Tasks TaskQueue
	// Logger receives the provider's logs. Never nil when built by the core.
	Logger *slog.Logger
	// Now is the clock. Never nil when built by the core.
	Now func() time.Time
}

// TaskHandler runs one background task of a provider. lookup finds the
// provider client of a configured app. An error whose [ClassOf] is
// ClassPermanent ends the task (it is archived, visible on the dashboard);
// any other is retried with backoff.
type TaskHandler func(ctx context.Context, payload []byte, lookup func(app string) (Provider, bool)) error

var (
	regMu    sync.RWMutex
	registry = map[string]*Descriptor{}
)

// Register adds a provider. It panics on a descriptor without a name, config
// or constructor, or on a name registered twice: both are programming errors
// found at start-up.
func Register(d Descriptor) {
	if d.Name == "" || d.NewConfig == nil || d.New == nil {
		panic("providers: Register needs Name, NewConfig and New")
	}
	for _, r := range d.Name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			panic(fmt.Sprintf("providers: provider name %q: want lower-case letters and digits", d.Name))
		}
	}
	if d.OnUnknown == "" {
		d.OnUnknown = "give_up"
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[d.Name]; dup {
		panic(fmt.Sprintf("providers: provider %q registered twice", d.Name))
	}
	registry[d.Name] = &d
}

// Lookup returns the descriptor of the provider registered under name.
func Lookup(name string) (*Descriptor, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	d, ok := registry[name]
	return d, ok
}

// Registered returns the descriptors of every registered provider, by name.
func Registered() []*Descriptor {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]*Descriptor, 0, len(registry))
	for _, d := range registry {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the registered provider names, sorted.
func Names() []string {
	ds := Registered()
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	return slices.Clip(names)
}
