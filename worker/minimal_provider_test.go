package worker_test

// A provider defined entirely in this file — registered, configured, sent
// to, updated and called back through the core — proves that adding a
// provider needs no change outside its own code.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/worker"
)

func init() { providers.Register(echoDescriptor) }

// echoDescriptor is the provider "echo": one request per user, cards can be
// updated, clicks come back as signed-by-token callbacks.
var echoDescriptor = providers.Descriptor{
	Name:      "echo",
	Title:     "a provider defined in a test",
	NewConfig: func() providers.AppConfig { return &echoConfig{} },
	New: func(env *providers.Env) (providers.Provider, error) {
		return &echoClient{cfg: env.Config.(*echoConfig), hc: http.DefaultClient}, nil
	},
	Callback: func(env *providers.Env) (http.Handler, error) {
		cfg := env.Config.(*echoConfig)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Token") != cfg.Token {
				http.Error(w, "bad token", http.StatusUnauthorized)
				return
			}
			var click struct{ Ref, User, Action string }
			if err := json.NewDecoder(r.Body).Decode(&click); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			ev := &providers.Event{ID: "echo-" + click.Ref + "-" + click.User, Type: "echo.click", At: env.Now(),
				Data: map[string]string{"user": click.User, "action": click.Action}}
			if id, err := env.Messages.MessageOf(r.Context(), click.Ref); err == nil {
				ev.MessageID = id
			} else if !errors.Is(err, providers.ErrNotFound) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if _, err := env.Events.PublishOnce(r.Context(), ev.ID, time.Hour, ev); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "ok")
		}), nil
	},
}

type echoConfig struct {
	BaseURL string `yaml:"base_url"`
	Token   string `yaml:"token"`
}

func (c *echoConfig) RequiredKeys() []string { return []string{"base_url", "token"} }
func (c *echoConfig) Validate() error {
	if !strings.HasPrefix(c.BaseURL, "http") {
		return providers.Invalid("base_url", "want an http URL")
	}
	return nil
}
func (c *echoConfig) MultiTenant() bool                   { return false }
func (c *echoConfig) Company(string) string               { return "echo-co" }
func (c *echoConfig) NormalizeRecipient(id string) string { return strings.ToLower(id) }
func (c *echoConfig) Capabilities() providers.Capabilities {
	return providers.Capabilities{Update: true, UpdatableKinds: []providers.Kind{providers.KindCard}, MaxUsersPerPart: 1}
}
func (c *echoConfig) ValidateMessage(msg *providers.Message) error {
	if len(msg.To.Users) == 0 {
		return providers.Invalid("to.users", "required")
	}
	if msg.Kind != providers.KindText && msg.Kind != providers.KindCard {
		return providers.Invalid("kind", "text or card")
	}
	return nil
}
func (c *echoConfig) ValidateUpdate(msg *providers.Message, content *providers.Content) error {
	if msg.Kind != providers.KindCard || content.Kind != providers.KindCard {
		return providers.Invalid("kind", "only cards are updated")
	}
	return nil
}

type echoClient struct {
	cfg *echoConfig
	hc  *http.Client
}

func (e *echoClient) Name() string                         { return "echo" }
func (e *echoClient) Capabilities() providers.Capabilities { return e.cfg.Capabilities() }
func (e *echoClient) Validate(msg *providers.Message) error {
	return e.cfg.ValidateMessage(msg)
}

func (e *echoClient) Prepare(_ context.Context, msg *providers.Message, o providers.PrepareOptions) ([]providers.Part, error) {
	var parts []providers.Part
	for i, u := range msg.To.Users {
		ref := fmt.Sprintf("%s~%d~%d", o.MessageID, o.Generation, i)
		body, _ := json.Marshal(map[string]string{"user": u, "ref": ref, "text": msg.Text, "card": string(msg.Body)})
		parts = append(parts, providers.Part{Index: i, To: providers.Recipients{Users: []string{u}}, Body: body, Ref: ref})
	}
	return parts, nil
}

func (e *echoClient) post(ctx context.Context, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.BaseURL+path, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Token", e.cfg.Token)
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, &providers.Error{Provider: "echo", Op: path, Class: providers.ClassUnknownOutcome, Err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, &providers.Error{Provider: "echo", Op: path, Class: providers.ClassPermanent, HTTPStatus: resp.StatusCode}
	}
	return b, nil
}

func (e *echoClient) Send(ctx context.Context, p *providers.Part) (*providers.Result, error) {
	id, err := e.post(ctx, "/send", p.Body)
	if err != nil {
		return nil, err
	}
	return &providers.Result{ProviderMessageID: string(id)}, nil
}

func (e *echoClient) Update(ctx context.Context, req *providers.UpdateRequest) (*providers.UpdateResult, error) {
	body, _ := json.Marshal(map[string]any{"id": req.Sent.ProviderMessageID, "users": req.Users, "card": string(req.Content.Body)})
	if _, err := e.post(ctx, "/update", body); err != nil {
		return nil, err
	}
	return &providers.UpdateResult{Updated: req.Users}, nil
}

func (e *echoClient) Recall(context.Context, *providers.RecallRequest) error {
	return &providers.Error{Provider: "echo", Op: "recall", Class: providers.ClassPermanent, Message: "no recall"}
}

// echoServer is the provider's side: what each user sees.
type echoServer struct {
	mu    sync.Mutex
	token string
	seen  map[string]string // user → card
	ids   map[string]string // provider message id → user
	sent  chan string       // users, as sends arrive
}

func (s *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Token") != s.token {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/send":
		var m map[string]string
		_ = json.NewDecoder(r.Body).Decode(&m)
		id := "echo-msg-" + strconv.Itoa(len(s.ids)+1)
		s.ids[id], s.seen[m["user"]] = m["user"], m["card"]
		_, _ = io.WriteString(w, id)
		s.sent <- m["user"]
	case "/update":
		var m struct {
			ID, Card string
			Users    []string
		}
		_ = json.NewDecoder(r.Body).Decode(&m)
		if s.ids[m.ID] == "" {
			http.Error(w, "no such message", http.StatusNotFound)
			return
		}
		for _, u := range m.Users {
			s.seen[u] = m.Card
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *echoServer) card(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[user]
}

func TestMinimalProviderEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rdb := redistest.Start(t).Client()
	srv := &echoServer{token: "tok-1", seen: map[string]string{}, ids: map[string]string{}, sent: make(chan string, 10)}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
peak: {enabled: false}
worker: {concurrency: 4, task_check_interval: 10ms, delayed_task_check_interval: 100ms}
apps:
  ech:
    provider: echo
    echo: {base_url: %q, token: tok-1}
`, ts.URL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Apps["ech"].Limits.PerRecipient; len(got) != 0 {
		t.Errorf("per_recipient = %v, want none (the provider declares no default)", got)
	}
	w, err := worker.New(worker.Options{Config: cfg, Redis: rdb})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	p := producer.New(cfg, rdb)

	// Refused at enqueue by the provider's own rules, naming the field.
	var ve *providers.ValidationError
	if _, err := p.Send(ctx, providers.Message{App: "ech", Kind: providers.KindMarkdown, Text: "x", To: providers.Recipients{Users: []string{"a"}}}); !errors.As(err, &ve) || ve.Field != "kind" {
		t.Fatalf("markdown: %v, want a validation error on kind", err)
	}

	id, err := p.Send(ctx, providers.Message{App: "ech", Kind: providers.KindCard, Body: json.RawMessage(`{"v":0}`),
		To: providers.Recipients{Users: []string{"Ann", "bob"}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-srv.sent:
		case <-ctx.Done():
			t.Fatal("the sends never arrived")
		}
	}
	waitEcho(t, ctx, rdb, id, func(v map[string]any) bool { return v["state"] == string(record.Accepted) })
	if srv.card("Ann") != `{"v":0}` || srv.card("bob") != `{"v":0}` {
		t.Fatalf("cards %q %q", srv.card("Ann"), srv.card("bob"))
	}

	// An update reaches both users through Provider.Update.
	if _, err := p.Update(ctx, id, producer.Content{Kind: providers.KindText, Text: "no"}); !errors.As(err, &ve) || ve.Field != "kind" {
		t.Fatalf("text update of a card: %v, want refused on kind", err)
	}
	seq, err := p.Update(ctx, id, producer.Content{Kind: providers.KindCard, Body: json.RawMessage(`{"v":1}`)})
	if err != nil || seq != 1 {
		t.Fatalf("Update = %d, %v", seq, err)
	}
	waitEcho(t, ctx, rdb, id, func(v map[string]any) bool {
		return v["type"] == "update" && strings.HasPrefix(fmt.Sprint(v["detail"]), "update 1 applied")
	})
	if srv.card("Ann") != `{"v":1}` || srv.card("bob") != `{"v":1}` {
		t.Fatalf("after the update: %q %q", srv.card("Ann"), srv.card("bob"))
	}

	// A click comes back through the provider's callback handler, served as
	// the api server serves it, and names the message by the part's Ref.
	h, err := catalog.CallbackHandler("ech", cfg.Apps["ech"], catalog.Deps{Redis: rdb})
	if err != nil || h == nil {
		t.Fatalf("CallbackHandler = %v, %v", h, err)
	}
	rec, err := record.NewStore(rdb).Get(ctx, "ech", id)
	if err != nil {
		t.Fatal(err)
	}
	click := httptest.NewRequest(http.MethodPost, "/callbacks/echo/ech", strings.NewReader(fmt.Sprintf(`{"Ref":%q,"User":"bob","Action":"approve"}`, rec.Parts[1].Ref)))
	click.Header.Set("X-Token", "tok-1")
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, click)
	if rr.Code != http.StatusOK {
		t.Fatalf("callback: %d %s", rr.Code, rr.Body)
	}
	ev := waitEcho(t, ctx, rdb, id, func(v map[string]any) bool { return v["type"] == "echo.click" })
	if ev["user"] != "bob" || ev["action"] != "approve" {
		t.Errorf("click event %v", ev)
	}
}

// waitEcho blocks on app ech's events stream until an event of message id
// satisfies ok.
func waitEcho(t *testing.T, ctx context.Context, rdb redis.UniversalClient, id string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	last := "0"
	for {
		streams, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{record.EventsKey("ech"), last}, Block: 2 * time.Second}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("waiting for an event of %s: %v", id, err)
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if m.Values["message_id"] == id && ok(m.Values) {
					return m.Values
				}
			}
		}
	}
}
