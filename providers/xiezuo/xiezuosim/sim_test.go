package xiezuosim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/xiezuo"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

const (
	appKey    = "AKSIM1"
	appSecret = "sk-sim-secret"
	company   = "c-7"
	prefix    = "/o/woa"
	tokenPath = prefix + "/oauthapi/v3/inner/company/token"
	sendPath  = prefix + "/api/v2/developer/app/messages"
	updPath   = sendPath + "/update"
)

type testBundle struct {
	sim    *xiezuosim.Sim
	clock  *xiezuosim.ManualClock
	base   string
	signer xiezuo.Signer
}

// setup starts a simulator with one WPS-4 app (gateway prefix /o/woa) whose
// company has users u1, u2 and u3, signing with the provider's signer (the
// simulator verifies with its own code). opts change the simulator's options.
func setup(t *testing.T, opts ...func(*xiezuosim.Options)) *testBundle {
	t.Helper()
	b := &testBundle{clock: xiezuosim.NewManualClock(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))}
	o := xiezuosim.Options{Clock: b.clock.Now}
	for _, f := range opts {
		f(&o)
	}
	b.sim = xiezuosim.New(o)
	var err error
	if b.base, err = b.sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.sim.Close() })
	if err := b.sim.AddApp(xiezuosim.App{Key: appKey, Secret: appSecret, Signature: "wps4", UnsignedPrefix: prefix, CompanyID: company}); err != nil {
		t.Fatal(err)
	}
	b.sim.AddUsers(company, "u1", "u2", "u3")
	b.signer = xiezuo.Signer{Scheme: xiezuo.SignatureWPS4, HeaderStyle: xiezuo.HeaderStyleWPSDocs, AppID: appKey, Secret: appSecret, UnsignedPrefix: prefix}
	return b
}

// answer is a decoded simulator answer.
type answer struct {
	status       int
	retryAfter   string
	Result       int    `json:"result"`
	Msg          string `json:"msg"`
	CompanyToken string `json:"company_token"`
}

// do sends a request signed by b.signer at the simulator's now; change, if
// set, alters it after signing.
func (b *testBundle) do(t *testing.T, method, path string, q url.Values, body []byte, change func(*http.Request)) answer {
	t.Helper()
	a, err := b.try(t, method, path, q, body, change)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// try is do returning a transport error (e.g. a lost answer) instead of
// failing the test.
func (b *testBundle) try(t *testing.T, method, path string, q url.Values, body []byte, change func(*http.Request)) (answer, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, b.base+path+"?"+q.Encode(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", xiezuo.ContentTypeJSON)
	}
	b.signer.Sign(req, body, b.clock.Now())
	if change != nil {
		change(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	_ = json.Unmarshal(data, &a) // an injected HTTP status answers HTML
	return a, nil
}

func (b *testBundle) token(t *testing.T) string {
	t.Helper()
	a := b.do(t, http.MethodGet, tokenPath, url.Values{"app_id": {appKey}}, nil, nil)
	if a.status != http.StatusOK || a.Result != xiezuosim.CodeOK || a.CompanyToken == "" {
		t.Fatalf("token fetch = %+v", a)
	}
	return a.CompanyToken
}

const simCard = `{"elements":[{"tag":"text","content":{"type":"plainText","text":"%s"}}]}`

func cardBody(ctxID, text string, users ...string) []byte {
	return []byte(`{"to_users":{"company_id":"` + company + `","company_uids":["` + strings.Join(users, `","`) + `"]},"app_key":"` + appKey +
		`","ctx_id":"` + ctxID + `","company_id":"` + company + `","company_uid":"bot","utype":1,"msg_type":23,"content":{"type":23,"content":` +
		strings.Replace(simCard, "%s", text, 1) + `}}`)
}

func tok(t string) url.Values { return url.Values{"company_token": {t}} }

func TestSignatureRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		change func(b *testBundle, r *http.Request)
		status int
		result int
	}{
		{desc: "valid", status: http.StatusOK, result: xiezuosim.CodeOK},
		{desc: "signed with another secret", status: http.StatusForbidden, result: xiezuosim.CodeBadSignature, change: func(b *testBundle, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			other := b.signer
			other.Secret = "not-the-secret"
			other.Sign(r, body, b.clock.Now())
		}},
		{desc: "body changed after signing", status: http.StatusForbidden, result: xiezuosim.CodeBadSignature, change: func(b *testBundle, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			body = bytes.Replace(body, []byte(`"u1"`), []byte(`"u2"`), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}},
		{desc: "date 16 minutes old", status: http.StatusForbidden, result: xiezuosim.CodeBadDate, change: func(b *testBundle, r *http.Request) {
			b.clock.Advance(xiezuosim.DefaultMaxSkew + time.Minute)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var change func(*http.Request)
			if tc.change != nil {
				change = func(r *http.Request) { tc.change(b, r) }
			}
			a := b.do(t, http.MethodPost, sendPath, tok(b.token(t)), cardBody("ctx-1", "hello", "u1"), change)
			if a.status != tc.status || a.Result != tc.result {
				t.Fatalf("send = %d result %d (%s), want %d result %d", a.status, a.Result, a.Msg, tc.status, tc.result)
			}
			delivered := len(b.sim.Deliveries("u1")) + len(b.sim.Deliveries("u2"))
			if want := map[bool]int{true: 1, false: 0}[tc.result == xiezuosim.CodeOK]; delivered != want {
				t.Fatalf("deliveries = %d, want %d", delivered, want)
			}
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		advance time.Duration
		expire  bool // Sim.ExpireTokens
		status  int
		result  int
		newTok  bool // a fetch now issues another token
	}{
		{desc: "over a minute left", advance: xiezuosim.DefaultTokenTTL - 2*time.Minute, status: http.StatusOK, result: xiezuosim.CodeOK},
		{desc: "in its last minute", advance: xiezuosim.DefaultTokenTTL - 30*time.Second, status: http.StatusOK, result: xiezuosim.CodeOK, newTok: true},
		{desc: "at the end of its lifetime", advance: xiezuosim.DefaultTokenTTL, status: http.StatusUnauthorized, result: xiezuosim.CodeTokenExpired, newTok: true},
		{desc: "expired by the test", expire: true, status: http.StatusUnauthorized, result: xiezuosim.CodeTokenExpired, newTok: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			old := b.token(t)
			b.clock.Advance(tc.advance)
			if tc.expire {
				b.sim.ExpireTokens()
			}
			a := b.do(t, http.MethodPost, sendPath, tok(old), cardBody("ctx-1", "hello", "u1"), nil)
			if a.status != tc.status || a.Result != tc.result {
				t.Fatalf("send with the old token = %d result %d (%s), want %d result %d", a.status, a.Result, a.Msg, tc.status, tc.result)
			}
			fresh := b.token(t)
			if (fresh != old) != tc.newTok {
				t.Fatalf("fetch after %s: new token = %v, want %v (the old one is returned while over a minute is left)", tc.desc, fresh != old, tc.newTok)
			}
			if a := b.do(t, http.MethodPost, sendPath, tok(fresh), cardBody("ctx-2", "hello", "u1"), nil); a.Result != xiezuosim.CodeOK {
				t.Fatalf("send with the fetched token = %+v", a)
			}
		})
	}
}

func TestCardViewPerUserAfterUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		update []byte
		result int
		want   map[string]string // user → text of the card they see
	}{
		{desc: "update names u1", update: cardBody("ctx-1", "done", "u1"), want: map[string]string{"u1": "done", "u2": "open"}},
		{desc: "update without to_users", update: bytes.Replace(cardBody("ctx-1", "done", "u1"), []byte(`"to_users":{"company_id":"c-7","company_uids":["u1"]},`), nil, 1),
			want: map[string]string{"u1": "done", "u2": "done"}},
		{desc: "update names a user who never received it", update: cardBody("ctx-1", "done", "u1", "u3"), result: xiezuosim.CodeInvalidRecipient,
			want: map[string]string{"u1": "open", "u2": "open"}},
		{desc: "update of an unknown ctx_id", update: cardBody("ctx-9", "done", "u1"), result: xiezuosim.CodeCtxNotFound,
			want: map[string]string{"u1": "open", "u2": "open"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			token := b.token(t)
			if a := b.do(t, http.MethodPost, sendPath, tok(token), cardBody("ctx-1", "open", "u1", "u2"), nil); a.Result != xiezuosim.CodeOK {
				t.Fatalf("send = %+v", a)
			}
			if a := b.do(t, http.MethodPost, updPath, tok(token), tc.update, nil); a.Result != tc.result {
				t.Fatalf("update = %+v, want result %d", a, tc.result)
			}
			for u, text := range tc.want {
				card, ok := b.sim.CardOf(u, "ctx-1")
				if !ok || !strings.Contains(string(card), `"text":"`+text+`"`) {
					t.Errorf("card of %s = %s (found %v), want text %q", u, card, ok, text)
				}
			}
			if _, ok := b.sim.CardOf("u3", "ctx-1"); ok {
				t.Error("u3 has a card it was never sent")
			}
		})
	}
}

// TestFaultHTTPStatus: an injected 429 answers the next matching requests
// with Retry-After and applies nothing; other endpoints are untouched.
func TestFaultHTTPStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.sim.Inject(xiezuosim.HTTPStatus(http.StatusTooManyRequests, 7*time.Second).On(xiezuosim.EndpointSend).Times(2)); err != nil {
		t.Fatal(err)
	}
	token := b.token(t) // the token endpoint is not faulted
	tests := []struct {
		desc       string
		status     int
		retryAfter string
		delivered  int
	}{
		{desc: "first send", status: http.StatusTooManyRequests, retryAfter: "7"},
		{desc: "second send", status: http.StatusTooManyRequests, retryAfter: "7"},
		{desc: "third send, fault used up", status: http.StatusOK, delivered: 1},
	}
	for _, tc := range tests { // in order: the fault is consumed
		a := b.do(t, http.MethodPost, sendPath, tok(token), cardBody("ctx-1", "hello", "u1"), nil)
		if a.status != tc.status || a.retryAfter != tc.retryAfter || len(b.sim.Deliveries("u1")) != tc.delivered {
			t.Fatalf("%s: %d Retry-After %q, %d delivered; want %d %q %d", tc.desc, a.status, a.retryAfter, len(b.sim.Deliveries("u1")), tc.status, tc.retryAfter, tc.delivered)
		}
	}
	var faulted int
	for _, r := range b.sim.Requests() {
		if r.Fault != "" {
			faulted++
		}
	}
	if faulted != 2 {
		t.Fatalf("faulted requests = %d, want 2", faulted)
	}
}

// TestWaitDeliveries: a waiter started before the send wakes when the send
// is delivered (no polling), and one whose context ends gets an error with
// what arrived so far.
func TestWaitDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := make(chan []xiezuosim.Delivery, 1)
	errc := make(chan error, 1)
	go func() {
		ds, err := b.sim.WaitDeliveries(context.Background(), "u2", 1)
		got <- ds
		errc <- err
	}()
	tk := b.token(t)
	if a := b.do(t, http.MethodPost, sendPath, tok(tk), cardBody("wait-1", "hi", "u2"), nil); a.status != http.StatusOK {
		t.Fatalf("send = %+v", a)
	}
	if ds, err := <-got, <-errc; err != nil || len(ds) != 1 || ds[0].CtxID != "wait-1" {
		t.Fatalf("WaitDeliveries = %+v, %v; want the one card", ds, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ds, err := b.sim.WaitDeliveries(ctx, "u2", 2); err == nil || len(ds) != 1 {
		t.Fatalf("WaitDeliveries(2) with an ended context = %d deliveries, %v; want 1 and an error", len(ds), err)
	}
	if rs, err := b.sim.WaitRequests(context.Background(), xiezuosim.EndpointToken, 1); err != nil || len(rs) != 1 {
		t.Fatalf("WaitRequests(token) = %+v, %v", rs, err)
	}
}
