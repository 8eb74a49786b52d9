// Package catalog turns a configured app into its provider: the one place that
// knows which provider package serves which provider name. The producer uses it to
// validate messages by the provider's own rules (no credentials needed); the worker
// to build the provider clients that send; the api server to build the
// providers' callback handlers.
package catalog

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/suiteticket"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
	"github.com/msgdispatch/msgdispatch/internal/wecomauth"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// Validate checks msg by the rules of app's provider, without credentials or I/O.
// For a multi-tenant app that includes naming a tenant.
func Validate(app config.App, msg *providers.Message) error {
	switch app.Provider {
	case "wecom":
		if app.WeCom == nil {
			return fmt.Errorf("catalog: provider wecom without a wecom block")
		}
		return wecom.ValidateApp(*app.WeCom, msg)
	default:
		return fmt.Errorf("catalog: provider %q is not supported", app.Provider)
	}
}

// ValidateUpdate checks new content (kind, text, body) for msg, a message of
// app, by the rules of app's provider, without credentials or I/O: content
// the provider cannot apply to msg is a *providers.ValidationError naming the
// field (WeCom: "kind" for anything but a card or button update of an
// updatable card).
func ValidateUpdate(app config.App, msg *providers.Message, kind providers.Kind, text string, body json.RawMessage) error {
	switch app.Provider {
	case "wecom":
		return wecom.ValidateUpdateFor(msg, kind, text, body)
	default:
		return fmt.Errorf("catalog: provider %q is not supported", app.Provider)
	}
}

// GivenTaskID returns the provider-side task id msg gives itself, which the
// provider refuses to see twice per app (WeCom: a card's task_id, 42014); ""
// when it gives none.
func GivenTaskID(app config.App, msg *providers.Message) string {
	if app.Provider == "wecom" {
		return wecom.GivenTaskID(msg)
	}
	return ""
}

// Deps are what provider clients need besides their config.
type Deps struct {
	// Tokens caches access tokens. Required to send.
	Tokens providers.TokenStore
	// HTTP talks to the providers; nil means the provider's default.
	HTTP *http.Client
	// Redis holds the tenants and suite tickets of multi-tenant apps. Required
	// for them.
	Redis redis.UniversalClient
}

// New builds the provider client of the app configured under name.
func New(name string, app config.App, d Deps) (providers.Provider, error) {
	switch app.Provider {
	case "wecom":
		if app.WeCom == nil {
			return nil, fmt.Errorf("catalog: provider wecom without a wecom block")
		}
		var opts []wecom.Option
		if app.MultiTenant() {
			ts, err := Tenants(d.Redis, name, app)
			if err != nil {
				return nil, err
			}
			opts = append(opts, wecom.WithTenants(ts.WeCom()), wecom.WithTickets(suiteticket.New(d.Redis, name, suiteticket.Options{})))
		}
		return wecom.New(*app.WeCom, d.Tokens, d.HTTP, opts...), nil
	default:
		return nil, fmt.Errorf("catalog: provider %q is not supported", app.Provider)
	}
}

// Tenants returns the tenant store of the multi-tenant app configured under
// name, which seals permanent codes with the app's tenant_key.
func Tenants(rdb redis.UniversalClient, name string, app config.App) (*tenant.Store, error) {
	if !app.MultiTenant() {
		return nil, fmt.Errorf("catalog: app %s has no tenants (only wecom apps of mode third_party or custom have)", name)
	}
	if rdb == nil {
		return nil, fmt.Errorf("catalog: app %s: tenants need Redis", name)
	}
	key, err := tenant.ParseKey(app.TenantKey)
	if err != nil {
		return nil, fmt.Errorf("catalog: app %s: tenant_key: %w", name, err)
	}
	return tenant.New(rdb, name, key, tenant.Options{})
}

// CallbackDeps are what callback handlers need.
type CallbackDeps struct {
	// Redis holds tenants, tickets, response codes and the events stream. Required.
	Redis redis.UniversalClient
	// Asynq enqueues authorisation jobs for the worker. Required for
	// multi-tenant apps.
	Asynq *asynq.Client
	// Logger receives refused and failed callbacks. Default: discard.
	Logger *slog.Logger
}

// CallbackHandler builds the handler of the provider callbacks of the app
// configured under name, served at /callbacks/{provider}/{name}. It returns
// (nil, nil) for an app that receives no callbacks (a wecom app without
// callback_token and encoding_aes_key).
func CallbackHandler(name string, app config.App, d CallbackDeps) (http.Handler, error) {
	switch app.Provider {
	case "wecom":
		if app.WeCom == nil || !app.WeCom.ReceivesCallbacks() {
			return nil, nil
		}
		if d.Redis == nil {
			return nil, fmt.Errorf("catalog: app %s: callbacks need Redis", name)
		}
		o := wecom.CallbackOptions{App: name, Config: *app.WeCom, Sink: newWeComSink(d.Redis, name), Logger: d.Logger}
		if app.MultiTenant() {
			ts, err := Tenants(d.Redis, name, app)
			if err != nil {
				return nil, err
			}
			if d.Asynq == nil {
				return nil, fmt.Errorf("catalog: app %s: callbacks of a multi-tenant app need an asynq client", name)
			}
			key, _ := tenant.ParseKey(app.TenantKey) // checked by Tenants
			q, err := wecomauth.NewQueue(d.Asynq, name, key)
			if err != nil {
				return nil, err
			}
			o.Tenants, o.Tickets, o.Auth = ts.WeCom(), suiteticket.New(d.Redis, name, suiteticket.Options{}), q
		}
		return wecom.NewCallbackHandler(o)
	default:
		return nil, nil
	}
}
