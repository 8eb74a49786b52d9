package wps365_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wps365"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
)

// validationFields returns the Field of every *providers.ValidationError
// joined in err.
func validationFields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ve *providers.ValidationError
		if errors.As(e, &ve) {
			out = append(out, ve.Field)
		}
	}
	if err != nil {
		walk(err)
	}
	slices.Sort(out)
	return out
}

func TestDescriptorRegistered(t *testing.T) {
	t.Parallel()
	d, ok := providers.Lookup("wps365")
	if !ok {
		t.Fatalf("wps365 is not registered; registered: %v", providers.Names())
	}
	if d.Name != wps365.ProviderName || d.Title == "" || d.OnUnknown != "give_up" || d.New == nil || d.Callback == nil {
		t.Fatalf("descriptor %+v", d)
	}
	if len(d.Limits.PerRecipient) != 0 || d.Limits.PerSeatDaily != 0 {
		t.Fatalf("limits %+v, want none (WPS documents none)", d.Limits)
	}
	cfg, ok := d.NewConfig().(*wps365.Config)
	if !ok {
		t.Fatalf("NewConfig returns %T, want *wps365.Config", d.NewConfig())
	}
	if cfg.BaseURL != wps365.DefaultBaseURL || cfg.TokenPath != wps365.DefaultTokenPath || cfg.CallbackMaxSkew != wps365.DefaultMaxSkew ||
		cfg.UnsignedPrefix != "" || cfg.CompanyID != "" {
		t.Fatalf("defaults %+v", cfg)
	}
	if d.NewConfig() == d.NewConfig() {
		t.Fatalf("NewConfig returns a shared block")
	}
}

func TestNewConfigValidateNamesKeys(t *testing.T) {
	t.Parallel()
	d, _ := providers.Lookup("wps365")
	tests := []struct {
		desc   string
		edit   func(*wps365.Config)
		fields []string
	}{
		{desc: "defaults only", edit: func(*wps365.Config) {}, fields: []string{"app_id", "app_secret"}},
		{desc: "complete", edit: func(c *wps365.Config) { c.AppID, c.AppSecret = "AK1", "sk-very-secret" }},
		{desc: "bad base url and prefix", edit: func(c *wps365.Config) {
			c.AppID, c.AppSecret, c.BaseURL, c.UnsignedPrefix = "AK1", "sk-very-secret", "https://wps.example/openapi", "openapi"
		}, fields: []string{"base_url", "unsigned_prefix"}},
		{desc: "bad token path", edit: func(c *wps365.Config) { c.AppID, c.AppSecret, c.TokenPath = "AK1", "sk-very-secret", "oauth2/token" },
			fields: []string{"token_path"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			cfg := d.NewConfig()
			tc.edit(cfg.(*wps365.Config))
			err := cfg.Validate()
			if got := validationFields(err); !slices.Equal(got, tc.fields) {
				t.Fatalf("Validate = %v: fields %v, want %v", err, got, tc.fields)
			}
			if err != nil && strings.Contains(err.Error(), "sk-very-secret") {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestAppConfigMethods(t *testing.T) {
	t.Parallel()
	var cfg providers.AppConfig = &wps365.Config{AppID: "AK1", AppSecret: "s"}
	for _, k := range []string{"base_url", "app_id", "app_secret"} {
		if !slices.Contains(cfg.RequiredKeys(), k) {
			t.Errorf("RequiredKeys %v lacks %s", cfg.RequiredKeys(), k)
		}
	}
	if cfg.MultiTenant() {
		t.Errorf("MultiTenant = true")
	}
	if got := cfg.Company(""); got != "AK1" {
		t.Errorf("Company without company_id = %q, want the app id", got)
	}
	if got := (&wps365.Config{AppID: "AK1", CompanyID: "comp9"}).Company("x"); got != "comp9" {
		t.Errorf("Company = %q, want company_id comp9", got)
	}
	if got := cfg.NormalizeRecipient("  UserA \t"); got != "UserA" {
		t.Errorf("NormalizeRecipient = %q, want UserA (trimmed, case kept)", got)
	}
	caps := cfg.Capabilities()
	if !caps.Update || !caps.Recall || !caps.Reply || !slices.Equal(caps.UpdatableKinds, []providers.Kind{providers.KindCard}) ||
		len(caps.UpdateOnlyKinds) != 0 || caps.RecallWindow != 0 || caps.DedupeWindow != 0 || caps.MaxUsersPerPart != wps365.MaxBatchUsers {
		t.Errorf("Capabilities %+v", caps)
	}
}

func TestValidateUpdate(t *testing.T) {
	t.Parallel()
	card := testCard("v1", 1)
	cardTo := func(to providers.Recipients) *providers.Message {
		return &providers.Message{Kind: providers.KindCard, Body: card, To: to}
	}
	newCard := &providers.Content{Kind: providers.KindCard, Body: testCard("v2", 2)}
	tests := []struct {
		desc    string
		msg     *providers.Message
		content *providers.Content
		field   string // "" means accepted
	}{
		{desc: "card to a user", msg: cardTo(providers.Recipients{Users: []string{"u1"}}), content: newCard},
		{desc: "card to a user and a dept", msg: cardTo(providers.Recipients{Users: []string{"u1"}, Depts: []string{"d1"}}), content: newCard},
		{desc: "raw card content", msg: cardTo(providers.Recipients{Chats: []string{"c1"}}),
			content: &providers.Content{Kind: providers.KindRaw, Body: []byte(`{"type":"card","content":{"card":` + string(card) + `}}`)}},
		{desc: "text content", msg: cardTo(providers.Recipients{Users: []string{"u1"}}), content: &providers.Content{Kind: providers.KindText, Text: "x"}, field: "kind"},
		{desc: "text message", msg: &providers.Message{Kind: providers.KindText, Text: "x", To: providers.Recipients{Users: []string{"u1"}}}, content: newCard, field: "kind"},
		{desc: "card to depts only (batch)", msg: cardTo(providers.Recipients{Depts: []string{"d1"}}), content: newCard, field: "to"},
		{desc: "card to everyone (batch)", msg: cardTo(providers.Recipients{All: true}), content: newCard, field: "to"},
		{desc: "non-shared card", msg: &providers.Message{Kind: providers.KindCard, To: providers.Recipients{Users: []string{"u1"}},
			Body: []byte(`{"config":{"shared_card":false},"i18n_items":[{"key":"zh-CN","value":{"elements":[]}}]}`)}, content: newCard, field: "body.config.shared_card"},
		{desc: "reply", msg: &providers.Message{Kind: providers.KindText, Text: "x", ReplyTo: &providers.ReplyTo{Chat: "c1", MessageID: "m"}}, content: newCard, field: "kind"},
	}
	cfg := &wps365.Config{AppID: "AK1", AppSecret: "s", CompanyID: "comp1"}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			err := cfg.ValidateUpdate(tc.msg, tc.content)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("ValidateUpdate = %v, want accepted", err)
				}
				return
			}
			var ve *providers.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("ValidateUpdate = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
}

func TestNewFromEnvSendsToSimulator(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d, _ := providers.Lookup("wps365")
	cfg := d.NewConfig().(*wps365.Config)
	cfg.BaseURL, cfg.AppID, cfg.AppSecret, cfg.CompanyID = b.base, appID, appSecret, companyID
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tokens := newMemTokens(b.clock.Now)
	prov, err := d.New(&providers.Env{App: "app1", Config: cfg, Tokens: tokens, Now: b.clock.Now})
	if err != nil {
		t.Fatalf("New(env): %v", err)
	}
	if prov.Name() != "wps365" {
		t.Fatalf("Name = %q", prov.Name())
	}
	ctx := context.Background()
	msg := &providers.Message{App: "app1", Kind: providers.KindText, Text: "from env", To: providers.Recipients{Users: []string{"u2"}}}
	parts, err := prov.Prepare(ctx, msg, providers.PrepareOptions{MessageID: "m-env"})
	if err != nil || len(parts) != 1 {
		t.Fatalf("Prepare: %d parts, %v", len(parts), err)
	}
	res, err := prov.Send(ctx, &parts[0])
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	ds := b.sim.Deliveries("u2")
	if len(ds) != 1 || ds[0].MessageID != res.ProviderMessageID {
		t.Fatalf("u2 sees %+v, want message %s", ds, res.ProviderMessageID)
	}
	if tokens.calls != 1 || b.sim.TokenFetches(appID) != 1 {
		t.Fatalf("token fetched %d times through the env's store (%d by the simulator), want 1", tokens.calls, b.sim.TokenFetches(appID))
	}
}

func TestNewFromEnvRefusesWrongConfig(t *testing.T) {
	t.Parallel()
	d, _ := providers.Lookup("wps365")
	if _, err := d.New(&providers.Env{App: "app1", Config: wrongConfig{}, Tokens: newMemTokens(time.Now)}); err == nil || !strings.Contains(err.Error(), "app1") {
		t.Fatalf("New with another provider's config = %v, want an error naming the app", err)
	}
	if _, err := d.New(&providers.Env{App: "app1", Config: &wps365.Config{AppID: "a", AppSecret: "s"}}); err == nil {
		t.Fatalf("New without a token store succeeded")
	}
}

// wrongConfig is an AppConfig of no provider.
type wrongConfig struct{ providers.AppConfig }

// envEvents is an in-memory providers.EventSink.
type envEvents struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []*providers.Event
}

func (s *envEvents) PublishOnce(_ context.Context, key string, _ time.Duration, ev *providers.Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if s.seen[key] {
		return false, nil
	}
	s.seen[key] = true
	s.events = append(s.events, ev)
	return true, nil
}

func (s *envEvents) Events() []*providers.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// refIndex is a providers.MessageIndex over a map; fail makes every lookup fail.
type refIndex struct {
	refs map[string]string
	fail bool
}

func (x refIndex) MessageOf(_ context.Context, ref string) (string, error) {
	if x.fail {
		return "", errors.New("index unavailable")
	}
	if id, ok := x.refs[ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("ref %s: %w", ref, providers.ErrNotFound)
}

func TestCallbackFromEnvPublishesEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		ctxID     string
		index     refIndex
		status    int
		published int
		messageID string
	}{
		{desc: "known app_ctx_id", ctxID: "ctx-7", index: refIndex{refs: map[string]string{"ctx-7": "m-42"}}, status: http.StatusOK, published: 1, messageID: "m-42"},
		{desc: "unknown app_ctx_id", ctxID: "ctx-8", index: refIndex{refs: map[string]string{"ctx-7": "m-42"}}, status: http.StatusOK, published: 1},
		{desc: "index failing", ctxID: "ctx-7", index: refIndex{fail: true}, status: http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			d, _ := providers.Lookup("wps365")
			cfg := b.cfg
			events := &envEvents{}
			h, err := d.Callback(&providers.Env{App: "app1", Config: &cfg, Events: events, Messages: tc.index, Now: b.clock.Now})
			if err != nil || h == nil {
				t.Fatalf("Callback(env) = %v, %v", h, err)
			}
			mux := http.NewServeMux()
			mux.Handle("/callbacks/wps365/app1", h)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			res, err := b.sim.FireCardClick(context.Background(), wps365sim.CardClick{URL: srv.URL + "/callbacks/wps365/app1", AppID: appID,
				CompanyID: companyID, AppCtxID: tc.ctxID, UserID: "u1", Action: "approve", Values: map[string]string{"comment": "ok"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status {
				t.Fatalf("status %d (%s), want %d", res.Status, res.Body, tc.status)
			}
			evs := events.Events()
			if len(evs) != tc.published {
				t.Fatalf("%d events, want %d", len(evs), tc.published)
			}
			if tc.published == 0 {
				return
			}
			ev := evs[0]
			if ev.Type != "wps365.card_click" || ev.MessageID != tc.messageID || ev.ID == "" || ev.At.IsZero() ||
				ev.Data["user"] != "u1" || ev.Data["action"] != "approve" || ev.Data["app_ctx_id"] != tc.ctxID ||
				ev.Data["company_id"] != companyID || ev.Data["values"] != `{"comment":"ok"}` {
				t.Fatalf("event %+v", ev)
			}
			for k, v := range ev.Data {
				if strings.Contains(v, appSecret) {
					t.Fatalf("event data %s shows the app secret", k)
				}
			}
		})
	}
}

func TestCallbackFromEnvNeedsEvents(t *testing.T) {
	t.Parallel()
	d, _ := providers.Lookup("wps365")
	if _, err := d.Callback(&providers.Env{App: "app1", Config: &wps365.Config{AppID: "a", AppSecret: "s"}}); err == nil {
		t.Fatalf("Callback without an events stream succeeded")
	}
}
