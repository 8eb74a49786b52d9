package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Identities and secrets of the multi-tenant tests. None of the secrets may
// appear in an error, a log line or a payload.
const (
	testSuiteID     = "wwsuite-test"
	testSuiteSecret = "suite-s3cret-DO-NOT-LOG"
	testTenant      = "wpTenantAbC"
	testTenantAgent = 1000017
	testPermCode    = "perm-c0de-DO-NOT-LOG"
	testTicket      = "ticket-latest-DO-NOT-LOG"
	testPrevTicket  = "ticket-previous-DO-NOT-LOG"
	testCorpKey     = "wecom:tok:corp:" + testSuiteID + ":" + testTenant
	testSuiteKey    = "wecom:tok:suite:" + testSuiteID
)

// multiSecrets are the secrets assertNoSecret must not find in multi-tenant errors.
var multiSecrets = []string{testSuiteSecret, testPermCode, testTicket, testPrevTicket}

// fakeTenants is an in-memory TenantStore.
type fakeTenants struct {
	mu       sync.Mutex
	tenants  map[string]Tenant
	err      error // returned by Tenant when set
	puts     []Tenant
	disabled []string
	rekeys   []string
}

func newFakeTenants(ts ...Tenant) *fakeTenants {
	f := &fakeTenants{tenants: map[string]Tenant{}}
	for _, t := range ts {
		f.tenants[t.ID] = t
	}
	return f
}

func (f *fakeTenants) Tenant(ctx context.Context, corpID string) (*Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	t, ok := f.tenants[corpID]
	if !ok {
		return nil, fmt.Errorf("tenant %s: %w", corpID, ErrUnknownTenant)
	}
	return &t, nil
}

func (f *fakeTenants) PutTenant(ctx context.Context, t *Tenant) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants[t.ID] = *t
	f.puts = append(f.puts, *t)
	return nil
}

func (f *fakeTenants) DisableTenant(ctx context.Context, corpID, reason string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disabled = append(f.disabled, corpID)
	if t, ok := f.tenants[corpID]; ok && !at.Before(t.AuthorizedAt) {
		t.Disabled, t.DisabledReason, t.DisabledAt = true, reason, at
		f.tenants[corpID] = t
	}
	return nil
}

func (f *fakeTenants) RekeyTenant(ctx context.Context, corpID, code string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tenants[corpID]
	if !ok {
		return fmt.Errorf("tenant %s: %w", corpID, ErrUnknownTenant)
	}
	t.Secret = code
	f.tenants[corpID] = t
	f.rekeys = append(f.rekeys, corpID)
	return nil
}

func (f *fakeTenants) get(corpID string) (Tenant, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tenants[corpID]
	return t, ok
}

// fakeTickets is an in-memory TicketStore holding a latest and a previous ticket.
type fakeTickets struct {
	mu               sync.Mutex
	latest, previous string
	puts             []string
}

func (f *fakeTickets) PutTicket(ctx context.Context, suiteID, ticket string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.previous, f.latest = f.latest, ticket
	f.puts = append(f.puts, ticket)
	return nil
}

func (f *fakeTickets) Tickets(ctx context.Context, suiteID string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latest, f.previous, nil
}

// multiBundle is a client of a multi-tenant app on the test server of
// testBundle, with fake tenant and ticket stores. The server answers the
// suite endpoints with success (without errcode where WeCom leaves it out):
// suite tokens "stok-1", "stok-2", …, corp tokens "ctok-1", …
type multiBundle struct {
	*testBundle
	tenants *fakeTenants
	tickets *fakeTickets
}

func activeTenant() Tenant {
	return Tenant{ID: testTenant, Name: "Tenant Co", AgentID: testTenantAgent, Seats: 500, Secret: testPermCode}
}

func setupMulti(t *testing.T, mode string) *multiBundle {
	t.Helper()
	b := &multiBundle{
		testBundle: setup(t),
		tenants:    newFakeTenants(activeTenant()),
		tickets:    &fakeTickets{latest: testTicket, previous: testPrevTicket},
	}
	b.handle(pathSuiteToken, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"suite_access_token":"stok-%d","expires_in":7200}`, n)
	})
	b.handle(pathCorpToken, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"access_token":"ctok-%d","expires_in":7200}`, n)
	})
	b.client = New(Config{
		BaseURL: b.srv.URL, Mode: mode, SuiteID: testSuiteID, SuiteSecret: testSuiteSecret,
		DuplicateCheckInterval: 30 * time.Minute,
	}, b.store, b.srv.Client(), WithTenants(b.tenants), WithTickets(b.tickets))
	return b
}

// tenantPart prepares a one-part text message for the tenant.
func (b *multiBundle) tenantPart(users ...string) *providers.Part {
	b.t.Helper()
	parts, err := b.client.Prepare(context.Background(), &providers.Message{
		App: "crm", Tenant: testTenant, To: providers.Recipients{Users: users}, Kind: providers.KindText, Text: "hello",
	}, providers.PrepareOptions{MessageID: "m1"})
	if err != nil {
		b.t.Fatalf("Prepare: %v", err)
	}
	return &parts[0]
}

// jsonBody decodes a recorded request body.
func jsonBody(t *testing.T, r recorded) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("request body %q: %v", r.body, err)
	}
	return m
}

// errcodeAnswer answers every request with errcode code.
func errcodeAnswer(code int) handlerFunc {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"errcode":%d,"errmsg":"errmsg of %d"}`, code, code)
	}
}

// firstThen answers the first request with first and the others with rest.
func firstThen(first, rest handlerFunc) handlerFunc {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			first(n, w, r)
			return
		}
		rest(n, w, r)
	}
}

func okAnswer(body string) handlerFunc {
	return func(n int, w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }
}
