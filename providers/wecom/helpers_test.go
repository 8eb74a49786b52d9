package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

const (
	testCorpID  = "ww-test-corp"
	testAgentID = 1000002
	testSecret  = "s3cr3t-DO-NOT-LOG-4f9a8b7c"
	testKey     = "wecom:tok:self:ww-test-corp:1000002"
)

// fakeTokenStore is an in-memory providers.TokenStore: one token per key, fetched
// when absent, removed by Invalidate only if it still equals the failed token.
// Errors from fetch are not cached.
type fakeTokenStore struct {
	mu            sync.Mutex
	tokens        map[string]string
	ttls          map[string]time.Duration
	invalidations []invalidation
}

type invalidation struct{ key, token string }

func newFakeTokenStore() *fakeTokenStore {
	return &fakeTokenStore{tokens: map[string]string{}, ttls: map[string]time.Duration{}}
}

func (s *fakeTokenStore) Token(ctx context.Context, key string, fetch providers.FetchFunc) (string, error) {
	s.mu.Lock()
	tok, ok := s.tokens[key]
	s.mu.Unlock()
	if ok {
		return tok, nil
	}
	// fetch runs unlocked: a corp token's fetch gets the suite token from the
	// same store.
	tok, ttl, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[key], s.ttls[key] = tok, ttl
	return tok, nil
}

func (s *fakeTokenStore) Invalidate(ctx context.Context, key, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidations = append(s.invalidations, invalidation{key, token})
	if s.tokens[key] == token {
		delete(s.tokens, key)
	}
	return nil
}

func (s *fakeTokenStore) set(key, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[key] = token
}

func (s *fakeTokenStore) get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[key]
	return tok, ok
}

func (s *fakeTokenStore) ttl(key string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ttls[key]
}

func (s *fakeTokenStore) invalidated() []invalidation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]invalidation(nil), s.invalidations...)
}

// handlerFunc answers the n-th (from 1) request to one path.
type handlerFunc func(n int, w http.ResponseWriter, r *http.Request)

// recorded is a request the test server received.
type recorded struct {
	method string
	query  url.Values
	header http.Header
	body   []byte
}

// testBundle is a client wired to an httptest server whose handlers the test
// sets per path, and the fake TokenStore the client uses.
type testBundle struct {
	t      *testing.T
	srv    *httptest.Server
	client *Client
	store  *fakeTokenStore

	mu       sync.Mutex
	handlers map[string]handlerFunc
	requests map[string][]recorded
}

// setup starts a server answering gettoken with tokens "tok-1", "tok-2", … and
// message/send and message/recall with success, and a client for it with
// duplicate_check_interval 1800 s (the doc examples' default).
func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{
		t:        t,
		store:    newFakeTokenStore(),
		handlers: map[string]handlerFunc{},
		requests: map[string][]recorded{},
	}
	b.handle(pathGettoken, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","access_token":"tok-%d","expires_in":7200}`, n)
	})
	b.handle(pathSend, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"errcode":0,"errmsg":"ok","msgid":"msg-%d"}`, n)
	})
	b.handle(pathRecall, func(n int, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	})
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	b.client = New(Config{
		BaseURL:                b.srv.URL,
		CorpID:                 testCorpID,
		AgentID:                testAgentID,
		Secret:                 testSecret,
		DuplicateCheckInterval: 30 * time.Minute,
	}, b.store, b.srv.Client())
	return b
}

func (b *testBundle) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	rec := recorded{method: r.Method, query: r.URL.Query(), header: r.Header.Clone(), body: body}
	b.requests[r.URL.Path] = append(b.requests[r.URL.Path], rec)
	n := len(b.requests[r.URL.Path])
	h := b.handlers[r.URL.Path]
	b.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(n, w, r)
}

// handle sets the handler of path.
func (b *testBundle) handle(path string, h handlerFunc) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handlers[path] = h
}

// reply answers every request to path with status and body.
func (b *testBundle) reply(path string, status int, body string) {
	b.handle(path, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

// got returns the requests path received.
func (b *testBundle) got(path string) []recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recorded(nil), b.requests[path]...)
}

// withToken puts tok in the store, so calls skip gettoken.
func (b *testBundle) withToken(tok string) { b.store.set(testKey, tok) }

// textPart prepares a one-part text message to users.
func (b *testBundle) textPart(users ...string) *providers.Part {
	b.t.Helper()
	parts, err := b.client.Prepare(context.Background(), &providers.Message{
		App: "app", To: providers.Recipients{Users: users}, Kind: providers.KindText, Text: "hello",
	}, providers.PrepareOptions{MessageID: "m1"})
	if err != nil {
		b.t.Fatalf("Prepare: %v", err)
	}
	if len(parts) != 1 {
		b.t.Fatalf("Prepare: %d parts, want 1", len(parts))
	}
	return &parts[0]
}

// fixture reads testdata/name.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertSameJSON fails unless got and want decode to equal values.
func assertSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}

// providerError returns err as a *providers.Error or fails.
func providerError(t *testing.T, err error) *providers.Error {
	t.Helper()
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *providers.Error", err, err)
	}
	return pe
}
