package xiezuo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

func init() { providers.Register(Descriptor()) }

// Descriptor is WPS 协作's entry in the provider registry: config block
// "xiezuo" (see [Config]; [NewConfig] holds the defaults), no default quotas
// (WPS documents no per-recipient limit), on_unknown give_up (WPS documents
// no duplicate check, so a request of unknown outcome is not re-sent), and
// the card-callback handler ([CallbackHandler]) publishing
// [EventTypeCardClick] events. It registers no background task.
func Descriptor() providers.Descriptor {
	return providers.Descriptor{
		Name:      ProviderName,
		Title:     "WPS 协作 (v2 open API)",
		NewConfig: func() providers.AppConfig { return NewConfig() },
		OnUnknown: "give_up",
		New:       newFromEnv,
		Callback:  callbackFromEnv,
	}
}

// NewConfig returns the block the config loader decodes an app's xiezuo
// block into: base_url [DefaultBaseURL] and signature wps3. The defaults that
// depend on the signature (send_path, company_token_path, header_style,
// unsigned_prefix, and update_method when update_path is set) are applied by
// [Config.Defaults], which Validate and [New] call.
func NewConfig() *Config {
	return &Config{BaseURL: DefaultBaseURL, Signature: SignatureWPS3}
}

func configOf(env *providers.Env) (*Config, error) {
	cfg, ok := env.Config.(*Config)
	if !ok || cfg == nil {
		return nil, fmt.Errorf("xiezuo: app %s: config block is %T, want *xiezuo.Config", env.App, env.Config)
	}
	return cfg, nil
}

func newFromEnv(env *providers.Env) (providers.Provider, error) {
	cfg, err := configOf(env)
	if err != nil {
		return nil, err
	}
	var opts []Option
	if env.Now != nil {
		opts = append(opts, WithClock(env.Now))
	}
	c, err := New(*cfg, env.Tokens, env.HTTP, opts...)
	if err != nil {
		return nil, fmt.Errorf("xiezuo: app %s: %w", env.App, err)
	}
	return c, nil
}

// callbackFromEnv builds the app's card-callback handler. Every app can
// receive callbacks: WPS signs them with the app's own key and secret, and the
// callback URL is set in the developer console, not in the dispatcher.
func callbackFromEnv(env *providers.Env) (http.Handler, error) {
	cfg, err := configOf(env)
	if err != nil {
		return nil, err
	}
	if env.Events == nil {
		return nil, fmt.Errorf("xiezuo: app %s: callbacks need the events stream", env.App)
	}
	return NewCallbackHandler(CallbackOptions{App: env.App, Config: *cfg, Sink: &envSink{env: env}, Logger: env.Logger, Now: env.Now})
}

// envSink is the CallbackSink of the core: card clicks on the app's events
// stream, with the dispatcher message their ctx_id belongs to.
type envSink struct {
	env *providers.Env
}

// PublishOnce turns ev into a providers.Event of type [EventTypeCardClick]
// with Data user, ctx_id, action, company_id and values (the form inputs as a
// JSON object), empty ones left out. MessageID is what env.Messages says the
// ctx_id belongs to; when it does not know the ctx_id, the message id
// [ParseCtxID] read from it, if any.
func (s *envSink) PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *CallbackEvent) (bool, error) {
	data := map[string]string{"user": ev.User, "ctx_id": ev.CtxID, "action": ev.Action, "company_id": ev.CompanyID}
	if len(ev.Values) > 0 {
		b, err := json.Marshal(ev.Values)
		if err != nil {
			return false, fmt.Errorf("xiezuo: app %s: encode callback values: %w", s.env.App, err)
		}
		data["values"] = string(b)
	}
	for k, v := range data {
		if v == "" {
			delete(data, k)
		}
	}
	out := &providers.Event{ID: ev.ID, Type: ev.Type, At: ev.At, MessageID: ev.MessageID, Data: data}
	if s.env.Messages != nil {
		id, err := s.env.Messages.MessageOf(ctx, ev.CtxID)
		switch {
		case err == nil:
			out.MessageID = id
		case !errors.Is(err, providers.ErrNotFound):
			return false, fmt.Errorf("xiezuo: app %s: find the message of ctx_id %s: %w", s.env.App, ev.CtxID, err)
		}
	}
	return s.env.Events.PublishOnce(ctx, dedupeKey, ttl, out)
}
