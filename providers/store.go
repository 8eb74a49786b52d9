package providers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrNotFound is returned (wrapped) by the neutral stores for a key, tenant
// or reference they do not hold.
var ErrNotFound = errors.New("not found")

// KV is an app's small key-value state in the dispatcher's Redis, under the
// app's hash tag: what a provider must share between processes besides
// tokens (WeCom's suite tickets and single-use response codes, marks that a
// code was consumed). Keys are the provider's own; the store prefixes them
// with the app. Values are opaque bytes. Every TTL must be positive.
type KV interface {
	// Get returns the value of key, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetNX stores value under key for ttl unless key exists, and reports
	// whether it did.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Take returns the value of key and deletes it in one step (single-use
	// values), or an error wrapping ErrNotFound.
	Take(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Update changes key atomically: f gets the current value (found false
	// when there is none) and returns the new value with its TTL, or write
	// false to leave key alone. When key changes while f runs, f runs again
	// on the new value.
	Update(ctx context.Context, key string, f func(old []byte, found bool) (value []byte, ttl time.Duration, write bool)) error
}

// Tenant is one company that installed a multi-tenant app: the ids a
// message to it needs and the secret its tokens come from.
//
// Secret is long-lived: a TenantStore keeps it sealed at rest, and String,
// GoString and LogValue never print it.
type Tenant struct {
	// ID is the company's id as the provider gives it to the app (WeCom:
	// auth_corpid). It is the tenant of messages ([Message.Tenant]).
	ID string
	// Name is the company's name, for people.
	Name string
	// AgentID is the app's id inside that company (WeCom: its agentid).
	AgentID int64
	// Seats is the company's seat count; 0 when unknown. With
	// [DefaultLimits.PerSeatDaily] it gives the tenant's daily cap.
	Seats int
	// Secret is what the tenant's tokens come from (WeCom: the permanent
	// code).
	Secret string
	// Disabled is set once the company cancelled the authorisation or an
	// operator disabled the tenant; DisabledReason and DisabledAt say why and
	// when.
	Disabled       bool
	DisabledReason string
	DisabledAt     time.Time
	// AuthorizedAt is when the current authorisation began. A cancellation
	// older than it is a late retry of a previous authorisation.
	AuthorizedAt time.Time
}

// String formats t without its secret.
func (t Tenant) String() string {
	state := "active"
	if t.Disabled {
		state = "disabled: " + t.DisabledReason
	}
	secret := "<none>"
	if t.Secret != "" {
		secret = "<redacted>"
	}
	return fmt.Sprintf("{ID:%s Name:%s AgentID:%d Seats:%d Secret:%s State:%s}", t.ID, t.Name, t.AgentID, t.Seats, secret, state)
}

// GoString is String for fmt's %#v.
func (t Tenant) GoString() string { return "providers.Tenant" + t.String() }

// LogValue makes log/slog log t without its secret.
func (t Tenant) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("name", t.Name), slog.Int64("agent_id", t.AgentID),
		slog.Int("seats", t.Seats), slog.Bool("disabled", t.Disabled))
}

// TenantStore keeps the tenants of one multi-tenant app.
type TenantStore interface {
	// Tenant returns the tenant id, or an error wrapping ErrNotFound.
	Tenant(ctx context.Context, id string) (*Tenant, error)
	// PutTenant adds or replaces a tenant (active unless t.Disabled).
	PutTenant(ctx context.Context, t *Tenant) error
	// DisableTenant disables tenant id unless it was authorised after at; an
	// unknown tenant is not an error.
	DisableTenant(ctx context.Context, id, reason string, at time.Time) error
	// RekeyTenant replaces the tenant's secret, or returns an error wrapping
	// ErrNotFound.
	RekeyTenant(ctx context.Context, id, secret string) error
}

// Event is something a provider tells the app's producers: a verified
// callback (a card click) or a change of a tenant.
type Event struct {
	// ID is stable: the same callback delivered twice has the same ID.
	ID string
	// Type is "<provider>.<what>" ("wecom.card_click", "xiezuo.card_action"),
	// or "tenant.<change>".
	Type string
	// At is when it happened, by the provider's clock when it says.
	At time.Time
	// Tenant is the tenant it concerns, if any.
	Tenant string
	// MessageID is the dispatcher message it concerns, when found (see
	// [MessageIndex]).
	MessageID string
	// Data are the event's fields (user, action key, form values as JSON).
	// Never a secret.
	Data map[string]string
}

// EventSink publishes provider events to the app's events stream.
type EventSink interface {
	// PublishOnce publishes ev unless an event with dedupeKey was published
	// within ttl, and reports whether it did.
	PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *Event) (bool, error)
}

// MessageIndex finds the dispatcher message of a provider reference: the
// [Part.Ref] a provider chose when it rendered a part (WPS ctx_id, WeCom
// card task_id), which callbacks carry.
type MessageIndex interface {
	// MessageOf returns the dispatcher message id of ref, or an error
	// wrapping ErrNotFound.
	MessageOf(ctx context.Context, ref string) (string, error)
}

// TaskOptions say how a provider's background task is run.
type TaskOptions struct {
	// ID makes the task unique: enqueueing an ID already queued or kept is
	// not an error and adds nothing. Required.
	ID string
	// MaxRetry bounds the retries. Default 10.
	MaxRetry int
	// Timeout bounds one run. Default 1m.
	Timeout time.Duration
	// Retention keeps a finished task (so that a repeat of its ID is
	// dropped). Default 1h.
	Retention time.Duration
}

// TaskQueue enqueues a provider's background tasks on the critical queue.
type TaskQueue interface {
	Enqueue(ctx context.Context, typ string, payload []byte, opts TaskOptions) error
}
