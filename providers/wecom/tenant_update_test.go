package wecom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

// tenantUpdateRequest is a button update of the test tenant's card.
func tenantUpdateRequest(tenant string) *CardUpdate {
	return &CardUpdate{Tenant: tenant, ResponseCode: "rc-1",
		To: providers.Recipients{Users: []string{"wmUserOne"}}, Kind: KindButton, Text: "done"}
}

func okUpdate(b *multiBundle) {
	b.handle(pathUpdate, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"errcode":0,"errmsg":"ok","invaliduser":[]}`)
	})
}

// Multi-tenant apps can update and recall: per tenant.
func TestMultiTenantCapabilities(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{ModeThirdParty, ModeCustom} {
		c := setupMulti(t, mode).client.Capabilities()
		if !c.Update || !c.Recall {
			t.Errorf("mode %s: capabilities %+v, want update and recall", mode, c)
		}
	}
}

// A multi-tenant update uses the tenant's corp token (through the suite
// chain, or gettoken with the permanent code for a custom app) and the
// tenant's agentid.
func TestMultiTenantUpdateUsesTheTenantToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ mode, tok string }{{ModeThirdParty, "ctok-1"}, {ModeCustom, "tok-1"}} {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, tt.mode)
			okUpdate(b)
			res, err := b.client.UpdateCard(context.Background(), tenantUpdateRequest(testTenant))
			if err != nil {
				t.Fatal(err)
			}
			if ResponseCodeOf(res) != "rc-1" {
				t.Errorf("result %+v", res)
			}
			ups := b.got(pathUpdate)
			if len(ups) != 1 || ups[0].query.Get("access_token") != tt.tok {
				t.Fatalf("update calls %+v, want one with the tenant's token %s", ups, tt.tok)
			}
			body := jsonBody(t, ups[0])
			if body["agentid"] != float64(testTenantAgent) || body["response_code"] != "rc-1" {
				t.Errorf("update body %v, want the tenant's agentid %d", body, testTenantAgent)
			}
			if tok, _ := b.store.get(testCorpKey); tok != tt.tok {
				t.Errorf("tenant token cached as %q", tok)
			}
			if tt.mode == ModeCustom {
				gt := b.got(pathGettoken)
				if len(gt) != 1 || gt[0].query.Get("corpid") != testTenant || gt[0].query.Get("corpsecret") != testPermCode {
					t.Errorf("gettoken calls %+v", gt)
				}
			}
		})
	}
}

// A multi-tenant recall uses the tenant's corp token.
func TestMultiTenantRecallUsesTheTenantToken(t *testing.T) {
	t.Parallel()
	b := setupMulti(t, ModeThirdParty)
	if err := b.client.Recall(context.Background(), &providers.RecallRequest{ProviderMessageID: "msg-7", Tenant: testTenant}); err != nil {
		t.Fatal(err)
	}
	rc := b.got(pathRecall)
	if len(rc) != 1 || rc[0].query.Get("access_token") != "ctok-1" {
		t.Fatalf("recall calls %+v, want one with the corp token", rc)
	}
	if body := jsonBody(t, rc[0]); body["msgid"] != "msg-7" {
		t.Errorf("recall body %v", body)
	}
	if ct := b.got(pathCorpToken); len(ct) != 1 || jsonBody(t, ct[0])["auth_corpid"] != testTenant {
		t.Errorf("get_corp_token calls %+v", ct)
	}
}

// A multi-tenant update or recall without a tenant is refused before any
// request, naming the tenant field; so is an update for an unknown tenant.
func TestMultiTenantUpdateRecallNeedTenant(t *testing.T) {
	t.Parallel()
	b := setupMulti(t, ModeThirdParty)
	okUpdate(b)
	checks := map[string]error{}
	_, checks["update without tenant"] = b.client.UpdateCard(context.Background(), tenantUpdateRequest(""))
	_, checks["update of unknown tenant"] = b.client.UpdateCard(context.Background(), tenantUpdateRequest("wpOther"))
	checks["recall without tenant"] = b.client.Recall(context.Background(), &providers.RecallRequest{ProviderMessageID: "msg-1"})
	for desc, err := range checks {
		var ve *providers.ValidationError
		if !errors.As(err, &ve) || ve.Field != "tenant" {
			t.Errorf("%s: %v, want a ValidationError on tenant", desc, err)
		}
	}
	if n := len(b.got(pathSuiteToken)) + len(b.got(pathCorpToken)) + len(b.got(pathUpdate)) + len(b.got(pathRecall)); n != 0 {
		t.Errorf("%d requests", n)
	}
}

// Tenant-dead errcodes of update and recall pause only the tenant, like Send's.
func TestMultiTenantUpdateRecallTenantDeadCode(t *testing.T) {
	t.Parallel()
	for _, code := range []int{48004, 40084, 301007, 2000002} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			b.handle(pathUpdate, errcodeAnswer(code))
			b.handle(pathRecall, errcodeAnswer(code))
			_, err := b.client.UpdateCard(context.Background(), tenantUpdateRequest(testTenant))
			if pe := providerError(t, err); pe.Class != providers.ClassAppDisabled || pe.Tenant != testTenant || pe.Op != opUpdate {
				t.Errorf("update error %+v, want app_disabled for tenant %s", pe, testTenant)
			}
			err = b.client.Recall(context.Background(), &providers.RecallRequest{ProviderMessageID: "msg-1", Tenant: testTenant})
			if pe := providerError(t, err); pe.Class != providers.ClassAppDisabled || pe.Tenant != testTenant || pe.Op != opRecall {
				t.Errorf("recall error %+v, want app_disabled for tenant %s", pe, testTenant)
			}
		})
	}
}

// A disabled tenant's update fails app_disabled for that tenant, without a request.
func TestMultiTenantUpdateDisabledTenant(t *testing.T) {
	t.Parallel()
	b := setupMulti(t, ModeThirdParty)
	okUpdate(b)
	tn := activeTenant()
	tn.Disabled, tn.DisabledReason = true, "the corp cancelled its authorisation"
	b.tenants.tenants[testTenant] = tn
	_, err := b.client.UpdateCard(context.Background(), tenantUpdateRequest(testTenant))
	if pe := providerError(t, err); pe.Class != providers.ClassAppDisabled || pe.Tenant != testTenant {
		t.Errorf("error %+v, want app_disabled for tenant %s", pe, testTenant)
	}
	if n := len(b.got(pathUpdate)) + len(b.got(pathCorpToken)); n != 0 {
		t.Errorf("%d requests", n)
	}
}
