package tenant_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
	"github.com/msgdispatch/msgdispatch/providers"
)

const (
	app      = "crm"
	corp     = "wpCorpAbC"
	permCode = "perm-c0de-DO-NOT-STORE-IN-CLEAR"
)

var testKey = mustKey("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")

func mustKey(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

type testBundle struct {
	ctx    context.Context
	rdb    *redis.Client
	store  *tenant.Store
	pauses *appstate.Store
	events *record.Store
	clock  *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	rdb := redistest.Start(t).Client()
	b := &testBundle{ctx: context.Background(), rdb: rdb, pauses: appstate.New(rdb), events: record.NewStore(rdb),
		clock: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}}
	s, err := tenant.New(rdb, app, testKey, tenant.Options{Now: b.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	b.store = s
	return b
}

func (b *testBundle) add(t *testing.T, tn tenant.Tenant) {
	t.Helper()
	if err := b.store.Add(b.ctx, tn); err != nil {
		t.Fatal(err)
	}
}

func active() tenant.Tenant {
	return tenant.Tenant{ID: corp, Name: "Corp Co", AgentID: 1000017, Seats: 500, Secret: permCode}
}

// eventTypes lists the types of the app's events stream.
func (b *testBundle) eventTypes(t *testing.T) []string {
	t.Helper()
	evs, err := b.events.Events(b.ctx, app, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// The permanent code is encrypted at rest: the raw Redis value holds neither
// the code nor any encoding of it, every write uses a fresh nonce, and Get
// decrypts it.
func TestPermanentCodeEncryptedAtRest(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, active())
	raw, err := b.rdb.HGetAll(b.ctx, tenant.Key(app, corp)).Result()
	if err != nil {
		t.Fatal(err)
	}
	for field, v := range raw {
		for _, form := range []string{permCode, hex.EncodeToString([]byte(permCode)), "perm-c0de"} {
			if strings.Contains(v, form) {
				t.Errorf("raw field %s holds the permanent code: %q", field, v)
			}
		}
	}
	if !strings.HasPrefix(raw["code"], "v1.") {
		t.Errorf("code field %q is not a sealed value", raw["code"])
	}
	first := raw["code"]
	b.add(t, active()) // same code again
	if again, _ := b.rdb.HGet(b.ctx, tenant.Key(app, corp), "code").Result(); again == first {
		t.Error("sealing the same code twice gave the same ciphertext: the nonce is not fresh")
	}
	got, err := b.store.Get(b.ctx, corp)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != permCode || got.AgentID != 1000017 || got.Seats != 500 || got.Name != "Corp Co" || got.State != tenant.Active {
		t.Errorf("Get = %+v", got)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v %s", got, got, got, got), permCode) {
		t.Error("a Tenant prints its permanent code")
	}
}

// A code sealed with another key, or moved to another tenant's record, does
// not open; the error says which and shows no secret.
func TestSealedCodeIsBoundToKeyAndTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, active())
	other, err := tenant.New(b.rdb, app, mustKey(strings.Repeat("ff", 32)), tenant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Get(b.ctx, corp)
	if !errors.Is(err, providers.ErrWrongKey) {
		t.Errorf("Get with another key = %v, want ErrWrongKey", err)
	}
	// Move the sealed code into another tenant's record.
	second := active()
	second.ID = "wpOtherCorp"
	b.add(t, second)
	sealed, _ := b.rdb.HGet(b.ctx, tenant.Key(app, corp), "code").Result()
	b.rdb.HSet(b.ctx, tenant.Key(app, "wpOtherCorp"), "code", sealed)
	_, err = b.store.Get(b.ctx, "wpOtherCorp")
	if err == nil || !strings.Contains(err.Error(), "does not authenticate") {
		t.Errorf("Get of a moved code = %v, want an authentication failure", err)
	}
	if err != nil && strings.Contains(err.Error(), permCode) {
		t.Errorf("error shows the code: %v", err)
	}
}

func TestAddValidates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		desc   string
		change func(*tenant.Tenant)
		want   string
	}{
		{desc: "no corp", change: func(tn *tenant.Tenant) { tn.ID = "" }, want: "corp id must be 1 to 128 characters"},
		{desc: "corp with a brace", change: func(tn *tenant.Tenant) { tn.ID = "wp{x}" }, want: "only letters, digits"},
		{desc: "no agent", change: func(tn *tenant.Tenant) { tn.AgentID = 0 }, want: "agent id must be greater than 0"},
		{desc: "no code", change: func(tn *tenant.Tenant) { tn.Secret = "" }, want: "permanent code is required"},
		{desc: "bad state", change: func(tn *tenant.Tenant) { tn.State = "gone" }, want: `unknown state "gone"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tn := active()
			tt.change(&tn)
			if err := b.store.Add(b.ctx, tn); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Add = %v, want %q", err, tt.want)
			}
		})
	}
}

// Disable marks the tenant, pauses it (its messages wait) and publishes
// tenant.disabled; adding it again lifts the pause. A disable older than the
// current authorisation is a late repeat and is ignored; an operator's
// (zero time) is not.
func TestDisableAndReAdd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	authorized := b.clock.now()
	tn := active()
	tn.AuthorizedAt = authorized
	b.add(t, tn)

	// A cancel_auth from before this authorisation.
	if ok, err := b.store.Disable(b.ctx, corp, "old cancel_auth", authorized.Add(-time.Minute)); err != nil || ok {
		t.Fatalf("stale Disable = %v, %v; want false, nil", ok, err)
	}
	if p, _ := b.pauses.Paused(b.ctx, app, corp); p != nil {
		t.Fatalf("a stale disable paused the tenant: %+v", p)
	}

	b.clock.advance(time.Minute)
	at := b.clock.now()
	if ok, err := b.store.Disable(b.ctx, corp, "the corp cancelled its authorisation (cancel_auth)", at); err != nil || !ok {
		t.Fatalf("Disable = %v, %v", ok, err)
	}
	got, err := b.store.Get(b.ctx, corp)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != tenant.Disabled || got.DisabledReason != "the corp cancelled its authorisation (cancel_auth)" || !got.DisabledAt.Equal(at) {
		t.Errorf("after Disable: %+v", got)
	}
	p, err := b.pauses.Paused(b.ctx, app, corp)
	if err != nil || p == nil || !strings.Contains(p.Reason, "cancel_auth") || p.Until.Sub(at) < 300*24*time.Hour {
		t.Fatalf("pause = %+v, %v; want a long pause saying why", p, err)
	}
	if p, _ := b.pauses.Paused(b.ctx, app, "wpAnotherTenant"); p != nil {
		t.Errorf("another tenant is paused: %+v", p)
	}
	// Disabling again is harmless.
	if ok, err := b.store.Disable(b.ctx, corp, "repeat", at); err != nil || !ok {
		t.Errorf("second Disable = %v, %v", ok, err)
	}

	b.clock.advance(time.Minute)
	re := active()
	re.AuthorizedAt = b.clock.now()
	b.add(t, re)
	got, _ = b.store.Get(b.ctx, corp)
	if got.State != tenant.Active || got.DisabledReason != "" || !got.DisabledAt.IsZero() {
		t.Errorf("after re-adding: %+v", got)
	}
	if p, _ := b.pauses.Paused(b.ctx, app, corp); p != nil {
		t.Errorf("re-adding kept the pause: %+v", p)
	}
	// An operator's disable applies whatever the authorisation time.
	if ok, err := b.store.Disable(b.ctx, corp, "removed by an operator", time.Time{}); err != nil || !ok {
		t.Errorf("operator Disable = %v, %v", ok, err)
	}
	want := []string{"tenant.added", "tenant.disabled", "tenant.updated", "tenant.disabled"}
	if got := b.eventTypes(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if _, err := b.store.Disable(b.ctx, "wpNobody", "x", time.Time{}); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("Disable of an unknown tenant = %v", err)
	}
}

func TestRekeyListRemove(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, active())
	second := active()
	second.ID, second.AgentID = "wpAnother", 7
	b.add(t, second)

	if err := b.store.Rekey(b.ctx, corp, "new-c0de"); err != nil {
		t.Fatal(err)
	}
	got, _ := b.store.Get(b.ctx, corp)
	if got.Secret != "new-c0de" || got.AgentID != 1000017 || got.State != tenant.Active {
		t.Errorf("after Rekey: %+v", got)
	}
	if err := b.store.Rekey(b.ctx, "wpNobody", "x"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("Rekey of an unknown tenant = %v", err)
	}

	list, err := b.store.List(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "wpAnother" || list[1].ID != corp {
		t.Fatalf("List = %+v", list)
	}
	for _, tn := range list {
		if tn.Secret != "" {
			t.Errorf("List decrypted the code of %s", tn.ID)
		}
	}

	if _, err := b.store.Disable(b.ctx, "wpAnother", "removed soon", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := b.store.Remove(b.ctx, "wpAnother"); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.pauses.Paused(b.ctx, app, "wpAnother"); p != nil {
		t.Errorf("a removed tenant is still paused: %+v", p)
	}
	if _, err := b.store.Get(b.ctx, "wpAnother"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("Get after Remove = %v", err)
	}
	if err := b.store.Remove(b.ctx, "wpAnother"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("second Remove = %v", err)
	}
	if list, _ := b.store.List(b.ctx); len(list) != 1 {
		t.Errorf("List after Remove = %+v", list)
	}
	if n, _ := b.rdb.SCard(b.ctx, tenant.IndexKey(app)).Result(); n != 1 {
		t.Errorf("index holds %d corps", n)
	}
	want := []string{"tenant.added", "tenant.added", "tenant.rekeyed", "tenant.disabled", "tenant.removed"}
	if got := b.eventTypes(t); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// The providers.TenantStore view maps the store's errors to the provider's.
func TestWeComView(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.store.Neutral()
	if _, err := w.Tenant(b.ctx, corp); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Tenant of an unknown corp = %v, want ErrUnknownTenant", err)
	}
	at := time.Unix(1767225600, 0)
	if err := w.PutTenant(b.ctx, &providers.Tenant{ID: corp, AgentID: 5, Seats: 10, Secret: permCode, AuthorizedAt: at}); err != nil {
		t.Fatal(err)
	}
	got, err := w.Tenant(b.ctx, corp)
	if err != nil || got.Secret != permCode || got.AgentID != 5 || got.Disabled || !got.AuthorizedAt.Equal(at) {
		t.Fatalf("Tenant = %+v, %v", got, err)
	}
	if err := w.DisableTenant(b.ctx, "wpNobody", "x", at); err != nil {
		t.Errorf("DisableTenant of an unknown corp = %v, want nil", err)
	}
	if err := w.DisableTenant(b.ctx, corp, "cancelled", at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.Tenant(b.ctx, corp); !got.Disabled || got.DisabledReason != "cancelled" {
		t.Errorf("after DisableTenant: %+v", got)
	}
	if err := w.RekeyTenant(b.ctx, "wpNobody", "x"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("RekeyTenant of an unknown corp = %v", err)
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	want := testKey
	tests := []struct {
		desc, in string
		wantErr  string
	}{
		{desc: "hex", in: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
		{desc: "hex upper with spaces", in: " 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF\n"},
		{desc: "base64", in: "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8="},
		{desc: "raw url base64", in: "ABEiM0RVZneImaq7zN3u_wARIjNEVWZ3iJmqu8zd7v8"},
		{desc: "short hex", in: "0011", wantErr: "got 4 digits"},
		{desc: "short base64", in: "c2hvcnQ=", wantErr: "decodes to 5"},
		{desc: "neither", in: "not a key!", wantErr: "of neither"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := providers.ParseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseKey = %v, want %q", err, tt.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
					t.Errorf("error shows the key: %v", err)
				}
				return
			}
			if err != nil || string(got) != string(want) {
				t.Errorf("ParseKey = %x, %v", got, err)
			}
		})
	}
}
