package wps365

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

// Descriptor is WPS 365's entry in the provider registry: config block
// "wps365" (required: base_url, app_id, app_secret; defaults: base_url
// https://openapi.wps.cn, token_path /oauth2/token, callback_max_skew 5m,
// unsigned_prefix and company_id empty), on_unknown "give_up" (WPS documents no duplicate check), no
// default quotas (none documented), the client ([New]) and the callback
// handler ([NewCallbackHandler]) publishing to the app's events stream.
func Descriptor() providers.Descriptor {
	return providers.Descriptor{
		Name:  ProviderName,
		Title: "WPS 365 (v7 open API)",
		NewConfig: func() providers.AppConfig {
			return &Config{BaseURL: DefaultBaseURL, TokenPath: DefaultTokenPath, CallbackMaxSkew: DefaultMaxSkew}
		},
		OnUnknown: "give_up",
		New:       newFromEnv,
		Callback:  callbackFromEnv,
	}
}

func configOf(env *providers.Env) (*Config, error) {
	if env == nil {
		return nil, errors.New("wps365: no environment")
	}
	cfg, ok := env.Config.(*Config)
	if !ok || cfg == nil {
		return nil, fmt.Errorf("wps365: app %s: config block is %T, want *wps365.Config", env.App, env.Config)
	}
	return cfg, nil
}

func newFromEnv(env *providers.Env) (providers.Provider, error) {
	cfg, err := configOf(env)
	if err != nil {
		return nil, err
	}
	if env.Tokens == nil {
		return nil, fmt.Errorf("wps365: app %s: needs the token store", env.App)
	}
	var opts []Option
	if env.Now != nil {
		opts = append(opts, WithClock(env.Now))
	}
	return New(*cfg, env.Tokens, env.HTTP, opts...), nil
}

// callbackFromEnv builds the app's callback handler. Every app can receive
// callbacks: they are verified with app_id and app_secret, which every app
// has.
func callbackFromEnv(env *providers.Env) (http.Handler, error) {
	cfg, err := configOf(env)
	if err != nil {
		return nil, err
	}
	if env.Events == nil {
		return nil, fmt.Errorf("wps365: app %s: callbacks need the events stream", env.App)
	}
	return NewCallbackHandler(CallbackOptions{App: env.App, Config: *cfg, Sink: &envSink{env: env}, Logger: env.Logger, Now: env.Now})
}

// envSink is the CallbackSink of the core: events on the app's events
// stream, with the dispatcher message a card action concerns when its
// app_ctx_id is a known Part.Ref.
type envSink struct {
	env *providers.Env
}

// PublishOnce turns ev into a providers.Event and publishes it once.
func (s *envSink) PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *CallbackEvent) (bool, error) {
	out, err := s.event(ctx, ev)
	if err != nil {
		return false, err
	}
	return s.env.Events.PublishOnce(ctx, dedupeKey, ttl, out)
}

func (s *envSink) event(ctx context.Context, ev *CallbackEvent) (*providers.Event, error) {
	data := map[string]string{
		"user": ev.User, "action": ev.Action, "company_id": ev.CompanyID, "app_ctx_id": ev.AppCtxID,
		"topic": ev.Topic, "operation": ev.Operation,
	}
	if len(ev.Values) > 0 {
		b, err := json.Marshal(ev.Values)
		if err != nil {
			return nil, fmt.Errorf("wps365: callback values: %w", err)
		}
		data["values"] = string(b)
	}
	if len(ev.Data) > 0 {
		data["data"] = string(ev.Data)
	}
	for k, v := range data {
		if v == "" {
			delete(data, k)
		}
	}
	out := &providers.Event{ID: ev.ID, Type: ev.Type, At: ev.At, Data: data}
	if s.env.Messages != nil && ev.AppCtxID != "" {
		id, err := s.env.Messages.MessageOf(ctx, ev.AppCtxID)
		switch {
		case err == nil:
			out.MessageID = id
		case !errors.Is(err, providers.ErrNotFound):
			return nil, fmt.Errorf("wps365: find the message of app_ctx_id %s: %w", ev.AppCtxID, err)
		}
	}
	return out, nil
}

var _ providers.AppConfig = (*Config)(nil)
