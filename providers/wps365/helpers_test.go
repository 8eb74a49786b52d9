package wps365_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wps365"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
)

// memTokens is an in-memory providers.TokenStore: tokens expire by the
// given clock; Invalidate is compare-and-delete.
type memTokens struct {
	mu    sync.Mutex
	now   func() time.Time
	toks  map[string]memTok
	calls int
}

type memTok struct {
	tok     string
	expires time.Time
}

func newMemTokens(now func() time.Time) *memTokens {
	return &memTokens{now: now, toks: map[string]memTok{}}
}

func (m *memTokens) Token(ctx context.Context, key string, fetch providers.FetchFunc) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.toks[key]; ok && m.now().Before(t.expires) {
		return t.tok, nil
	}
	tok, ttl, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	m.calls++
	m.toks[key] = memTok{tok: tok, expires: m.now().Add(ttl - time.Minute)}
	return tok, nil
}

func (m *memTokens) Invalidate(_ context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.toks[key]; ok && t.tok == token {
		delete(m.toks, key)
	}
	return nil
}

// memSink is an in-memory CallbackSink.
type memSink struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []*wps365.CallbackEvent
}

func (s *memSink) PublishOnce(_ context.Context, key string, _ time.Duration, ev *wps365.CallbackEvent) (bool, error) {
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

func (s *memSink) Events() []*wps365.CallbackEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*wps365.CallbackEvent{}, s.events...)
}

const (
	appID     = "AK20240001"
	appSecret = "sk-test-secret-0001"
	companyID = "comp1"
)

type testBundle struct {
	sim    *wps365sim.Sim
	clock  *wps365sim.ManualClock
	tokens *memTokens
	client *wps365.Client
	cfg    wps365.Config
	base   string
	// core is the dispatcher around the simulator (Redis, worker,
	// producer); nil unless setup was given withCore.
	core *core
}

// setupOpts are what setup builds.
type setupOpts struct {
	sim wps365sim.Options
	cfg wps365.Config
	// core starts the dispatcher around the simulator (e2e_test.go);
	// appYAML is added to its app block.
	core    bool
	appYAML string
}

// setup starts a simulator (on a manual clock, unless withCore) with users
// u1..u3, dept d1 (u1, u2), chat c1 (u1, u2, bot in) and c2 (bot not in),
// partner user p1:pu1, and a client of it over real HTTP; withCore also
// starts the dispatcher's core on a private Redis (see startCore).
func setup(t testing.TB, opts ...func(*setupOpts)) *testBundle {
	t.Helper()
	clock := wps365sim.NewManualClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	o := setupOpts{sim: wps365sim.Options{Clock: clock.Now}, cfg: wps365.Config{AppID: appID, AppSecret: appSecret, CompanyID: companyID}}
	for _, f := range opts {
		f(&o)
	}
	sim := wps365sim.New(o.sim)
	sim.AddApp(appID, appSecret, companyID)
	sim.AddUsers("u1", "u2", "u3")
	sim.AddDept("d1", "u1", "u2")
	sim.AddChat("c1", true, "u1", "u2")
	sim.AddChat("c2", false, "u3")
	sim.AddPartnerUser("p1", "pu1")
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	cfg := o.cfg
	cfg.BaseURL = base
	tokens := newMemTokens(o.sim.Clock)
	client := wps365.New(cfg, tokens, &http.Client{Timeout: 5 * time.Second}, wps365.WithClock(o.sim.Clock))
	b := &testBundle{sim: sim, clock: clock, tokens: tokens, client: client, cfg: cfg, base: base}
	if o.core {
		b.core = startCore(t, b, o.appYAML)
	}
	return b
}

// sendAll prepares msg and sends every part, failing the test on error.
func (b *testBundle) sendAll(t *testing.T, msg *providers.Message) ([]providers.Part, []*providers.Result) {
	t.Helper()
	ctx := context.Background()
	parts, err := b.client.Prepare(ctx, msg, providers.PrepareOptions{MessageID: "m-1"})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	var res []*providers.Result
	for i := range parts {
		r, err := b.client.Send(ctx, &parts[i])
		if err != nil {
			t.Fatalf("Send part %d: %v", i, err)
		}
		if r.ProviderMessageID == "" {
			t.Fatalf("part %d: no message id recorded", i)
		}
		res = append(res, r)
	}
	return parts, res
}

// testCard is a small v7 card with n text components.
func testCard(title string, n int) []byte {
	els := ""
	for i := range n {
		if i > 0 {
			els += ","
		}
		els += `{"text":{"tag":"text","text":{"type":"markdown","content":"line"}}}`
	}
	return []byte(`{"i18n_items":[{"key":"zh-CN","value":{"header":{"title":{"tag":"text","text":{"type":"plain","content":"` + title + `"}}},"elements":[` + els + `]}}]}`)
}
