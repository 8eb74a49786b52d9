package wecom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

func TestValidateApp(t *testing.T) {
	t.Parallel()
	self := Config{Mode: ModeSelfBuilt, CorpID: "ww1", AgentID: 1}
	multi := Config{Mode: ModeThirdParty, SuiteID: testSuiteID}
	msg := func(tenant string) *providers.Message {
		return &providers.Message{App: "a", Tenant: tenant, To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindText, Text: "hi"}
	}
	tests := []struct {
		desc      string
		cfg       Config
		msg       *providers.Message
		wantField string
	}{
		{desc: "self-built without tenant", cfg: self, msg: msg("")},
		{desc: "default mode is self-built", cfg: Config{}, msg: msg("")},
		{desc: "self-built with a tenant", cfg: self, msg: msg("wpX"), wantField: "tenant"},
		{desc: "third-party with a tenant", cfg: multi, msg: msg(testTenant)},
		{desc: "third-party without tenant", cfg: multi, msg: msg(""), wantField: "tenant"},
		{desc: "custom without tenant", cfg: Config{Mode: ModeCustom}, msg: msg(""), wantField: "tenant"},
		{desc: "content still validated", cfg: multi, msg: &providers.Message{Tenant: testTenant, To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindText}, wantField: "text"},
		{desc: "nil message", cfg: multi, wantField: "message"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			err := ValidateApp(tt.cfg, tt.msg)
			c := New(tt.cfg, nil, nil)
			if cerr := c.Validate(tt.msg); fmt.Sprint(cerr) != fmt.Sprint(err) {
				t.Errorf("Client.Validate = %v, ValidateApp = %v", cerr, err)
			}
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("ValidateApp: %v", err)
				}
				return
			}
			var ve *providers.ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.wantField {
				t.Errorf("ValidateApp = %v, want a ValidationError on %s", err, tt.wantField)
			}
		})
	}
}

// Prepare renders the tenant's agentid and tags every part with the tenant; a
// missing, unknown or disabled tenant fails clearly.
func TestPrepareForTenants(t *testing.T) {
	t.Parallel()
	disabled := activeTenant()
	disabled.Disabled, disabled.DisabledReason, disabled.DisabledAt = true, "the corp cancelled its authorisation", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		desc       string
		tenants    *fakeTenants
		tenant     string
		users      int
		wantAgent  int64
		wantField  string          // a ValidationError on this field
		wantClass  providers.Class // else a provider error of this class
		wantTenant string
		wantMsg    string
	}{
		{desc: "active tenant", tenants: newFakeTenants(activeTenant()), tenant: testTenant, users: 1, wantAgent: testTenantAgent},
		{desc: "parts of a large message all carry the tenant", tenants: newFakeTenants(activeTenant()), tenant: testTenant, users: 2500, wantAgent: testTenantAgent},
		{desc: "no tenant", tenants: newFakeTenants(activeTenant()), wantField: "tenant"},
		{desc: "unknown tenant", tenants: newFakeTenants(), tenant: "wpNobody", wantField: "tenant", wantMsg: `unknown tenant "wpNobody"`},
		{desc: "disabled tenant", tenants: newFakeTenants(disabled), tenant: testTenant, wantClass: providers.ClassAppDisabled, wantTenant: testTenant,
			wantMsg: "tenant " + testTenant + " is disabled: the corp cancelled its authorisation (since 2026-01-02T03:04:05Z)"},
		{desc: "store down", tenants: &fakeTenants{err: errors.New("redis: connection refused")}, tenant: testTenant, wantClass: providers.ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := New(Config{Mode: ModeThirdParty, SuiteID: testSuiteID}, nil, nil, WithTenants(tt.tenants))
			users := make([]string, tt.users)
			for i := range users {
				users[i] = fmt.Sprintf("wmUser%d", i)
			}
			if len(users) == 0 {
				users = []string{"wmUser"}
			}
			parts, err := c.Prepare(context.Background(), &providers.Message{
				App: "crm", Tenant: tt.tenant, To: providers.Recipients{Users: users}, Kind: providers.KindText, Text: "hi",
			}, providers.PrepareOptions{MessageID: "m1"})
			switch {
			case tt.wantField != "":
				var ve *providers.ValidationError
				if !errors.As(err, &ve) || ve.Field != tt.wantField || !strings.Contains(ve.Reason, tt.wantMsg) {
					t.Fatalf("Prepare = %v, want a ValidationError on %s mentioning %q", err, tt.wantField, tt.wantMsg)
				}
				return
			case tt.wantClass != providers.ClassUnknown:
				pe := providerError(t, err)
				if pe.Class != tt.wantClass || pe.Tenant != tt.wantTenant || !strings.Contains(pe.Message, tt.wantMsg) {
					t.Fatalf("Prepare = %+v, want %s for tenant %q saying %q", pe, tt.wantClass, tt.wantTenant, tt.wantMsg)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if want := (tt.users + MaxUsersPerPart - 1) / MaxUsersPerPart; len(parts) != want {
				t.Fatalf("%d parts, want %d", len(parts), want)
			}
			for _, p := range parts {
				if p.Tenant != tt.tenant {
					t.Errorf("part %d tenant %q", p.Index, p.Tenant)
				}
				if got := jsonBody(t, recorded{body: p.Body})["agentid"]; got != float64(tt.wantAgent) {
					t.Errorf("part %d agentid %v, want %d", p.Index, got, tt.wantAgent)
				}
				if bytes.Contains(p.Body, []byte(testPermCode)) {
					t.Errorf("part %d body holds the permanent code", p.Index)
				}
			}
		})
	}
}

// A self-built client keeps its own agentid and refuses a tenant.
func TestPrepareSelfBuiltRefusesTenant(t *testing.T) {
	t.Parallel()
	c := New(Config{CorpID: "ww1", AgentID: 7}, nil, nil)
	_, err := c.Prepare(context.Background(), &providers.Message{
		App: "hr", Tenant: "wpX", To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindText, Text: "hi",
	}, providers.PrepareOptions{MessageID: "m1"})
	var ve *providers.ValidationError
	if !errors.As(err, &ve) || ve.Field != "tenant" {
		t.Errorf("Prepare = %v, want a ValidationError on tenant", err)
	}
}

func TestNormalizeUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, mode, id, want string
	}{
		{desc: "self-built lower-cases", mode: ModeSelfBuilt, id: "ZhangSan", want: "zhangsan"},
		{desc: "default mode lower-cases", mode: "", id: "ZhangSan", want: "zhangsan"},
		{desc: "unknown mode lower-cases (the safe side of a limit)", mode: "other", id: "ZhangSan", want: "zhangsan"},
		{desc: "spaces are trimmed", mode: ModeSelfBuilt, id: " lisi ", want: "lisi"},
		{desc: "third-party ids are case-sensitive", mode: ModeThirdParty, id: "wmAbCdEf", want: "wmAbCdEf"},
		{desc: "custom ids are case-sensitive", mode: ModeCustom, id: "woXyZ", want: "woXyZ"},
		{desc: "third-party ids are trimmed", mode: ModeThirdParty, id: " wmAbC\t", want: "wmAbC"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got := NormalizeUser(tt.mode, tt.id); got != tt.want {
				t.Errorf("NormalizeUser(%q, %q) = %q, want %q", tt.mode, tt.id, got, tt.want)
			}
		})
	}
}

// Tenants, auth jobs and configs print no secret, whatever the verb or logger.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "http://sim", Mode: ModeThirdParty, SuiteID: testSuiteID, SuiteSecret: testSuiteSecret,
		CallbackToken: "cb-token-DO-NOT-LOG", EncodingAESKey: "aes-key-DO-NOT-LOG", Secret: testSecret}
	tn := activeTenant()
	job := AuthJob{InfoType: InfoCreateAuth, AuthCode: "auth-c0de-DO-NOT-LOG", At: time.Unix(1, 0)}
	secrets := []string{testSuiteSecret, "cb-token-DO-NOT-LOG", "aes-key-DO-NOT-LOG", testSecret, testPermCode, "auth-c0de-DO-NOT-LOG"}
	for _, v := range []any{cfg, &cfg, tn, &tn, job, &job} {
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "v", v)
		for _, text := range []string{fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v), logged.String()} {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%T prints %q: %s", v, s, text)
				}
			}
		}
	}
}
