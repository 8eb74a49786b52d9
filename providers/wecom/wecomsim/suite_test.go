package wecomsim

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom/msgcrypt"
)

const (
	suiteID     = "wwsuite1"
	suiteSecret = "suite-s3cret"
	cbToken     = "QDG6eK"
	cbAESKey    = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	tenantCorp  = "wpTenantAbC"
	tenantAgent = int64(1000017)
)

// received is one callback the receiver decrypted.
type received struct {
	receiveID string
	msg       map[string]string
}

// suiteBundle is the fixture plus a suite whose callbacks go to a receiver
// that checks them like the dispatcher would and answers answer.
type suiteBundle struct {
	*testBundle
	mu     sync.Mutex
	got    []received
	answer string
	recv   *httptest.Server
}

func setupSuite(t *testing.T, custom bool) *suiteBundle {
	t.Helper()
	b := &suiteBundle{testBundle: setup(t), answer: "success"}
	cr, err := msgcrypt.New(cbToken, cbAESKey)
	if err != nil {
		t.Fatal(err)
	}
	cr.Now = b.clock.Now
	b.recv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q := r.URL.Query()
		if r.Method == http.MethodGet {
			echo, _, err := cr.Decrypt(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), q.Get("echostr"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			w.Write(echo)
			return
		}
		plain, rid, err := cr.DecryptXML(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		b.mu.Lock()
		b.got = append(b.got, received{receiveID: rid, msg: flatXML(t, plain)})
		answer := b.answer
		b.mu.Unlock()
		io.WriteString(w, answer)
	}))
	t.Cleanup(b.recv.Close)
	if err := b.sim.AddSuite(Suite{ID: suiteID, Secret: suiteSecret, Custom: custom, CallbackURL: b.recv.URL + "/callbacks/wecom/crm",
		Token: cbToken, EncodingAESKey: cbAESKey}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *suiteBundle) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.got...)
}

// flatXML reads a flat <xml> document into its element texts.
func flatXML(t *testing.T, doc []byte) map[string]string {
	out := map[string]string{}
	dec := xml.NewDecoder(strings.NewReader(string(doc)))
	var name string
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		switch v := tok.(type) {
		case xml.StartElement:
			name = v.Name.Local
		case xml.CharData:
			if name != "" && name != "xml" {
				out[name] += string(v)
			}
		case xml.EndElement:
			name = ""
		}
	}
}

// suiteCall POSTs body to a service/ endpoint and decodes the JSON answer.
func (b *suiteBundle) suiteCall(path, suiteToken, body string) map[string]any {
	b.t.Helper()
	q := ""
	if suiteToken != "" {
		q = "?suite_access_token=" + url.QueryEscape(suiteToken)
	}
	_, status, raw, err := b.do(context.Background(), http.MethodPost, "/cgi-bin/service/"+path+q, []byte(body))
	if err != nil || status != http.StatusOK {
		b.t.Fatalf("POST %s: %d %s %v", path, status, raw, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		b.t.Fatalf("POST %s: %s: %v", path, raw, err)
	}
	return m
}

func errcodeOf(m map[string]any) int {
	if v, ok := m["errcode"].(float64); ok {
		return int(v)
	}
	return 0
}

func (b *suiteBundle) suiteToken(ticket string) map[string]any {
	b.t.Helper()
	return b.suiteCall("get_suite_token", "", `{"suite_id":"`+suiteID+`","suite_secret":"`+suiteSecret+`","suite_ticket":"`+ticket+`"}`)
}

// install installs the suite in tenantCorp and exchanges the auth code; it
// returns the suite token and the permanent code.
func (b *suiteBundle) install(in Install) (stok, code string) {
	b.t.Helper()
	ticket, err := b.sim.RotateTicket(suiteID)
	if err != nil {
		b.t.Fatal(err)
	}
	stok, _ = b.suiteToken(ticket)["suite_access_token"].(string)
	inst, err := b.sim.InstallTenant(suiteID, in)
	if err != nil {
		b.t.Fatal(err)
	}
	r := b.suiteCall("v2/get_permanent_code", stok, `{"auth_code":"`+inst.AuthCode+`"}`)
	code, _ = r["permanent_code"].(string)
	if code == "" {
		b.t.Fatalf("get_permanent_code: %v", r)
	}
	return stok, code
}

func tenantInstall() Install {
	return Install{CorpID: tenantCorp, CorpName: "Tenant Co", AgentID: tenantAgent, UserMax: 300,
		Users: []string{"wmUserAbC", "wmUserabc"}, Unlicensed: []string{"wmNoLicence"}}
}

// get_suite_token takes the current ticket or the previous one within 30
// minutes, answers success without errcode, and keeps one token per suite.
func TestSuiteTokenTickets(t *testing.T) {
	t.Parallel()
	b := setupSuite(t, false)
	if r := b.suiteToken("never-issued"); errcodeOf(r) != CodeInvalidSuiteTicket {
		t.Errorf("unknown ticket: %v", r)
	}
	t1, _ := b.sim.RotateTicket(suiteID)
	r := b.suiteToken(t1)
	if _, has := r["errcode"]; has || r["suite_access_token"] == "" || r["expires_in"] != float64(7200) {
		t.Fatalf("success answer %v, want a token and no errcode", r)
	}
	tok := r["suite_access_token"]
	b.clock.Advance(10 * time.Minute)
	t2, _ := b.sim.RotateTicket(suiteID)
	if r := b.suiteToken(t1); r["suite_access_token"] != tok || r["expires_in"] != float64(6600) {
		t.Errorf("previous ticket: %v, want the same token with 6600 s left", r)
	}
	b.clock.Advance(21 * time.Minute) // t1 is 31 minutes old
	if r := b.suiteToken(t1); errcodeOf(r) != CodeInvalidSuiteTicket {
		t.Errorf("expired previous ticket: %v", r)
	}
	if r := b.suiteToken(t2); r["suite_access_token"] != tok {
		t.Errorf("current ticket: %v", r)
	}
	if r := b.suiteCall("get_suite_token", "", `{"suite_id":"wwnope","suite_secret":"x","suite_ticket":"`+t2+`"}`); errcodeOf(r) != CodeInvalidSuiteID {
		t.Errorf("unknown suite: %v", r)
	}
	if r := b.suiteCall("get_suite_token", "", `{"suite_id":"`+suiteID+`","suite_secret":"wrong","suite_ticket":"`+t2+`"}`); errcodeOf(r) != CodeInvalidSuiteSecret {
		t.Errorf("wrong secret: %v", r)
	}
	if n := b.sim.SuiteTokenFetches(suiteID); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
	for _, rq := range b.sim.RequestsTo(EndpointSuiteToken) {
		if rq.Body != "" {
			t.Errorf("a get_suite_token body was recorded: %s", rq.Body)
		}
	}
}

// An installation: the auth code is exchanged once for the permanent code,
// get_auth_info tells the agentid and seats, get_corp_token gives a token
// message/send accepts; unlicensed members are listed, not delivered to; ids
// are case-sensitive.
func TestInstallAndSend(t *testing.T) {
	t.Parallel()
	b := setupSuite(t, false)
	ticket, _ := b.sim.RotateTicket(suiteID)
	stok, _ := b.suiteToken(ticket)["suite_access_token"].(string)
	inst, err := b.sim.InstallTenant(suiteID, tenantInstall())
	if err != nil {
		t.Fatal(err)
	}
	pc := b.suiteCall("v2/get_permanent_code", stok, `{"auth_code":"`+inst.AuthCode+`"}`)
	code, _ := pc["permanent_code"].(string)
	if want, _ := b.sim.PermanentCode(suiteID, tenantCorp); code == "" || code != want {
		t.Fatalf("get_permanent_code: %v", pc)
	}
	if corp := pc["auth_corp_info"].(map[string]any)["corpid"]; corp != tenantCorp {
		t.Errorf("auth_corp_info.corpid %v", corp)
	}
	if r := b.suiteCall("v2/get_permanent_code", stok, `{"auth_code":"`+inst.AuthCode+`"}`); errcodeOf(r) != CodeInvalidAuthCode {
		t.Errorf("auth code used twice: %v", r)
	}
	ai := b.suiteCall("v2/get_auth_info", stok, `{"auth_corpid":"`+tenantCorp+`","permanent_code":"`+code+`"}`)
	agents := ai["auth_info"].(map[string]any)["agent"].([]any)
	if agents[0].(map[string]any)["agentid"] != float64(tenantAgent) || ai["auth_corp_info"].(map[string]any)["corp_user_max"] != float64(300) {
		t.Errorf("get_auth_info: %v", ai)
	}
	if r := b.suiteCall("get_corp_token", stok, `{"auth_corpid":"`+tenantCorp+`","permanent_code":"wrong"}`); errcodeOf(r) != CodeInvalidPermanentCode {
		t.Errorf("wrong permanent code: %v", r)
	}
	if r := b.suiteCall("get_corp_token", "bogus", `{"auth_corpid":"`+tenantCorp+`","permanent_code":"`+code+`"}`); errcodeOf(r) != CodeInvalidSuiteToken {
		t.Errorf("bogus suite token: %v", r)
	}
	ct := b.suiteCall("get_corp_token", stok, `{"auth_corpid":"`+tenantCorp+`","permanent_code":"`+code+`"}`)
	ctok, _ := ct["access_token"].(string)
	if _, has := ct["errcode"]; has || ctok == "" {
		t.Fatalf("get_corp_token: %v, want a token and no errcode", ct)
	}
	// A third-party permanent code is no gettoken secret.
	if r := b.getToken(tenantCorp, code); r.ErrCode != CodeInvalidSecret {
		t.Errorf("gettoken with a third-party permanent code: %+v", r)
	}
	body := `{"touser":"wmUserAbC|WMUSERABC|wmNoLicence","msgtype":"text","agentid":1000017,"text":{"content":"hi"}}`
	var raw map[string]any
	_, _, rawBody, err := b.do(context.Background(), http.MethodPost, "/cgi-bin/message/send?access_token="+url.QueryEscape(ctok), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(rawBody, &raw)
	if errcodeOf(raw) != 0 || raw["unlicenseduser"] != "wmNoLicence" || raw["invaliduser"] != "WMUSERABC" {
		t.Errorf("send answer %v, want unlicenseduser wmNoLicence and the wrong-case id invalid", raw)
	}
	if got := users(b.sim.Deliveries("wmUserAbC")); len(got) != 1 || got[0] != "wmUserAbC" {
		t.Errorf("deliveries to wmUserAbC: %v", got)
	}
	if got := b.sim.Deliveries("wmUserabc"); len(got) != 0 {
		t.Errorf("a case-different member got it: %v", got)
	}
	if got := b.sim.Deliveries("wmNoLicence"); len(got) != 0 {
		t.Errorf("an unlicensed member got it: %v", got)
	}
	for _, ep := range []string{EndpointCorpToken, EndpointPermanentCode, EndpointAuthInfo} {
		for _, rq := range b.sim.RequestsTo(ep) {
			if strings.Contains(rq.Body, code) || rq.Body != "" {
				t.Errorf("%s recorded its body", ep)
			}
		}
	}

	// Cancellation: the corp token is refused with 48004, a new one with 40084.
	if err := b.sim.CancelTenant(suiteID, tenantCorp); err != nil {
		t.Fatal(err)
	}
	if r := b.sendText(ctok, "wmUserAbC", "after"); r.ErrCode != CodeAuthInvalid {
		t.Errorf("send after cancel: %+v", r)
	}
	if r := b.suiteCall("get_corp_token", stok, `{"auth_corpid":"`+tenantCorp+`","permanent_code":"`+code+`"}`); errcodeOf(r) != CodeInvalidPermanentCode {
		t.Errorf("get_corp_token after cancel: %v", r)
	}
	if r := b.suiteCall("v2/get_auth_info", stok, `{"auth_corpid":"`+tenantCorp+`","permanent_code":"`+code+`"}`); errcodeOf(r) != CodeInvalidPermanentCode {
		t.Errorf("get_auth_info after cancel: %v", r)
	}
	// Expired suite token: 42009.
	b.sim.ExpireSuiteTokens()
	if r := b.suiteCall("get_corp_token", stok, `{"auth_corpid":"`+tenantCorp+`","permanent_code":"`+code+`"}`); errcodeOf(r) != CodeSuiteTokenExpired {
		t.Errorf("expired suite token: %v", r)
	}
}

// A 代开发 tenant's permanent code is its app secret: gettoken works with it,
// until the corp cancels (40001) or the code is reset.
func TestCustomSuite(t *testing.T) {
	t.Parallel()
	b := setupSuite(t, true)
	stok, code := b.install(tenantInstall())
	tok := b.tokenOf(tenantCorp, code)
	if r := b.send(tok, `{"touser":"wmUserAbC","msgtype":"text","agentid":1000017,"text":{"content":"hi"}}`); r.ErrCode != 0 {
		t.Fatalf("send: %+v", r)
	}
	reset, err := b.sim.ResetPermanentCode(suiteID, tenantCorp)
	if err != nil {
		t.Fatal(err)
	}
	newCode, _ := b.suiteCall("v2/get_permanent_code", stok, `{"auth_code":"`+reset+`"}`)["permanent_code"].(string)
	if newCode == "" || newCode == code {
		t.Fatalf("reset gave %q", newCode)
	}
	if r := b.getToken(tenantCorp, code); r.ErrCode != CodeInvalidSecret {
		t.Errorf("gettoken with the old code: %+v", r)
	}
	b.tokenOf(tenantCorp, newCode)
	if err := b.sim.CancelTenant(suiteID, tenantCorp); err != nil {
		t.Fatal(err)
	}
	if r := b.getToken(tenantCorp, newCode); r.ErrCode != CodeInvalidSecret {
		t.Errorf("gettoken after cancel: %+v", r)
	}
}

// The simulator fires signed, encrypted callbacks: instruction callbacks with
// the suite id as receive id (answered "success"), card clicks with the
// tenant's corp id and a ResponseCode.
func TestFireCallbacks(t *testing.T) {
	t.Parallel()
	b := setupSuite(t, false)
	ctx := ctxTimeout(t)
	ticket, _, err := b.sim.FireSuiteTicket(ctx, suiteID)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := b.sim.InstallTenant(suiteID, tenantInstall())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.sim.FireCreateAuth(ctx, suiteID, inst.AuthCode); err != nil {
		t.Fatal(err)
	}
	cb, respCode, err := b.sim.FireCardClick(ctx, CardClick{SuiteID: suiteID, CorpID: tenantCorp, User: "wmUserAbC", TaskID: "task-1",
		EventKey: "ok", CardType: "vote_interaction", Selected: []Selection{{QuestionKey: "q", OptionIDs: []string{"a", "b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.sim.FireResetPermanentCode(ctx, suiteID, tenantCorp); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sim.FireCancelAuth(ctx, suiteID, tenantCorp); err != nil {
		t.Fatal(err)
	}
	got := b.received()
	if len(got) != 5 {
		t.Fatalf("%d callbacks received, want 5", len(got))
	}
	want := []struct {
		rid, field, value string
	}{
		{suiteID, "SuiteTicket", ticket},
		{suiteID, "AuthCode", inst.AuthCode},
		{tenantCorp, "ResponseCode", respCode},
		{suiteID, "InfoType", "reset_permanent_code"},
		{suiteID, "AuthCorpId", tenantCorp},
	}
	for i, w := range want {
		if got[i].receiveID != w.rid || got[i].msg[w.field] != w.value {
			t.Errorf("callback %d: receive id %q, %s = %q; want %q, %q (%v)", i, got[i].receiveID, w.field, got[i].msg[w.field], w.rid, w.value, got[i].msg)
		}
	}
	click := got[2].msg
	if click["Event"] != "template_card_event" || click["FromUserName"] != "wmUserAbC" || click["TaskId"] != "task-1" || click["AgentID"] != "1000017" ||
		click["QuestionKey"] != "q" || click["OptionId"] != "ab" {
		t.Errorf("click %v", click)
	}
	// A callback can be delivered again, byte for byte.
	if status, answer, err := b.sim.Deliver(ctx, cb); err != nil || status != 200 || answer != "success" {
		t.Errorf("Deliver again: %d %q %v", status, answer, err)
	}
	// An instruction callback answered otherwise is an error.
	b.mu.Lock()
	b.answer = "fail"
	b.mu.Unlock()
	if _, _, err := b.sim.FireSuiteTicket(ctx, suiteID); err == nil || !strings.Contains(err.Error(), `want 200 "success"`) {
		t.Errorf("FireSuiteTicket answered fail: %v", err)
	}
	// URL verification.
	if status, answer, err := b.sim.VerifyURL(ctx, suiteID, suiteID, "echo-123"); err != nil || status != 200 || answer != "echo-123" {
		t.Errorf("VerifyURL: %d %q %v", status, answer, err)
	}
}

// A self-built app's card click goes to its own callback URL, sealed for its corp.
func TestSelfBuiltCardClick(t *testing.T) {
	t.Parallel()
	b := setupSuite(t, false)
	if err := b.sim.SetAppCallback(corp1, agent, CallbackConfig{URL: b.recv.URL, Token: cbToken, EncodingAESKey: cbAESKey}); err != nil {
		t.Fatal(err)
	}
	if err := b.sim.SetAppCallback(corp1, 42, CallbackConfig{URL: b.recv.URL, Token: cbToken, EncodingAESKey: cbAESKey}); err == nil {
		t.Error("SetAppCallback of an unknown app")
	}
	_, code, err := b.sim.FireCardClick(ctxTimeout(t), CardClick{CorpID: corp1, AgentID: agent, User: "alice", TaskID: "t1", Menu: true})
	if err != nil {
		t.Fatal(err)
	}
	got := b.received()
	if len(got) != 1 || got[0].receiveID != corp1 || got[0].msg["Event"] != "template_card_menu_event" || got[0].msg["ResponseCode"] != code || got[0].msg["AgentID"] != "1000002" {
		t.Errorf("received %+v", got)
	}
	if _, _, err := b.sim.FireCardClick(ctxTimeout(t), CardClick{CorpID: corp2, AgentID: agent, User: "zed"}); err == nil {
		t.Error("a click of an app without callback configuration was fired")
	}
}
