// Package catalog turns a configured app into its provider through the
// provider registry: it builds the [providers.Env] a provider is given (the
// app's config block and the neutral stores, implemented here on Redis) and
// calls the provider's constructor or callback builder. It names no
// provider. The producer uses it to validate messages by the provider's own
// rules (no credentials needed); the worker to build the provider clients
// that send and to run the providers' background tasks; the api server to
// build the providers' callback handlers.
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/kv"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
	"github.com/msgdispatch/msgdispatch/providers"
)

// Validate checks msg by the rules of app's provider, without credentials or I/O.
// For a multi-tenant app that includes naming a tenant.
func Validate(app config.App, msg *providers.Message) error {
	if app.Block == nil {
		return fmt.Errorf("catalog: app of provider %q has no provider block", app.Provider)
	}
	return app.Block.ValidateMessage(msg)
}

// ValidateUpdate checks new content (kind, text, body) for msg, a message of
// app, by the rules of app's provider, without credentials or I/O: content
// the provider cannot apply to msg is a *providers.ValidationError naming the
// field (e.g. "kind").
func ValidateUpdate(app config.App, msg *providers.Message, kind providers.Kind, text string, body json.RawMessage) error {
	if app.Block == nil {
		return fmt.Errorf("catalog: app of provider %q has no provider block", app.Provider)
	}
	return app.Block.ValidateUpdate(msg, &providers.Content{Kind: kind, Text: text, Body: body})
}

// GivenIDs returns the ids msg gives itself that app's provider refuses to
// see twice from the app, by field path (WeCom: a card's task_id); nil when
// it gives none or the provider has no such rule.
func GivenIDs(app config.App, msg *providers.Message) map[string]string {
	if g, ok := app.Block.(providers.GivenIDs); ok {
		return g.GivenIDs(msg)
	}
	return nil
}

// Deps are what provider clients, callback handlers and tasks need besides
// their config.
type Deps struct {
	// Redis holds the app's state, tenants, the events stream and the
	// reference index. Required.
	Redis redis.UniversalClient
	// Tokens caches access tokens. Required to send.
	Tokens providers.TokenStore
	// HTTP talks to the providers; nil means the provider's default.
	HTTP *http.Client
	// Asynq enqueues the providers' background tasks. Required for callback
	// handlers that enqueue (a WeCom third-party app's).
	Asynq *asynq.Client
	// Logger receives the providers' logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Env builds the environment of the app configured under name.
func Env(name string, app config.App, d Deps) (*providers.Env, error) {
	if app.Block == nil {
		return nil, fmt.Errorf("catalog: app %s: no provider block", name)
	}
	if d.Redis == nil {
		return nil, fmt.Errorf("catalog: app %s: Redis is required", name)
	}
	env := &providers.Env{
		App: name, Config: app.Block, Tokens: d.Tokens, HTTP: d.HTTP, Logger: d.Logger, Now: d.Now,
		State:    kv.New(d.Redis, name),
		Events:   eventSink{store: record.NewStore(d.Redis), app: name},
		Messages: record.NewStore(d.Redis).MessageIndex(name),
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	env.Logger = env.Logger.With("app", name, "provider", app.Provider)
	if env.Now == nil {
		env.Now = time.Now
	}
	if d.Asynq != nil {
		env.Tasks = TaskQueue(d.Asynq)
	}
	if app.MultiTenant() {
		ts, err := Tenants(d.Redis, name, app)
		if err != nil {
			return nil, err
		}
		key, _ := providers.ParseKey(app.TenantKey) // checked by Tenants
		env.Tenants, env.TenantKey = ts.Neutral(), key
	}
	return env, nil
}

// New builds the provider client of the app configured under name.
func New(name string, app config.App, d Deps) (providers.Provider, error) {
	desc, err := app.Descriptor()
	if err != nil {
		return nil, fmt.Errorf("catalog: app %s: %w", name, err)
	}
	env, err := Env(name, app, d)
	if err != nil {
		return nil, err
	}
	p, err := desc.New(env)
	if err != nil {
		return nil, fmt.Errorf("catalog: app %s: %w", name, err)
	}
	return p, nil
}

// CallbackHandler builds the handler of the provider callbacks of the app
// configured under name, served at /callbacks/{provider}/{name}. It returns
// (nil, nil) for an app that receives no callbacks.
func CallbackHandler(name string, app config.App, d Deps) (http.Handler, error) {
	desc, err := app.Descriptor()
	if err != nil {
		return nil, fmt.Errorf("catalog: app %s: %w", name, err)
	}
	if desc.Callback == nil {
		return nil, nil
	}
	env, err := Env(name, app, d)
	if err != nil {
		return nil, err
	}
	h, err := desc.Callback(env)
	if err != nil {
		return nil, fmt.Errorf("catalog: app %s: %w", name, err)
	}
	return h, nil
}

// Tenants returns the tenant store of the multi-tenant app configured under
// name, which seals the tenants' secrets with the app's tenant_key.
func Tenants(rdb redis.UniversalClient, name string, app config.App) (*tenant.Store, error) {
	if !app.MultiTenant() {
		return nil, fmt.Errorf("catalog: app %s has no tenants (only apps whose provider block says so have)", name)
	}
	if rdb == nil {
		return nil, fmt.Errorf("catalog: app %s: tenants need Redis", name)
	}
	key, err := providers.ParseKey(app.TenantKey)
	if err != nil {
		return nil, fmt.Errorf("catalog: app %s: tenant_key: %w", name, err)
	}
	return tenant.New(rdb, name, key, tenant.Options{})
}

// eventSink is the providers.EventSink of one app: its events stream.
type eventSink struct {
	store *record.Store
	app   string
}

func (s eventSink) PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *providers.Event) (bool, error) {
	return s.store.PublishOnce(ctx, dedupeKey, ttl, &record.ProviderEvent{
		ID: ev.ID, App: s.app, Type: ev.Type, At: ev.At, Tenant: ev.Tenant, MessageID: ev.MessageID, Data: ev.Data,
	})
}

// TaskQueue returns the providers.TaskQueue on client: tasks on the critical
// queue, unique by their id.
func TaskQueue(client *asynq.Client) providers.TaskQueue { return taskQueue{client} }

type taskQueue struct{ client *asynq.Client }

func (q taskQueue) Enqueue(ctx context.Context, typ string, payload []byte, o providers.TaskOptions) error {
	if o.ID == "" {
		return fmt.Errorf("catalog: task %s: an ID is required", typ)
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = 10
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.Retention <= 0 {
		o.Retention = time.Hour
	}
	_, err := q.client.EnqueueContext(ctx, asynq.NewTask(typ, payload), asynq.TaskID(o.ID), asynq.Queue(job.QueueCritical),
		asynq.MaxRetry(o.MaxRetry), asynq.Timeout(o.Timeout), asynq.Retention(o.Retention))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("catalog: enqueue task %s: %w", typ, err)
	}
	return nil
}

// Handlers returns the asynq handlers of every registered provider's
// background tasks, by task type. lookup finds the client of a configured
// app. A failure whose class is permanent ends the task (archived, with the
// reason); any other is retried.
func Handlers(lookup func(app string) (providers.Provider, bool)) map[string]asynq.Handler {
	out := map[string]asynq.Handler{}
	for _, d := range providers.Registered() {
		for typ, h := range d.Tasks {
			out[typ] = asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
				err := h(ctx, t.Payload(), lookup)
				if err != nil && providers.ClassOf(err) == providers.ClassPermanent {
					return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
				}
				return err
			})
		}
	}
	return out
}
