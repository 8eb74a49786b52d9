package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/msgcrypt"
)

func init() { providers.Register(Descriptor()) }

// PersonTimesPerSeat is WeCom's daily quota per seat of a company
// ("账号上限数*200人次/天").
const PersonTimesPerSeat = 200

// Descriptor is WeCom's entry in the provider registry: config block
// "wecom", default quotas 30 per member per minute and 1000 per hour (WeCom
// silently drops what exceeds them) and seats × 200 person-times a day per
// tenant, on_unknown resend (WeCom's duplicate check), the callback handler
// and the authorisation task.
func Descriptor() providers.Descriptor {
	return providers.Descriptor{
		Name:  ProviderName,
		Title: "WeCom (企业微信)",
		NewConfig: func() providers.AppConfig {
			return &Config{Mode: ModeSelfBuilt, DuplicateCheckInterval: MaxDuplicateCheckInterval}
		},
		OnUnknown: "resend",
		Limits: providers.DefaultLimits{
			PerRecipient: []providers.Window{{Count: 30, Window: time.Minute}, {Count: 1000, Window: time.Hour}},
			PerSeatDaily: PersonTimesPerSeat,
		},
		New:      newFromEnv,
		Callback: callbackFromEnv,
		Tasks:    map[string]providers.TaskHandler{TaskAuth: runAuthTask},
	}
}

func newFromEnv(env *providers.Env) (providers.Provider, error) {
	cfg, ok := env.Config.(*Config)
	if !ok {
		return nil, fmt.Errorf("wecom: app %s: config block is %T, want *wecom.Config", env.App, env.Config)
	}
	opts := []Option{WithState(env.State)}
	if cfg.MultiTenant() {
		if env.Tenants == nil || env.State == nil {
			return nil, fmt.Errorf("wecom: app %s (mode %s): needs the tenant store and the app state", env.App, cfg.Mode)
		}
		sealer, err := providers.NewCipher(env.TenantKey)
		if err != nil {
			return nil, fmt.Errorf("wecom: app %s: tenant_key: %w", env.App, err)
		}
		opts = append(opts, WithTenants(env.Tenants), WithTickets(NewTicketStore(env.State, 0, env.Now)), WithTenantKey(sealer))
	}
	return New(*cfg, env.Tokens, env.HTTP, opts...), nil
}

func callbackFromEnv(env *providers.Env) (http.Handler, error) {
	cfg, ok := env.Config.(*Config)
	if !ok {
		return nil, fmt.Errorf("wecom: app %s: config block is %T, want *wecom.Config", env.App, env.Config)
	}
	if !cfg.ReceivesCallbacks() {
		return nil, nil
	}
	if env.State == nil || env.Events == nil {
		return nil, fmt.Errorf("wecom: app %s: callbacks need the app state and the events stream", env.App)
	}
	o := CallbackOptions{App: env.App, Config: *cfg, Sink: &envSink{cfg: cfg, env: env}, Logger: env.Logger, Now: env.Now}
	if cfg.MultiTenant() {
		q, err := NewAuthQueue(env.Tasks, env.App, env.TenantKey)
		if err != nil {
			return nil, err
		}
		o.Tenants, o.Tickets, o.Auth = env.Tenants, NewTicketStore(env.State, 0, env.Now), q
	}
	return NewCallbackHandler(o)
}

// envSink is the CallbackSink of the core: click codes in the app's state,
// clicks on its events stream with the dispatcher message they concern.
type envSink struct {
	cfg *Config
	env *providers.Env
}

func (s *envSink) PutResponseCode(ctx context.Context, tenant, taskID, user, code string, ttl time.Duration) error {
	key := ClickCodeKey(tenant, taskID, NormalizeUser(s.cfg.EffectiveMode(), user))
	return s.env.State.Set(ctx, key, []byte(code), ttl)
}

func (s *envSink) PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *CallbackEvent) (bool, error) {
	data := map[string]string{"user": ev.User, "task_id": ev.TaskID, "event_key": ev.EventKey, "card_type": ev.CardType}
	if ev.AgentID != 0 {
		data["agent_id"] = strconv.FormatInt(ev.AgentID, 10)
	}
	if len(ev.Selected) > 0 {
		b, err := json.Marshal(ev.Selected)
		if err != nil {
			return false, err
		}
		data["selected"] = string(b)
	}
	for k, v := range data {
		if v == "" {
			delete(data, k)
		}
	}
	out := &providers.Event{ID: ev.ID, Type: ev.Type, At: ev.At, Tenant: ev.Tenant, Data: data}
	if s.env.Messages != nil && ev.TaskID != "" {
		id, err := s.env.Messages.MessageOf(ctx, ev.TaskID)
		switch {
		case err == nil:
			out.MessageID = id
		case !errors.Is(err, providers.ErrNotFound):
			return false, err
		}
	}
	return s.env.Events.PublishOnce(ctx, dedupeKey, ttl, out)
}

// RequiredKeys are the keys a wecom block needs in its mode: base_url,
// corp_id, agent_id and secret for self_built; base_url, suite_id,
// suite_secret, callback_token and encoding_aes_key for third_party and
// custom.
func (c *Config) RequiredKeys() []string {
	switch c.EffectiveMode() {
	case ModeSelfBuilt:
		return []string{"base_url", "corp_id", "agent_id", "secret"}
	case ModeThirdParty, ModeCustom:
		return []string{"base_url", "suite_id", "suite_secret", "callback_token", "encoding_aes_key"}
	}
	return []string{"base_url"}
}

// Validate checks the block; every problem is a *providers.ValidationError
// naming its key, joined with errors.Join. No message shows a secret.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, providers.Invalid(field, format, args...))
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("base_url", "want an absolute http or https URL, got %q", c.BaseURL)
	}
	if d := c.DuplicateCheckInterval; d <= 0 || d > MaxDuplicateCheckInterval {
		add("duplicate_check_interval", "must be greater than 0 and at most %s", MaxDuplicateCheckInterval)
	}
	switch c.EffectiveMode() {
	case ModeSelfBuilt:
		if c.AgentID <= 0 {
			add("agent_id", "must be greater than 0")
		}
		for key, val := range map[string]string{"suite_id": c.SuiteID, "suite_secret": c.SuiteSecret, "provider_corp_id": c.ProviderCorpID} {
			if val != "" {
				add(key, "only used by modes %s and %s", ModeThirdParty, ModeCustom)
			}
		}
		switch {
		case c.CallbackToken != "" && c.EncodingAESKey == "":
			add("encoding_aes_key", "required with callback_token (to receive the app's callbacks)")
		case c.CallbackToken == "" && c.EncodingAESKey != "":
			add("callback_token", "required with encoding_aes_key (to receive the app's callbacks)")
		}
	case ModeThirdParty, ModeCustom:
		why := "not used with mode " + c.Mode + ": each tenant has its own"
		if c.CorpID != "" {
			add("corp_id", "%s corp id (set provider_corp_id for the service provider's own)", why)
		}
		if c.AgentID != 0 {
			add("agent_id", "%s agentid, learnt when it installs the app", why)
		}
		if c.Secret != "" {
			add("secret", "%s permanent code, learnt when it installs the app", why)
		}
	default:
		add("mode", "want %s, got %q", strings.Join(Modes, ", "), c.Mode)
		return errors.Join(errs...)
	}
	if c.EncodingAESKey != "" {
		if _, err := msgcrypt.New("t", c.EncodingAESKey); err != nil {
			// msgcrypt's errors describe the key's form, never the key.
			add("encoding_aes_key", "invalid: want the 43-character EncodingAESKey from the callback settings (%s)", strings.TrimPrefix(err.Error(), "msgcrypt: invalid configuration: "))
		}
	}
	return errors.Join(errs...)
}

// Company is the corp a request for tenant goes to: the tenant (its auth
// corp id) for a multi-tenant app, corp_id otherwise.
func (c *Config) Company(tenant string) string {
	if tenant != "" {
		return tenant
	}
	return c.CorpID
}

// NormalizeRecipient is [NormalizeUser] in the app's mode.
func (c *Config) NormalizeRecipient(id string) string { return NormalizeUser(c.EffectiveMode(), id) }

// Capabilities are what an app of this config supports (see
// [Client.Capabilities]).
func (c *Config) Capabilities() providers.Capabilities {
	d := c.DuplicateCheckInterval
	switch {
	case d <= 0, d > MaxDuplicateCheckInterval:
		d = MaxDuplicateCheckInterval
	case d < time.Second:
		d = time.Second
	}
	return providers.Capabilities{
		Update:           true,
		Recall:           true,
		UpdatableKinds:   []providers.Kind{providers.KindCard},
		UpdateOnlyKinds:  []providers.Kind{KindButton},
		MaxUsersPerPart:  MaxUsersPerPart,
		MaxGroupsPerPart: MaxGroupsPerPart,
		DedupeWindow:     d,
		RecallWindow:     RecallWindow,
	}
}

// ValidateMessage is [ValidateApp] with the app's config.
func (c *Config) ValidateMessage(msg *providers.Message) error { return ValidateApp(*c, msg) }

// ValidateUpdate checks new content for msg at enqueue ([ValidateUpdateFor]):
// only an interaction card (one that returns a response_code: button, vote
// and multiple-choice interaction cards, cards with action_menu) can be
// updated, with kind card or button content.
func (c *Config) ValidateUpdate(msg *providers.Message, content *providers.Content) error {
	return ValidateUpdateFor(msg, content.Kind, content.Text, content.Body)
}

// GivenIDs are the ids msg gives itself that WeCom refuses to see twice from
// the app: a card's task_id (42014), on "body.task_id".
func (c *Config) GivenIDs(msg *providers.Message) map[string]string {
	if id := GivenTaskID(msg); id != "" {
		return map[string]string{"body.task_id": id}
	}
	return nil
}
