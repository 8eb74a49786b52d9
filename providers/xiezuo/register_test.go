package xiezuo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

func TestDescriptorRegistered(t *testing.T) {
	t.Parallel()
	d, ok := providers.Lookup(ProviderName)
	if !ok {
		t.Fatalf("providers.Lookup(%q): not registered", ProviderName)
	}
	if d.Name != "xiezuo" || d.OnUnknown != "give_up" || d.New == nil || d.Callback == nil || len(d.Tasks) != 0 {
		t.Fatalf("descriptor = %+v", d)
	}
	if len(d.Limits.PerRecipient) != 0 || d.Limits.PerSeatDaily != 0 {
		t.Fatalf("default limits = %+v, want none (WPS documents none)", d.Limits)
	}
	cfg, ok := d.NewConfig().(*Config)
	if !ok || cfg.BaseURL != DefaultBaseURL || cfg.Signature != SignatureWPS3 {
		t.Fatalf("NewConfig = %#v, want a *Config with base_url %s and signature wps3", d.NewConfig(), DefaultBaseURL)
	}
}

// fieldsOf returns the Field of every *providers.ValidationError joined in err.
func fieldsOf(err error) []string {
	var out []string
	var ve *providers.ValidationError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, fieldsOf(e)...)
		}
	} else if errors.As(err, &ve) {
		out = append(out, ve.Field)
	}
	return out
}

func TestNewConfigValidateNamesKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		mutate func(*Config)
		want   []string // fields named, sorted; nil for valid
	}{
		{desc: "empty block", mutate: func(*Config) {}, want: []string{"app_key", "app_secret", "company_id", "company_uid"}},
		{desc: "valid wps3", mutate: func(c *Config) { *c = validConfig() }},
		{desc: "wps4 without company_token_path", mutate: func(c *Config) { *c = validConfig(); c.Signature = SignatureWPS4 }, want: []string{"company_token_path"}},
		{desc: "bad base_url and update_method", mutate: func(c *Config) {
			*c = validConfig()
			c.BaseURL, c.UpdatePath, c.UpdateMethod = "ftp://x", "/u", "DELETE"
		}, want: []string{"base_url", "update_method"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			c := NewConfig()
			tc.mutate(c)
			err := c.Validate()
			got := fieldsOf(err)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Validate = %v: fields %v, want %v", err, got, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret-DO-NOT-LOG") {
				t.Fatalf("Validate error leaks the secret: %v", err)
			}
		})
	}
}

func TestRequiredKeysAreYAMLKeys(t *testing.T) {
	t.Parallel()
	fields := map[string]bool{}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		fields[typ.Field(i).Tag.Get("yaml")] = true
	}
	for _, sig := range []string{SignatureWPS3, SignatureWPS4} {
		keys := Config{Signature: sig}.RequiredKeys()
		for _, k := range keys {
			if !fields[k] {
				t.Errorf("signature %s: required key %q is not a yaml key of Config", sig, k)
			}
		}
		if !slices.Contains(keys, "base_url") || !slices.Contains(keys, "app_secret") || slices.Contains(keys, "company_token_path") != (sig == SignatureWPS4) {
			t.Errorf("signature %s: RequiredKeys = %v", sig, keys)
		}
	}
}

func TestConfigCoreMethods(t *testing.T) {
	t.Parallel()
	c := validConfig()
	if got := c.Company(""); got != "c1" {
		t.Errorf("Company = %q, want company_id c1", got)
	}
	if got := (Config{AppKey: "AK9"}).Company("t"); got != "AK9" {
		t.Errorf("Company without company_id = %q, want app_key AK9", got)
	}
	if got := c.NormalizeRecipient(" UserA \t"); got != "UserA" {
		t.Errorf("NormalizeRecipient = %q, want trimmed, case kept", got)
	}
	if c.MultiTenant() {
		t.Error("MultiTenant = true")
	}
	caps := c.Capabilities()
	if caps.Update || caps.Recall || caps.Reply || !slices.Equal(caps.UpdatableKinds, []providers.Kind{providers.KindCard}) {
		t.Errorf("Capabilities without update_path = %+v", caps)
	}
	c.UpdatePath = "/u"
	if !c.Capabilities().Updatable(providers.KindCard) || c.Capabilities().Updatable(providers.KindText) {
		t.Errorf("Capabilities with update_path = %+v, want cards updatable", c.Capabilities())
	}
	err := c.ValidateMessage(&providers.Message{To: providers.Recipients{Chats: []string{"chat-1"}}, Kind: providers.KindText, Text: "hi",
		ReplyTo: &providers.ReplyTo{Chat: "chat-1", MessageID: "m1"}})
	var ve *providers.ValidationError
	if !errors.As(err, &ve) || ve.Field != "reply_to" {
		t.Errorf("ValidateMessage with reply_to = %v, want refused naming reply_to", err)
	}
}

func TestValidateUpdate(t *testing.T) {
	t.Parallel()
	cardMsg := &providers.Message{To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindCard, Body: json.RawMessage(testCard)}
	textMsg := &providers.Message{To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindText, Text: "hi"}
	newCard := providers.Content{Kind: providers.KindCard, Body: json.RawMessage(testCard)}
	rawCard := providers.Content{Kind: providers.KindRaw, Body: json.RawMessage(`{"msg_type":23,"content":{"type":23,"content":` + testCard + `}}`)}
	tests := []struct {
		desc       string
		updatePath string
		msg        *providers.Message
		content    providers.Content
		field      string // "" for accepted
		reason     string
	}{
		{desc: "card to card", updatePath: "/u", msg: cardMsg, content: newCard},
		{desc: "card to raw card", updatePath: "/u", msg: cardMsg, content: rawCard},
		{desc: "no update endpoint", msg: cardMsg, content: newCard, field: "kind", reason: "update endpoint is not configured"},
		{desc: "text message", updatePath: "/u", msg: textMsg, content: newCard, field: "kind", reason: "updates only cards"},
		{desc: "text content", updatePath: "/u", msg: cardMsg, content: providers.Content{Kind: providers.KindText, Text: "done"}, field: "kind", reason: "updates only cards"},
		{desc: "raw text content", updatePath: "/u", msg: cardMsg, content: providers.Content{Kind: providers.KindRaw, Body: json.RawMessage(`{"msg_type":1,"content":{"type":1,"body":"x"}}`)}, field: "body.msg_type"},
		{desc: "card without elements", updatePath: "/u", msg: cardMsg, content: providers.Content{Kind: providers.KindCard, Body: json.RawMessage(`{"header":{}}`)}, field: "body.elements"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			c.UpdatePath = tc.updatePath
			err := c.ValidateUpdate(tc.msg, &tc.content)
			var ve *providers.ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("ValidateUpdate = %v, want accepted", err)
			case tc.field != "" && (!errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(ve.Reason, tc.reason)):
				t.Fatalf("ValidateUpdate = %v, want refused naming %s (%q)", err, tc.field, tc.reason)
			}
		})
	}
}

// memEvents is a providers.EventSink remembering dedupe keys.
type memEvents struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []*providers.Event
}

func (m *memEvents) PublishOnce(ctx context.Context, key string, ttl time.Duration, ev *providers.Event) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[key] {
		return false, nil
	}
	m.seen[key] = true
	m.events = append(m.events, ev)
	return true, nil
}

func (m *memEvents) published() []*providers.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

// memIndex is a providers.MessageIndex over a map; err, when set, is its
// answer to every lookup.
type memIndex struct {
	refs map[string]string
	err  error
}

func (m memIndex) MessageOf(ctx context.Context, ref string) (string, error) {
	if m.err != nil {
		return "", m.err
	}
	if id, ok := m.refs[ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("ref %s: %w", ref, providers.ErrNotFound)
}

// env returns the providers.Env of the bundle's app.
func (b *testBundle) env(events providers.EventSink, index providers.MessageIndex) *providers.Env {
	cfg := b.client.Config()
	return &providers.Env{App: e2eApp, Config: &cfg, Tokens: &memTokenStore{tokens: map[string]string{}}, Events: events, Messages: index, Now: b.now}
}

func TestNewFromEnvSendsToSimulator(t *testing.T) {
	t.Parallel()
	b := setup(t, HeaderStyleWPSDocs)
	d, _ := providers.Lookup(ProviderName)
	if _, err := d.New(&providers.Env{App: e2eApp, Config: badConfig{}}); err == nil || !strings.Contains(err.Error(), "want *xiezuo.Config") {
		t.Fatalf("New with another provider's block = %v, want an error", err)
	}
	p, err := d.New(b.env(&memEvents{seen: map[string]bool{}}, memIndex{}))
	if err != nil {
		t.Fatal(err)
	}
	id := "approvals.01jd8x7c3k9f2m4q6r8t0v2w60"
	parts, err := p.Prepare(context.Background(), &providers.Message{App: e2eApp, To: providers.Recipients{Users: []string{"u2"}}, Kind: providers.KindCard, Body: json.RawMessage(testCard)},
		providers.PrepareOptions{MessageID: id})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Send(context.Background(), &parts[0])
	if err != nil || res.ProviderMessageID != parts[0].Ref {
		t.Fatalf("Send = %+v, %v; want ProviderMessageID = Ref %s", res, err, parts[0].Ref)
	}
	ds := b.sim.Deliveries("u2")
	var state sentState
	if err := json.Unmarshal(res.State, &state); err != nil || len(ds) != 1 || state.MessageID != ds[0].MessageID || ds[0].CtxID != CtxID(id, 0, 0) {
		t.Fatalf("deliveries of u2 = %+v, state %s (%v); want one, with WPS's message_id in Result.State", ds, res.State, err)
	}
}

// badConfig is an AppConfig of another provider.
type badConfig struct{ providers.AppConfig }

func TestCallbackFromEnvFillsMessageID(t *testing.T) {
	t.Parallel()
	reversible := CtxID("approvals.01jd8x7c3k9f2m4q6r8t0v2w61", 0, 0)
	hashed := CtxID("a message id with spaces", 1, 0)
	tests := []struct {
		desc   string
		ctxID  string
		index  memIndex
		status int
		want   string // Event.MessageID
	}{
		{desc: "indexed hashed ctx_id", ctxID: hashed, index: memIndex{refs: map[string]string{hashed: "approvals.m-1"}}, status: http.StatusOK, want: "approvals.m-1"},
		{desc: "index wins over parsing", ctxID: reversible, index: memIndex{refs: map[string]string{reversible: "approvals.m-2"}}, status: http.StatusOK, want: "approvals.m-2"},
		{desc: "not indexed, reversible", ctxID: reversible, status: http.StatusOK, want: "approvals.01jd8x7c3k9f2m4q6r8t0v2w61"},
		{desc: "not indexed, hashed", ctxID: hashed, status: http.StatusOK, want: ""},
		{desc: "index failing", ctxID: hashed, index: memIndex{err: errors.New("redis down")}, status: http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, HeaderStyleWPSDocs)
			events := &memEvents{seen: map[string]bool{}}
			d, _ := providers.Lookup(ProviderName)
			h, err := d.Callback(b.env(events, tc.index))
			if err != nil || h == nil {
				t.Fatalf("Callback = %v, %v", h, err)
			}
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			if err := b.sim.AddApp(xiezuosim.App{Key: e2eKey, Secret: e2eSecret, Signature: "wps4", HeaderStyle: HeaderStyleWPSDocs,
				UnsignedPrefix: "/o/woa", CompanyID: e2eCompany, CallbackURL: srv.URL + "/callbacks/xiezuo/" + e2eApp}); err != nil {
				t.Fatal(err)
			}
			st, _, err := b.sim.FireClick(context.Background(), xiezuosim.Click{AppKey: e2eKey, CtxID: tc.ctxID, User: "u1", Action: "approve", Values: map[string]string{"comment": "ok"}})
			if err != nil || st != tc.status {
				t.Fatalf("click: %d %v, want %d", st, err, tc.status)
			}
			evs := events.published()
			if tc.status != http.StatusOK {
				if len(evs) != 0 {
					t.Fatalf("published %d events after a failed lookup, want 0", len(evs))
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("published %d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.Type != EventTypeCardClick || ev.MessageID != tc.want || ev.Data["ctx_id"] != tc.ctxID || ev.Data["user"] != "u1" ||
				ev.Data["action"] != "approve" || ev.Data["values"] != `{"comment":"ok"}` || ev.Data["company_id"] != e2eCompany {
				t.Fatalf("event = %+v, want MessageID %q", ev, tc.want)
			}
		})
	}
}
