package wecom

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

const (
	testAuthCode = "auth-c0de-DO-NOT-LOG"
	newPermCode  = "new-perm-c0de-DO-NOT-LOG"
	newTenant    = "wpNewCorp"
)

// authServer answers get_permanent_code with newPermCode for newTenant and
// get_auth_info with agent 1000042 and 800 seats.
func authServer(b *multiBundle) {
	b.handle(pathPermanentCode, okAnswer(fmt.Sprintf(`{"errcode":0,"errmsg":"ok","permanent_code":%q,"auth_corp_info":{"corpid":%q,"corp_name":"New Co"},"auth_user_info":{"userid":"admin"}}`, newPermCode, newTenant)))
	b.handle(pathAuthInfo, okAnswer(fmt.Sprintf(`{"errcode":0,"errmsg":"ok","auth_corp_info":{"corpid":%q,"corp_name":"New Co Ltd","corp_user_max":800},"auth_info":{"agent":[{"agentid":1000042,"name":"crm"}]}}`, newTenant)))
}

func TestProcessAuth(t *testing.T) {
	t.Parallel()
	at := time.Unix(1767225600, 0)
	tests := []struct {
		desc       string
		job        AuthJob
		prepare    func(*multiBundle)
		wantTenant *Tenant // stored afterwards under its CorpID
		wantCalls  map[string]int
		wantClass  providers.Class
	}{
		{
			desc:       "create_auth installs the tenant",
			job:        AuthJob{InfoType: InfoCreateAuth, AuthCode: testAuthCode, At: at},
			wantTenant: &Tenant{ID: newTenant, Name: "New Co Ltd", AgentID: 1000042, Seats: 800, Secret: newPermCode, AuthorizedAt: at},
			wantCalls:  map[string]int{pathPermanentCode: 1, pathAuthInfo: 1},
		},
		{
			desc: "create_auth re-installs a disabled tenant",
			job:  AuthJob{InfoType: InfoCreateAuth, AuthCode: testAuthCode, At: at},
			prepare: func(b *multiBundle) {
				b.tenants.tenants[newTenant] = Tenant{ID: newTenant, AgentID: 1, Secret: "old", Disabled: true, DisabledReason: "cancelled"}
			},
			wantTenant: &Tenant{ID: newTenant, Name: "New Co Ltd", AgentID: 1000042, Seats: 800, Secret: newPermCode, AuthorizedAt: at},
			wantCalls:  map[string]int{pathPermanentCode: 1, pathAuthInfo: 1},
		},
		{
			desc: "reset_permanent_code replaces the code and keeps the rest",
			job:  AuthJob{InfoType: InfoResetPermanentCode, AuthCode: testAuthCode, At: at},
			prepare: func(b *multiBundle) {
				b.tenants.tenants[newTenant] = Tenant{ID: newTenant, Name: "Kept", AgentID: 5, Seats: 9, Secret: "old"}
			},
			wantTenant: &Tenant{ID: newTenant, Name: "Kept", AgentID: 5, Seats: 9, Secret: newPermCode},
			wantCalls:  map[string]int{pathPermanentCode: 1, pathAuthInfo: 0},
		},
		{
			desc:       "reset_permanent_code of an unknown tenant installs it",
			job:        AuthJob{InfoType: InfoResetPermanentCode, AuthCode: testAuthCode, At: at},
			wantTenant: &Tenant{ID: newTenant, Name: "New Co Ltd", AgentID: 1000042, Seats: 800, Secret: newPermCode, AuthorizedAt: at},
			wantCalls:  map[string]int{pathPermanentCode: 1, pathAuthInfo: 1},
		},
		{
			desc: "change_auth re-reads the auth info and keeps the state",
			job:  AuthJob{InfoType: InfoChangeAuth, AuthCorpID: newTenant, At: at},
			prepare: func(b *multiBundle) {
				b.tenants.tenants[newTenant] = Tenant{ID: newTenant, AgentID: 5, Secret: newPermCode, Disabled: true, DisabledReason: "r"}
			},
			wantTenant: &Tenant{ID: newTenant, Name: "New Co Ltd", AgentID: 1000042, Seats: 800, Secret: newPermCode, Disabled: true, DisabledReason: "r"},
			wantCalls:  map[string]int{pathPermanentCode: 0, pathAuthInfo: 1},
		},
		{
			desc:      "change_auth of an unknown tenant is permanent",
			job:       AuthJob{InfoType: InfoChangeAuth, AuthCorpID: "wpNobody", At: at},
			wantCalls: map[string]int{pathPermanentCode: 0, pathAuthInfo: 0},
			wantClass: providers.ClassPermanent,
		},
		{
			desc:      "a used or expired auth code is permanent",
			job:       AuthJob{InfoType: InfoCreateAuth, AuthCode: testAuthCode, At: at},
			prepare:   func(b *multiBundle) { b.handle(pathPermanentCode, errcodeAnswer(40078)) },
			wantCalls: map[string]int{pathPermanentCode: 1, pathAuthInfo: 0},
			wantClass: providers.ClassPermanent,
		},
		{
			desc: "an expired suite token is refreshed once",
			job:  AuthJob{InfoType: InfoCreateAuth, AuthCode: testAuthCode, At: at},
			prepare: func(b *multiBundle) {
				b.handle(pathPermanentCode, firstThen(errcodeAnswer(42009), okAnswer(fmt.Sprintf(`{"permanent_code":%q,"auth_corp_info":{"corpid":%q}}`, newPermCode, newTenant))))
			},
			wantTenant: &Tenant{ID: newTenant, Name: "New Co Ltd", AgentID: 1000042, Seats: 800, Secret: newPermCode, AuthorizedAt: at},
			wantCalls:  map[string]int{pathPermanentCode: 2, pathAuthInfo: 1, pathSuiteToken: 2},
		},
		{
			desc:      "WeCom busy is retryable",
			job:       AuthJob{InfoType: InfoCreateAuth, AuthCode: testAuthCode, At: at},
			prepare:   func(b *multiBundle) { b.handle(pathAuthInfo, errcodeAnswer(-1)) },
			wantCalls: map[string]int{pathPermanentCode: 1, pathAuthInfo: 1},
			wantClass: providers.ClassRetryable,
		},
		{
			desc:      "an unknown InfoType is permanent",
			job:       AuthJob{InfoType: "change_contact"},
			wantCalls: map[string]int{pathPermanentCode: 0, pathAuthInfo: 0},
			wantClass: providers.ClassPermanent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			authServer(b)
			if tt.prepare != nil {
				tt.prepare(b)
			}
			err := b.client.ProcessAuth(context.Background(), tt.job)
			for path, n := range tt.wantCalls {
				if got := len(b.got(path)); got != n {
					t.Errorf("%d calls to %s, want %d", got, path, n)
				}
			}
			if pc := b.got(pathPermanentCode); len(pc) > 0 {
				if body := jsonBody(t, pc[0]); body["auth_code"] != testAuthCode {
					t.Errorf("get_permanent_code body %v", body)
				}
			}
			if tt.wantClass != providers.ClassUnknown {
				if got := providers.ClassOf(err); err == nil || got != tt.wantClass {
					t.Fatalf("ProcessAuth = %v (%s), want %s", err, got, tt.wantClass)
				}
				assertNoSecret(t, err, append(multiSecrets, testAuthCode, newPermCode)...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, ok := b.tenants.get(tt.wantTenant.ID)
			if !ok || got != *tt.wantTenant {
				t.Errorf("tenant %+v (%v), want %+v", got, ok, *tt.wantTenant)
			}
			if got.Secret != tt.wantTenant.Secret {
				t.Errorf("permanent code not stored")
			}
		})
	}
}

// A self-built client refuses authorisation jobs.
func TestProcessAuthSelfBuilt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.client.ProcessAuth(context.Background(), AuthJob{InfoType: InfoCreateAuth, AuthCode: "x"})
	if providers.ClassOf(err) != providers.ClassPermanent {
		t.Errorf("ProcessAuth = %v, want permanent", err)
	}
	if n := len(b.got(pathPermanentCode)); n != 0 {
		t.Errorf("%d requests", n)
	}
}
