package wecom

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

// A third-party send goes through the whole chain: the latest suite_ticket
// gets a suite token, the suite token and the tenant's permanent code get a
// corp token, and message/send carries the corp token and the tenant's
// agentid. Both tokens are cached under their keys.
func TestThirdPartySendThroughTheChain(t *testing.T) {
	t.Parallel()
	b := setupMulti(t, ModeThirdParty)
	part := b.tenantPart("wmUserOne")
	if part.Tenant != testTenant {
		t.Errorf("part tenant %q", part.Tenant)
	}
	if got := jsonBody(t, recorded{body: part.Body})["agentid"]; got != float64(testTenantAgent) {
		t.Errorf("body agentid %v, want the tenant's %d", got, testTenantAgent)
	}
	if _, err := b.client.Send(context.Background(), part); err != nil {
		t.Fatal(err)
	}
	st := b.got(pathSuiteToken)
	if len(st) != 1 {
		t.Fatalf("%d get_suite_token calls, want 1", len(st))
	}
	if body := jsonBody(t, st[0]); body["suite_id"] != testSuiteID || body["suite_secret"] != testSuiteSecret || body["suite_ticket"] != testTicket {
		t.Errorf("get_suite_token body %v", body)
	}
	ct := b.got(pathCorpToken)
	if len(ct) != 1 || ct[0].query.Get("suite_access_token") != "stok-1" {
		t.Fatalf("get_corp_token calls %+v", ct)
	}
	if body := jsonBody(t, ct[0]); body["auth_corpid"] != testTenant || body["permanent_code"] != testPermCode {
		t.Errorf("get_corp_token body %v", body)
	}
	if sends := b.got(pathSend); len(sends) != 1 || sends[0].query.Get("access_token") != "ctok-1" {
		t.Errorf("message/send calls %+v, want one with the corp token", sends)
	}
	if tok, _ := b.store.get(testSuiteKey); tok != "stok-1" {
		t.Errorf("suite token cached as %q", tok)
	}
	if tok, _ := b.store.get(testCorpKey); tok != "ctok-1" {
		t.Errorf("corp token cached as %q", tok)
	}
	if n := len(b.got(pathGettoken)); n != 0 {
		t.Errorf("%d gettoken calls for a third-party app", n)
	}
}

// get_suite_token and get_corp_token "在调用失败时才返回errcode": an answer
// without errcode is a success, and so is one with errcode 0.
func TestSuiteCallsWithoutErrcodeSucceed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		suite, cor string
	}{
		{desc: "no errcode", suite: `{"suite_access_token":"S","expires_in":7200}`, cor: `{"access_token":"C","expires_in":7200}`},
		{desc: "errcode 0", suite: `{"errcode":0,"errmsg":"ok","suite_access_token":"S","expires_in":7200}`, cor: `{"errcode":0,"errmsg":"ok","access_token":"C","expires_in":7200}`},
		{desc: "no expires_in", suite: `{"suite_access_token":"S"}`, cor: `{"access_token":"C"}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			b.handle(pathSuiteToken, okAnswer(tt.suite))
			b.handle(pathCorpToken, okAnswer(tt.cor))
			if _, err := b.client.Send(context.Background(), b.tenantPart("u")); err != nil {
				t.Fatal(err)
			}
			if tok, _ := b.store.get(testCorpKey); tok != "C" {
				t.Errorf("corp token %q", tok)
			}
			if ttl := b.store.ttl(testCorpKey); ttl != defaultTokenLifetime {
				t.Errorf("corp token lifetime %v", ttl)
			}
		})
	}
}

// The latest suite_ticket is used first; when WeCom refuses it (40085) the
// previous one is tried, once. Never more than two requests.
func TestSuiteTicketFallback(t *testing.T) {
	t.Parallel()
	badLatest := firstThen(errcodeAnswer(40085), okAnswer(`{"suite_access_token":"stok-prev","expires_in":7200}`))
	tests := []struct {
		desc             string
		latest, previous string
		handler          handlerFunc
		wantCalls        int
		wantTickets      []string
		wantErrCode      int
		wantClass        providers.Class
	}{
		{desc: "latest works", latest: testTicket, previous: testPrevTicket, wantCalls: 1, wantTickets: []string{testTicket}},
		{desc: "latest refused, previous works", latest: testTicket, previous: testPrevTicket, handler: badLatest, wantCalls: 2, wantTickets: []string{testTicket, testPrevTicket}},
		{desc: "both refused", latest: testTicket, previous: testPrevTicket, handler: errcodeAnswer(40085), wantCalls: 2,
			wantTickets: []string{testTicket, testPrevTicket}, wantErrCode: 40085, wantClass: providers.ClassAppDisabled},
		{desc: "only one ticket, refused", latest: testTicket, handler: errcodeAnswer(40085), wantCalls: 1,
			wantTickets: []string{testTicket}, wantErrCode: 40085, wantClass: providers.ClassAppDisabled},
		{desc: "same ticket twice is tried once", latest: testTicket, previous: testTicket, handler: errcodeAnswer(40085), wantCalls: 1,
			wantTickets: []string{testTicket}, wantErrCode: 40085, wantClass: providers.ClassAppDisabled},
		{desc: "no ticket yet", wantCalls: 0, wantClass: providers.ClassThrottled},
		{desc: "wrong suite secret", latest: testTicket, previous: testPrevTicket, handler: errcodeAnswer(40080), wantCalls: 1,
			wantTickets: []string{testTicket}, wantErrCode: 40080, wantClass: providers.ClassAppDisabled},
		{desc: "system busy", latest: testTicket, handler: errcodeAnswer(-1), wantCalls: 1,
			wantTickets: []string{testTicket}, wantErrCode: -1, wantClass: providers.ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			b.tickets.latest, b.tickets.previous = tt.latest, tt.previous
			if tt.handler != nil {
				b.handle(pathSuiteToken, tt.handler)
			}
			_, err := b.client.Send(context.Background(), b.tenantPart("u"))
			calls := b.got(pathSuiteToken)
			if len(calls) != tt.wantCalls {
				t.Fatalf("%d get_suite_token calls, want %d", len(calls), tt.wantCalls)
			}
			for i, c := range calls {
				if got := jsonBody(t, c)["suite_ticket"]; got != tt.wantTickets[i] {
					t.Errorf("call %d used ticket %v, want %s", i, got, tt.wantTickets[i])
				}
			}
			if tt.wantClass == providers.ClassUnknown {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			pe := providerError(t, err)
			if pe.Class != tt.wantClass || pe.Code != tt.wantErrCode || pe.Op != opSuiteToken || pe.Tenant != "" {
				t.Errorf("error %+v, want %s errcode %d from get_suite_token for no tenant", pe, tt.wantClass, tt.wantErrCode)
			}
			if tt.wantClass == providers.ClassThrottled && pe.RetryAfter <= 0 {
				t.Errorf("no ticket: RetryAfter %v", pe.RetryAfter)
			}
			if n := len(b.got(pathSend)); n != 0 {
				t.Errorf("%d sends", n)
			}
			assertNoSecret(t, err, multiSecrets...)
		})
	}
}

// When get_corp_token says the suite token is bad (42009 expired, 40082
// invalid, 40014 wrong type), the suite token is invalidated with
// compare-and-delete, fetched again and get_corp_token retried once; a second
// refusal is retryable, never a loop.
func TestCorpTokenRefreshesTheSuiteToken(t *testing.T) {
	t.Parallel()
	for _, code := range []int{42009, 40082, 40014} {
		t.Run(fmt.Sprintf("errcode %d once", code), func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			b.store.set(testSuiteKey, "stok-stale")
			b.handle(pathCorpToken, firstThen(errcodeAnswer(code), okAnswer(`{"access_token":"ctok-fresh","expires_in":7200}`)))
			if _, err := b.client.Send(context.Background(), b.tenantPart("u")); err != nil {
				t.Fatal(err)
			}
			inv := b.store.invalidated()
			if len(inv) != 1 || inv[0] != (invalidation{testSuiteKey, "stok-stale"}) {
				t.Errorf("invalidations %v, want the stale suite token only", inv)
			}
			ct := b.got(pathCorpToken)
			if len(ct) != 2 || ct[0].query.Get("suite_access_token") != "stok-stale" || ct[1].query.Get("suite_access_token") != "stok-1" {
				t.Errorf("get_corp_token calls %+v", ct)
			}
			if sends := b.got(pathSend); len(sends) != 1 || sends[0].query.Get("access_token") != "ctok-fresh" {
				t.Errorf("sends %+v", sends)
			}
		})
		t.Run(fmt.Sprintf("errcode %d always", code), func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			b.handle(pathCorpToken, errcodeAnswer(code))
			_, err := b.client.Send(context.Background(), b.tenantPart("u"))
			pe := providerError(t, err)
			if pe.Class != providers.ClassRetryable || pe.Code != code || pe.Tenant != "" {
				t.Errorf("error %+v, want retryable errcode %d", pe, code)
			}
			if n := len(b.got(pathCorpToken)); n != 2 {
				t.Errorf("%d get_corp_token calls, want 2", n)
			}
			if n := len(b.got(pathSuiteToken)); n != 2 {
				t.Errorf("%d get_suite_token calls, want 2", n)
			}
		})
	}
}

// Tenant-dead codes concern only the tenant: ClassAppDisabled with Tenant set,
// so that the worker pauses that tenant; suite-level and IP failures stop the
// app. Nothing is sent and get_corp_token is called once.
func TestCorpTokenFailuresAreScoped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		code       int
		wantClass  providers.Class
		wantTenant string
	}{
		{desc: "authorisation cancelled", code: 40084, wantClass: providers.ClassAppDisabled, wantTenant: testTenant},
		{desc: "authorisation invalid", code: 48004, wantClass: providers.ClassAppDisabled, wantTenant: testTenant},
		{desc: "corp unusable", code: 301007, wantClass: providers.ClassAppDisabled, wantTenant: testTenant},
		{desc: "corp id invalid", code: 2000002, wantClass: providers.ClassAppDisabled, wantTenant: testTenant},
		{desc: "service expired", code: 40137, wantClass: providers.ClassAppDisabled, wantTenant: testTenant},
		{desc: "egress IP not allowed stops the app", code: 60020, wantClass: providers.ClassAppDisabled},
		{desc: "unknown code is a credential failure of the tenant", code: 99999, wantClass: providers.ClassAppDisabled, wantTenant: testTenant},
		{desc: "throttled", code: 45009, wantClass: providers.ClassThrottled},
		{desc: "busy", code: -1, wantClass: providers.ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			b.handle(pathCorpToken, errcodeAnswer(tt.code))
			res, err := b.client.Send(context.Background(), b.tenantPart("u"))
			if res != nil {
				t.Errorf("result %+v", res)
			}
			pe := providerError(t, err)
			if pe.Class != tt.wantClass || pe.Code != tt.code || pe.Tenant != tt.wantTenant || pe.Op != opCorpToken {
				t.Errorf("error %+v, want %s errcode %d tenant %q from get_corp_token", pe, tt.wantClass, tt.code, tt.wantTenant)
			}
			if n := len(b.got(pathCorpToken)); n != 1 {
				t.Errorf("%d get_corp_token calls, want 1", n)
			}
			if n := len(b.got(pathSend)); n != 0 {
				t.Errorf("%d sends", n)
			}
			assertNoSecret(t, err, multiSecrets...)
		})
	}
}

// message/send answering a tenant-dead code pauses only the tenant.
func TestSendTenantDeadCode(t *testing.T) {
	t.Parallel()
	for _, code := range []int{48004, 40084, 301007, 2000002} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			b.handle(pathSend, errcodeAnswer(code))
			_, err := b.client.Send(context.Background(), b.tenantPart("u"))
			pe := providerError(t, err)
			if pe.Class != providers.ClassAppDisabled || pe.Tenant != testTenant || pe.Op != opSend {
				t.Errorf("error %+v, want app_disabled for tenant %s", pe, testTenant)
			}
		})
	}
}

// A tenant that is disabled or unknown at token time gets no request at all.
func TestNoTokenRequestForDisabledOrUnknownTenant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		tenant func(*fakeTenants)
		want   string
	}{
		{desc: "disabled", tenant: func(f *fakeTenants) {
			tn := activeTenant()
			tn.Disabled, tn.DisabledReason = true, "the corp cancelled its authorisation"
			f.tenants[testTenant] = tn
		}, want: "is disabled: the corp cancelled its authorisation"},
		{desc: "removed", tenant: func(f *fakeTenants) { delete(f.tenants, testTenant) }, want: "is not installed"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeThirdParty)
			part := b.tenantPart("u") // prepared while active
			tt.tenant(b.tenants)
			_, err := b.client.Send(context.Background(), part)
			pe := providerError(t, err)
			if pe.Class != providers.ClassAppDisabled || pe.Tenant != testTenant || !strings.Contains(pe.Message, tt.want) {
				t.Errorf("error %+v, want app_disabled for the tenant saying %q", pe, tt.want)
			}
			if n := len(b.got(pathCorpToken)) + len(b.got(pathSuiteToken)) + len(b.got(pathSend)); n != 0 {
				t.Errorf("%d requests", n)
			}
		})
	}
}

// A custom (代开发) tenant's token comes from gettoken with corpid = the tenant
// and corpsecret = its permanent code; credential failures pause the tenant,
// the egress IP failure the app.
func TestCustomModeToken(t *testing.T) {
	t.Parallel()
	t.Run("gettoken with the permanent code", func(t *testing.T) {
		t.Parallel()
		b := setupMulti(t, ModeCustom)
		if _, err := b.client.Send(context.Background(), b.tenantPart("u")); err != nil {
			t.Fatal(err)
		}
		gt := b.got(pathGettoken)
		if len(gt) != 1 || gt[0].query.Get("corpid") != testTenant || gt[0].query.Get("corpsecret") != testPermCode {
			t.Fatalf("gettoken calls %+v", gt)
		}
		if n := len(b.got(pathSuiteToken)) + len(b.got(pathCorpToken)); n != 0 {
			t.Errorf("%d suite calls for a custom app's send", n)
		}
		if tok, _ := b.store.get(testCorpKey); tok != "tok-1" {
			t.Errorf("token cached as %q under %s", tok, testCorpKey)
		}
	})
	for _, tt := range []struct {
		code       int
		wantTenant string
	}{{40001, testTenant}, {40013, testTenant}, {60020, ""}} {
		t.Run(fmt.Sprintf("gettoken errcode %d", tt.code), func(t *testing.T) {
			t.Parallel()
			b := setupMulti(t, ModeCustom)
			b.handle(pathGettoken, errcodeAnswer(tt.code))
			_, err := b.client.Send(context.Background(), b.tenantPart("u"))
			pe := providerError(t, err)
			if pe.Class != providers.ClassAppDisabled || pe.Tenant != tt.wantTenant || pe.Code != tt.code {
				t.Errorf("error %+v, want app_disabled errcode %d tenant %q", pe, tt.code, tt.wantTenant)
			}
			assertNoSecret(t, err, multiSecrets...)
		})
	}
}

// Errors of the chain never show a secret, even when WeCom echoes them.
func TestSuiteErrorsAreRedacted(t *testing.T) {
	t.Parallel()
	b := setupMulti(t, ModeThirdParty)
	b.handle(pathSuiteToken, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"errcode":40080,"errmsg":"bad secret %s for ticket %s"}`, testSuiteSecret, testTicket)
	})
	_, err := b.client.Send(context.Background(), b.tenantPart("u"))
	if err == nil {
		t.Fatal("no error")
	}
	assertNoSecret(t, err, multiSecrets...)
	b2 := setupMulti(t, ModeThirdParty)
	b2.handle(pathCorpToken, func(n int, w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"errcode":40084,"errmsg":"bad code %s with %s"}`, testPermCode, r.URL.Query().Get("suite_access_token"))
	})
	_, err = b2.client.Send(context.Background(), b2.tenantPart("u"))
	if err == nil {
		t.Fatal("no error")
	}
	assertNoSecret(t, err, append(multiSecrets, "stok-1")...)
}

func TestTokenKeys(t *testing.T) {
	t.Parallel()
	if got := SuiteTokenKey("ww1"); got != "wecom:tok:suite:ww1" {
		t.Errorf("SuiteTokenKey = %q", got)
	}
	if got := CorpTokenKey("ww1", "wpCorp"); got != "wecom:tok:corp:ww1:wpCorp" {
		t.Errorf("CorpTokenKey = %q", got)
	}
}
