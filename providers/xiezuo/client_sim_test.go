// Tests of the client against xiezuosim over HTTP, without the core (the
// end-to-end tests through the core are in e2e_test.go, package xiezuo_test).

package xiezuo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

// memTokenStore is an in-memory providers.TokenStore with compare-and-delete.
type memTokenStore struct {
	mu      sync.Mutex
	tokens  map[string]string
	fetches int
}

func (m *memTokenStore) Token(ctx context.Context, key string, fetch providers.FetchFunc) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tok, ok := m.tokens[key]; ok {
		return tok, nil
	}
	tok, _, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	m.fetches++
	m.tokens[key] = tok
	return tok, nil
}

func (m *memTokenStore) Invalidate(ctx context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[key] == token {
		delete(m.tokens, key)
	}
	return nil
}

// memSink is a CallbackSink remembering dedupe keys.
type memSink struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []*CallbackEvent
}

func (s *memSink) PublishOnce(ctx context.Context, key string, ttl time.Duration, ev *CallbackEvent) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[key] {
		return false, nil
	}
	s.seen[key] = true
	s.events = append(s.events, ev)
	return true, nil
}

func (s *memSink) published() []*CallbackEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*CallbackEvent(nil), s.events...)
}

const (
	e2eApp     = "approvals"
	e2eKey     = "AK20240101TEST"
	e2eSecret  = "sk-e2e-DO-NOT-LOG"
	e2eCompany = "c-100"
)

type testBundle struct {
	sim    *xiezuosim.Sim
	clock  *xiezuosim.ManualClock
	client *Client
	store  *memTokenStore
	sink   *memSink
	cbURL  string
	now    func() time.Time
}

// setup starts a simulator with one WPS-4 app (header style style), a
// client for it and the app's callback handler on a real listener.
func setup(t *testing.T, style string) *testBundle {
	t.Helper()
	clock := xiezuosim.NewManualClock(time.Now().UTC().Truncate(time.Second))
	b := &testBundle{clock: clock, store: &memTokenStore{tokens: map[string]string{}}, sink: &memSink{seen: map[string]bool{}}, now: clock.Now}
	b.sim = xiezuosim.New(xiezuosim.Options{Clock: clock.Now})
	base, err := b.sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.sim.Close() })
	cfg := Config{BaseURL: base, AppKey: e2eKey, AppSecret: e2eSecret, Signature: SignatureWPS4, HeaderStyle: style,
		CompanyTokenPath: "/o/woa/oauthapi/v3/inner/company/token", UpdatePath: "/o/woa/api/v2/developer/app/messages/update",
		CompanyID: e2eCompany, CompanyUID: "bot-1", BizType: "approval"}
	b.client, err = New(cfg, b.store, nil, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewCallbackHandler(CallbackOptions{App: e2eApp, Config: cfg, Sink: b.sink, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b.cbURL = srv.URL + "/callbacks/xiezuo/" + e2eApp
	if err := b.sim.AddApp(xiezuosim.App{Key: e2eKey, Secret: e2eSecret, Signature: "wps4", HeaderStyle: style,
		UnsignedPrefix: "/o/woa", CompanyID: e2eCompany, CallbackURL: b.cbURL}); err != nil {
		t.Fatal(err)
	}
	b.sim.AddUsers(e2eCompany, "u1", "u2")
	b.sim.AddChat(e2eCompany, "chat-9", "u2", "u3")
	return b
}

const testCard = `{"header":{"title":{"tag":"text","content":{"type":"plainText","text":"审批"}}},"elements":[{"tag":"text","content":{"type":"markdown","text":"请审批 <b>&</b>"}},{"tag":"action","actions":[{"tag":"button","content":{"type":"plainText","text":"同意"},"key":"approve","style":"primary"}]}]}`

func (b *testBundle) sendCard(t *testing.T, id string, to providers.Recipients) []providers.Part {
	t.Helper()
	parts, err := b.client.Prepare(context.Background(), &providers.Message{App: e2eApp, To: to, Kind: providers.KindCard, Body: json.RawMessage(testCard)},
		providers.PrepareOptions{MessageID: id})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	for i := range parts {
		res, err := b.client.Send(context.Background(), &parts[i])
		if err != nil {
			t.Fatalf("Send part %d: %v", i, err)
		}
		if res.ProviderMessageID != CtxID(id, i, 0) {
			t.Fatalf("part %d ProviderMessageID = %q, want its ctx_id %q", i, res.ProviderMessageID, CtxID(id, i, 0))
		}
	}
	return parts
}

func TestClientSimCardToUsersAndChatDelivered(t *testing.T) {
	t.Parallel()
	for _, style := range []string{HeaderStyleWPSDocs, HeaderStylePlain} {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			b := setup(t, style)
			b.sendCard(t, "approvals.01jd8x7c3k9f2m4q6r8t0v2w4y", providers.Recipients{Users: []string{"u1"}, Chats: []string{"chat-9"}})
			for _, u := range []string{"u1", "u2", "u3"} {
				ds := b.sim.Deliveries(u)
				if len(ds) != 1 || ds[0].MsgType != MsgTypeCard || ds[0].BizType != "approval" {
					t.Fatalf("deliveries of %s = %+v, want one card", u, ds)
				}
			}
			if got := b.sim.Deliveries("u3")[0].Via; got != "chats" {
				t.Fatalf("u3 got the card via %q, want chats", got)
			}
		})
	}
}

func TestClientSimUpdateByCtxID(t *testing.T) {
	t.Parallel()
	b := setup(t, HeaderStyleWPSDocs)
	id := "approvals.01jd8x7c3k9f2m4q6r8t0v2w50"
	parts := b.sendCard(t, id, providers.Recipients{Users: []string{"u1", "u2"}})
	ctxID := BodyCtxID(parts[0].Body)
	if parts[0].Ref != ctxID || parts[0].NotUpdatable {
		t.Fatalf("part Ref = %q, NotUpdatable = %v; want the ctx_id %q, updatable", parts[0].Ref, parts[0].NotUpdatable, ctxID)
	}
	newCard := strings.Replace(testCard, "请审批", "已同意", 1)
	req := &providers.UpdateRequest{MessageID: id, Part: &parts[0], Sent: &providers.Result{ProviderMessageID: ctxID},
		Users: []string{"u1", "u2"}, Content: providers.Content{Kind: providers.KindCard, Body: json.RawMessage(newCard)}}
	res, err := b.client.Update(context.Background(), req)
	if err != nil || len(res.Updated) != 2 || len(res.Unreachable) != 0 {
		t.Fatalf("Update = %+v, %v; want u1 and u2 updated", res, err)
	}
	for _, u := range []string{"u1", "u2"} {
		card, ok := b.sim.CardOf(u, ctxID)
		if !ok || !strings.Contains(string(card), "已同意") || strings.Contains(string(card), "请审批") {
			t.Fatalf("card of %s after update = %s (found %v)", u, card, ok)
		}
	}
	unknown := parts[0]
	unknown.Ref = "hunknown"
	res, err = b.client.Update(context.Background(), &providers.UpdateRequest{Part: &unknown, Users: []string{"u1"},
		Content: providers.Content{Kind: providers.KindCard, Body: json.RawMessage(newCard)}})
	if err != nil || !strings.Contains(res.Unreachable["u1"], "ctx_id not found") || len(res.Updated) != 0 {
		t.Fatalf("update of an unknown ctx_id = %+v, %v; want u1 unreachable (WPS refused for good), no error", res, err)
	}
}

// TestClientSimUpdatePerUser: an update reaches only the users it names; one user
// WPS refuses does not keep the others from being updated.
func TestClientSimUpdatePerUser(t *testing.T) {
	t.Parallel()
	b := setup(t, HeaderStyleWPSDocs)
	parts := b.sendCard(t, "approvals.01jd8x7c3k9f2m4q6r8t0v2w56", providers.Recipients{Users: []string{"u1", "u2"}})
	ctxID := parts[0].Ref
	newCard := strings.Replace(testCard, "请审批", "已同意", 1)
	res, err := b.client.Update(context.Background(), &providers.UpdateRequest{Part: &parts[0], Users: []string{"u1", "u3"},
		Content: providers.Content{Kind: providers.KindCard, Body: json.RawMessage(newCard)}})
	if err != nil || len(res.Updated) != 1 || res.Updated[0] != "u1" || !strings.Contains(res.Unreachable["u3"], "invalid receiver") {
		t.Fatalf("Update = %+v, %v; want u1 updated, u3 unreachable (never received the card)", res, err)
	}
	if card, _ := b.sim.CardOf("u1", ctxID); !strings.Contains(string(card), "已同意") {
		t.Fatalf("card of u1 = %s, want the new card", card)
	}
	if card, _ := b.sim.CardOf("u2", ctxID); !strings.Contains(string(card), "请审批") {
		t.Fatalf("card of u2 = %s, want the card as sent (not named by the update)", card)
	}
}

func TestClientSimUpdateRefusedWithoutRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, HeaderStyleWPSDocs)
	text, err := b.client.Prepare(context.Background(), &providers.Message{App: e2eApp, To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindText, Text: "hi"},
		providers.PrepareOptions{MessageID: "approvals.01jd8x7c3k9f2m4q6r8t0v2w57"})
	if err != nil {
		t.Fatal(err)
	}
	cards := b.sendCard(t, "approvals.01jd8x7c3k9f2m4q6r8t0v2w58", providers.Recipients{Users: []string{"u1"}})
	noPath, err := New(Config{BaseURL: b.client.cfg.BaseURL, AppKey: e2eKey, AppSecret: e2eSecret, Signature: SignatureWPS4,
		CompanyTokenPath: "/o/woa/oauthapi/v3/inner/company/token", CompanyID: e2eCompany, CompanyUID: "bot-1"}, b.store, nil, WithClock(b.now))
	if err != nil {
		t.Fatal(err)
	}
	card := providers.Content{Kind: providers.KindCard, Body: json.RawMessage(testCard)}
	tests := []struct {
		desc   string
		client *Client
		part   *providers.Part
		reason string
	}{
		{desc: "text part", client: b.client, part: &text[0], reason: "not an updatable card"},
		{desc: "no update_path", client: noPath, part: &cards[0], reason: "update_path is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			res, err := tc.client.Update(context.Background(), &providers.UpdateRequest{Part: tc.part, Users: []string{"u1"}, Content: card})
			if err != nil || len(res.Updated) != 0 || !strings.Contains(res.Unreachable["u1"], tc.reason) {
				t.Fatalf("Update = %+v, %v; want u1 unreachable: %s", res, err, tc.reason)
			}
		})
	}
	if !text[0].NotUpdatable {
		t.Fatal("a text part is not marked NotUpdatable")
	}
	for _, r := range b.sim.Requests() {
		if r.Endpoint == xiezuosim.EndpointUpdate {
			t.Fatalf("an update request left: %+v", r)
		}
	}
}

func TestClientSimUpdateRetryableFailureReturned(t *testing.T) {
	t.Parallel()
	b := setup(t, HeaderStyleWPSDocs)
	parts := b.sendCard(t, "approvals.01jd8x7c3k9f2m4q6r8t0v2w59", providers.Recipients{Users: []string{"u1"}})
	if err := b.sim.Inject(xiezuosim.HTTPStatus(http.StatusBadGateway, 0).On(xiezuosim.EndpointUpdate)); err != nil {
		t.Fatal(err)
	}
	newCard := strings.Replace(testCard, "请审批", "已同意", 1)
	req := &providers.UpdateRequest{Part: &parts[0], Users: []string{"u1"}, Content: providers.Content{Kind: providers.KindCard, Body: json.RawMessage(newCard)}}
	res, err := b.client.Update(context.Background(), req)
	if providers.ClassOf(err) != providers.ClassUnknownOutcome || len(res.Updated)+len(res.Unreachable) != 0 {
		t.Fatalf("Update on 502 = %+v, %v; want an unknown-outcome error and no outcome", res, err)
	}
	if res, err := b.client.Update(context.Background(), req); err != nil || len(res.Updated) != 1 {
		t.Fatalf("repeated Update = %+v, %v; want u1 updated", res, err)
	}
}

func TestClientSimTokenExpiryAbsorbed(t *testing.T) {
	t.Parallel()
	b := setup(t, HeaderStyleWPSDocs)
	b.sendCard(t, "approvals.01jd8x7c3k9f2m4q6r8t0v2w51", providers.Recipients{Users: []string{"u1"}})
	b.sim.ExpireTokens()
	b.sendCard(t, "approvals.01jd8x7c3k9f2m4q6r8t0v2w52", providers.Recipients{Users: []string{"u1"}})
	if n := b.sim.TokenFetches(e2eKey); n != 2 {
		t.Fatalf("token fetches = %d, want 2 (one refresh)", n)
	}
	var expired int
	for _, r := range b.sim.Requests() {
		if r.Result == xiezuosim.CodeTokenExpired {
			expired++
		}
	}
	if expired != 1 || len(b.sim.Deliveries("u1")) != 2 {
		t.Fatalf("expired answers = %d, deliveries = %d; want 1 and 2", expired, len(b.sim.Deliveries("u1")))
	}
}

// TestClientSimTamperedRequestRefused: the simulator verifies the client's
// signature with its own code; one byte changed after signing fails.
func TestClientSimTamperedRequestRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, HeaderStyleWPSDocs)
	tamper := &tamperTransport{}
	b.client.hc = &http.Client{Transport: tamper}
	parts, err := b.client.Prepare(context.Background(), &providers.Message{App: e2eApp, To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindText, Text: "hello"},
		providers.PrepareOptions{MessageID: "approvals.01jd8x7c3k9f2m4q6r8t0v2w53"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := b.client.companyToken(context.Background(), opSend)
	if err != nil {
		t.Fatalf("token fetch (untampered): %v", err)
	}
	tamper.on = true
	_, err = b.client.Send(context.Background(), &parts[0])
	if providers.ClassOf(err) != providers.ClassAppDisabled {
		t.Fatalf("tampered send: %v, want app disabled (bad signature)", err)
	}
	if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), e2eSecret) {
		t.Fatalf("error leaks a secret: %v", err)
	}
	reqs := b.sim.Requests()
	if last := reqs[len(reqs)-1]; last.Result != xiezuosim.CodeBadSignature {
		t.Fatalf("simulator answered %+v, want CodeBadSignature", last)
	}
	if len(b.sim.Deliveries("u1")) != 0 {
		t.Fatal("a tampered request was delivered")
	}
}

// tamperTransport flips one byte of the body of every POST when on.
type tamperTransport struct{ on bool }

func (tt *tamperTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tt.on && r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		body[len(body)/2] ^= 0x01
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestClientSimCallbackVerifiedAndPublishedOnce(t *testing.T) {
	t.Parallel()
	for _, style := range []string{HeaderStyleWPSDocs, HeaderStylePlain} {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			b := setup(t, style)
			id := "approvals.01jd8x7c3k9f2m4q6r8t0v2w54"
			parts := b.sendCard(t, id, providers.Recipients{Users: []string{"u1"}})
			click := xiezuosim.Click{AppKey: e2eKey, CtxID: BodyCtxID(parts[0].Body), User: "u1", Action: "approve", Values: map[string]string{"comment": "ok"}}
			for i := range 2 {
				st, body, err := b.sim.FireClick(context.Background(), click)
				if err != nil || st != http.StatusOK || body != `{"result":"ok"}` {
					t.Fatalf("click %d: %d %q %v, want 200 {\"result\":\"ok\"}", i, st, body, err)
				}
			}
			evs := b.sink.published()
			if len(evs) != 1 {
				t.Fatalf("published %d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.MessageID != id || ev.Part != 0 || ev.Action != "approve" || ev.User != "u1" || ev.Values["comment"] != "ok" || ev.CompanyID != e2eCompany {
				t.Fatalf("event = %+v", ev)
			}
		})
	}
}

func TestClientSimForgedAndStaleCallbacksRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		mutate func(b *testBundle, r *http.Request, body []byte) *http.Request
	}{
		{desc: "forged signature", mutate: func(b *testBundle, r *http.Request, body []byte) *http.Request {
			r.Header.Set(HeaderWPSDocsAuthorization, WPS4Authorization(e2eKey, strings.Repeat("0", 64)))
			return r
		}},
		{desc: "body changed after signing", mutate: func(b *testBundle, r *http.Request, body []byte) *http.Request {
			changed := strings.Replace(string(body), "approve", "reject!", 1)
			r2 := r.Clone(r.Context())
			r2.Body = io.NopCloser(strings.NewReader(changed))
			r2.ContentLength = int64(len(changed))
			return r2
		}},
		{desc: "signed with another secret", mutate: func(b *testBundle, r *http.Request, body []byte) *http.Request {
			Signer{Scheme: SignatureWPS4, AppID: e2eKey, Secret: "other", HeaderStyle: HeaderStyleWPSDocs}.Sign(r, body, b.now())
			return r
		}},
		{desc: "stale date, 6 minutes old", mutate: func(b *testBundle, r *http.Request, body []byte) *http.Request {
			b.clock.Advance(6 * time.Minute)
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, HeaderStyleWPSDocs)
			req, body, err := b.sim.ClickRequest(context.Background(), xiezuosim.Click{AppKey: e2eKey, CtxID: "h0123", User: "u1", Action: "approve"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(tc.mutate(b, req, body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.StatusCode)
			}
			if n := len(b.sink.published()); n != 0 {
				t.Fatalf("published %d events, want 0", n)
			}
		})
	}
}

// TestClientSimLostResponseRetryReusesCtxID: a part whose answer was lost is
// unknown-outcome; sending the same part again re-sends the same ctx_id.
func TestClientSimLostResponseRetryReusesCtxID(t *testing.T) {
	t.Parallel()
	b := setup(t, HeaderStyleWPSDocs)
	id := "approvals.01jd8x7c3k9f2m4q6r8t0v2w55"
	parts, err := b.client.Prepare(context.Background(), &providers.Message{App: e2eApp, To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindCard, Body: json.RawMessage(testCard)},
		providers.PrepareOptions{MessageID: id})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.sim.Inject(xiezuosim.LostResponse().On(xiezuosim.EndpointSend)); err != nil {
		t.Fatal(err)
	}
	_, err = b.client.Send(context.Background(), &parts[0])
	if providers.ClassOf(err) != providers.ClassUnknownOutcome {
		t.Fatalf("lost response: %v, want unknown outcome", err)
	}
	again, err := b.client.Prepare(context.Background(), &providers.Message{App: e2eApp, To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindCard, Body: json.RawMessage(testCard)},
		providers.PrepareOptions{MessageID: id})
	if err != nil || string(again[0].Body) != string(parts[0].Body) {
		t.Fatalf("re-prepared body differs: %v", err)
	}
	if _, err := b.client.Send(context.Background(), &again[0]); err != nil {
		t.Fatalf("retry: %v", err)
	}
	var ctxIDs []string
	for _, r := range b.sim.Requests() {
		if r.Endpoint == xiezuosim.EndpointSend {
			ctxIDs = append(ctxIDs, r.CtxID)
		}
	}
	want := CtxID(id, 0, 0)
	if len(ctxIDs) != 2 || ctxIDs[0] != want || ctxIDs[1] != want {
		t.Fatalf("send ctx_ids = %v, want twice %s", ctxIDs, want)
	}
}

func TestClientSimErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		fault xiezuosim.Fault
		want  providers.Class
	}{
		{desc: "HTTP 502", fault: xiezuosim.HTTPStatus(http.StatusBadGateway, 0), want: providers.ClassUnknownOutcome},
		{desc: "HTTP 429", fault: xiezuosim.HTTPStatus(http.StatusTooManyRequests, 7*time.Second), want: providers.ClassThrottled},
		{desc: "bad signature answer", fault: xiezuosim.Result(xiezuosim.CodeBadSignature), want: providers.ClassAppDisabled},
		{desc: "invalid receiver", fault: xiezuosim.Result(xiezuosim.CodeInvalidRecipient), want: providers.ClassPermanent},
		{desc: "token expired twice", fault: xiezuosim.Result(xiezuosim.CodeTokenExpired).Times(2), want: providers.ClassAppDisabled},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, HeaderStyleWPSDocs)
			parts, err := b.client.Prepare(context.Background(), &providers.Message{App: e2eApp, To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindText, Text: "hi"},
				providers.PrepareOptions{MessageID: "approvals.x1"})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.sim.Inject(tc.fault.On(xiezuosim.EndpointSend)); err != nil {
				t.Fatal(err)
			}
			_, err = b.client.Send(context.Background(), &parts[0])
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Class != tc.want {
				t.Fatalf("Send = %v, want class %s", err, tc.want)
			}
			if tc.want == providers.ClassThrottled && pe.RetryAfter != 7*time.Second {
				t.Fatalf("RetryAfter = %s, want 7s", pe.RetryAfter)
			}
		})
	}
}

func TestClientSimAuditEmptyMessageIDIsSuccess(t *testing.T) {
	t.Parallel()
	sim := xiezuosim.New(xiezuosim.Options{Audit: true})
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	if err := sim.AddApp(xiezuosim.App{Key: "AKpub", Secret: "skpub", Signature: "wps3", CompanyID: "c1"}); err != nil {
		t.Fatal(err)
	}
	sim.AddUsers("c1", "u1")
	c, err := New(Config{BaseURL: base, AppKey: "AKpub", AppSecret: "skpub", CompanyID: "c1", CompanyUID: "bot"}, &memTokenStore{tokens: map[string]string{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := c.Prepare(context.Background(), &providers.Message{App: "pub", To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindMarkdown, Text: "**hi**"}, providers.PrepareOptions{MessageID: "pub.x"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.SendPart(context.Background(), &parts[0])
	if err != nil || r.MessageID != "" || r.CtxID != CtxID("pub.x", 0, 0) {
		t.Fatalf("SendPart under audit (WPS-3, public paths) = %+v, %v", r, err)
	}
	if len(sim.Deliveries("u1")) != 1 {
		t.Fatal("not delivered")
	}
}
