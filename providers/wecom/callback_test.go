package wecom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom/msgcrypt"
)

// WeCom's published sample callback credentials (WeCom's API documentation, issue 4).
const (
	cbToken  = "QDG6eK"
	cbAESKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	cbCorp   = "wx5823bf96d3bd56c7"
)

// fakeAuthQueue records the jobs enqueued.
type fakeAuthQueue struct {
	mu    sync.Mutex
	jobs  []AuthJob
	block bool // block until the context ends
}

func (q *fakeAuthQueue) EnqueueAuth(ctx context.Context, j AuthJob) error {
	if q.block {
		<-ctx.Done()
		return ctx.Err()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, j)
	return nil
}

func (q *fakeAuthQueue) got() []AuthJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]AuthJob(nil), q.jobs...)
}

// fakeSink keeps codes and events in memory; PublishOnce dedupes by key.
type fakeSink struct {
	mu     sync.Mutex
	codes  map[string]string // tenant/task/user → code
	ttls   map[string]time.Duration
	seen   map[string]bool
	events []CallbackEvent
	err    error
}

func newFakeSink() *fakeSink {
	return &fakeSink{codes: map[string]string{}, ttls: map[string]time.Duration{}, seen: map[string]bool{}}
}

func (s *fakeSink) PutResponseCode(ctx context.Context, tenant, taskID, user, code string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	k := tenant + "/" + taskID + "/" + user
	s.codes[k], s.ttls[k] = code, ttl
	return nil
}

func (s *fakeSink) PublishOnce(ctx context.Context, key string, ttl time.Duration, ev *CallbackEvent) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if s.seen[key] {
		return false, nil
	}
	s.seen[key] = true
	s.events = append(s.events, *ev)
	return true, nil
}

func (s *fakeSink) published() []CallbackEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CallbackEvent(nil), s.events...)
}

// cbBundle is a callback handler of a multi-tenant (or self-built) app with
// fake stores, a fixed clock and a log captured in logs.
type cbBundle struct {
	t       *testing.T
	h       *CallbackHandler
	cr      *msgcrypt.Crypto
	now     time.Time
	tenants *fakeTenants
	tickets *fakeTickets
	auth    *fakeAuthQueue
	sink    *fakeSink
	logs    *syncBuffer
	// lastEnc is the Encrypt text of the last post, for mutations that re-sign.
	lastEnc string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setupCallback(t *testing.T, mode string, opts ...func(*CallbackOptions)) *cbBundle {
	t.Helper()
	b := &cbBundle{
		t: t, now: time.Unix(1767225600, 0),
		tenants: newFakeTenants(activeTenant()), tickets: &fakeTickets{}, auth: &fakeAuthQueue{}, sink: newFakeSink(),
		logs: &syncBuffer{},
	}
	cfg := Config{Mode: mode, SuiteID: testSuiteID, ProviderCorpID: "wwprovider", CallbackToken: cbToken, EncodingAESKey: cbAESKey}
	if mode == ModeSelfBuilt {
		cfg = Config{Mode: mode, CorpID: cbCorp, AgentID: 1000002, CallbackToken: cbToken, EncodingAESKey: cbAESKey}
	}
	o := CallbackOptions{
		App: "crm", Config: cfg, Tenants: b.tenants, Tickets: b.tickets, Auth: b.auth, Sink: b.sink,
		Now: func() time.Time { return b.now }, Logger: slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range opts {
		f(&o)
	}
	h, err := NewCallbackHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	b.h = h
	b.cr, err = msgcrypt.New(cbToken, cbAESKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedQuery signs enc for a request sent at ts with nonce.
func (b *cbBundle) signedQuery(enc string, ts time.Time, nonce string) url.Values {
	tss := strconv.FormatInt(ts.Unix(), 10)
	return url.Values{"msg_signature": {b.cr.Signature(tss, nonce, enc)}, "timestamp": {tss}, "nonce": {nonce}}
}

// post sends msg sealed for receiveID, signed at b.now with nonce, after
// mutate (if any) changed the query.
func (b *cbBundle) post(msg, receiveID, nonce string, mutate func(url.Values)) *httptest.ResponseRecorder {
	b.t.Helper()
	enc, err := b.cr.Seal([]byte(msg), receiveID)
	if err != nil {
		b.t.Fatal(err)
	}
	q := b.signedQuery(enc, b.now, nonce)
	b.lastEnc = enc
	if mutate != nil {
		mutate(q)
	}
	body := "<xml><ToUserName><![CDATA[" + receiveID + "]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
	req := httptest.NewRequest(http.MethodPost, "/callbacks/wecom/crm?"+q.Encode(), strings.NewReader(body))
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, req)
	return w
}

func instructionXML(infoType string, fields ...string) string {
	s := "<xml><SuiteId><![CDATA[" + testSuiteID + "]]></SuiteId><InfoType><![CDATA[" + infoType + "]]></InfoType><TimeStamp>1767225590</TimeStamp>"
	for i := 0; i+1 < len(fields); i += 2 {
		s += "<" + fields[i] + "><![CDATA[" + fields[i+1] + "]]></" + fields[i] + ">"
	}
	return s + "</xml>"
}

func clickXML(corp, user, createTime, event string) string {
	return "<xml><ToUserName><![CDATA[" + corp + "]]></ToUserName><FromUserName><![CDATA[" + user + "]]></FromUserName>" +
		"<CreateTime>" + createTime + "</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[" + event + "]]></Event>" +
		"<EventKey><![CDATA[approve]]></EventKey><TaskId><![CDATA[task-7]]></TaskId><CardType><![CDATA[vote_interaction]]></CardType>" +
		"<ResponseCode><![CDATA[resp-c0de-DO-NOT-LOG]]></ResponseCode><AgentID>1000017</AgentID>" +
		"<SelectedItems><SelectedItem><QuestionKey><![CDATA[q1]]></QuestionKey><OptionIds><OptionId><![CDATA[o1]]></OptionId><OptionId><![CDATA[o2]]></OptionId></OptionIds></SelectedItem></SelectedItems></xml>"
}

// cbSecrets must never be logged.
var cbSecrets = []string{cbToken, cbAESKey, testTicket, testAuthCode, "resp-c0de-DO-NOT-LOG"}

func (b *cbBundle) assertLogsClean() {
	b.t.Helper()
	logs := b.logs.String()
	for _, s := range cbSecrets {
		if strings.Contains(logs, s) {
			b.t.Errorf("logs hold %q:\n%s", s, logs)
		}
	}
}

// URL verification answers the decrypted echostr, as plain text and at once,
// for the receive ids this URL serves; anything else is refused.
func TestCallbackURLVerification(t *testing.T) {
	t.Parallel()
	const echo = "1616140317555161061"
	tests := []struct {
		desc       string
		mode       string
		receiveID  string
		mutate     func(b *cbBundle, q url.Values)
		wantStatus int
	}{
		{desc: "suite id", mode: ModeThirdParty, receiveID: testSuiteID, wantStatus: 200},
		{desc: "provider corp id", mode: ModeThirdParty, receiveID: "wwprovider", wantStatus: 200},
		{desc: "known tenant", mode: ModeThirdParty, receiveID: testTenant, wantStatus: 200},
		{desc: "self-built corp id", mode: ModeSelfBuilt, receiveID: cbCorp, wantStatus: 200},
		{desc: "unknown receive id", mode: ModeThirdParty, receiveID: "wwsomeoneelse", wantStatus: 403},
		{desc: "another corp's verification on a self-built app", mode: ModeSelfBuilt, receiveID: testSuiteID, wantStatus: 403},
		{desc: "tampered signature", mode: ModeThirdParty, receiveID: testSuiteID, wantStatus: 403,
			mutate: func(b *cbBundle, q url.Values) { q.Set("msg_signature", strings.Repeat("0", 40)) }},
		{desc: "stale timestamp", mode: ModeThirdParty, receiveID: testSuiteID, wantStatus: 403,
			mutate: func(b *cbBundle, q url.Values) {
				old := b.signedQuery(q.Get("echostr"), b.now.Add(-6*time.Minute), q.Get("nonce"))
				q.Set("timestamp", old.Get("timestamp"))
				q.Set("msg_signature", old.Get("msg_signature"))
			}},
		{desc: "no echostr", mode: ModeThirdParty, receiveID: testSuiteID, wantStatus: 400,
			mutate: func(b *cbBundle, q url.Values) { q.Del("echostr") }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupCallback(t, tt.mode)
			enc, err := b.cr.Seal([]byte(echo), tt.receiveID)
			if err != nil {
				t.Fatal(err)
			}
			q := b.signedQuery(enc, b.now, "263014780")
			q.Set("echostr", enc)
			if tt.mutate != nil {
				tt.mutate(b, q)
			}
			w := httptest.NewRecorder()
			b.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/callbacks/wecom/crm?"+q.Encode(), nil))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tt.wantStatus)
			}
			if tt.wantStatus == 200 && w.Body.String() != echo {
				t.Errorf("answer %q, want exactly %q", w.Body, echo)
			}
			if tt.wantStatus != 200 && strings.Contains(w.Body.String(), echo) {
				t.Errorf("refusal shows the echo: %q", w.Body)
			}
		})
	}
}

// Instruction callbacks are answered "success" and do their (quick) part.
func TestCallbackInstructions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		msg   string
		check func(t *testing.T, b *cbBundle)
	}{
		{
			desc: "suite_ticket is stored",
			msg:  instructionXML(InfoSuiteTicket, "SuiteTicket", testTicket),
			check: func(t *testing.T, b *cbBundle) {
				if latest, _, _ := b.tickets.Tickets(context.Background(), testSuiteID); latest != testTicket {
					t.Errorf("ticket %q", latest)
				}
			},
		},
		{
			desc: "create_auth is queued with its auth code and time",
			msg:  instructionXML(InfoCreateAuth, "AuthCode", testAuthCode, "State", ""),
			check: func(t *testing.T, b *cbBundle) {
				want := []AuthJob{{InfoType: InfoCreateAuth, AuthCode: testAuthCode, At: time.Unix(1767225590, 0)}}
				if got := b.auth.got(); len(got) != 1 || got[0] != want[0] {
					t.Errorf("jobs %v, want %v", got, want)
				}
			},
		},
		{
			desc: "reset_permanent_code is queued",
			msg:  instructionXML(InfoResetPermanentCode, "AuthCode", testAuthCode, "AuthCorpId", testTenant),
			check: func(t *testing.T, b *cbBundle) {
				if got := b.auth.got(); len(got) != 1 || got[0].InfoType != InfoResetPermanentCode || got[0].AuthCode != testAuthCode || got[0].AuthCorpID != testTenant {
					t.Errorf("jobs %v", got)
				}
			},
		},
		{
			desc: "change_auth is queued",
			msg:  instructionXML(InfoChangeAuth, "AuthCorpId", testTenant),
			check: func(t *testing.T, b *cbBundle) {
				if got := b.auth.got(); len(got) != 1 || got[0].InfoType != InfoChangeAuth || got[0].AuthCorpID != testTenant {
					t.Errorf("jobs %v", got)
				}
			},
		},
		{
			desc: "cancel_auth disables the tenant at once",
			msg:  instructionXML(InfoCancelAuth, "AuthCorpId", testTenant),
			check: func(t *testing.T, b *cbBundle) {
				tn, _ := b.tenants.get(testTenant)
				if !tn.Disabled || !strings.Contains(tn.DisabledReason, "cancel_auth") {
					t.Errorf("tenant %+v, want disabled by cancel_auth", tn)
				}
				if len(b.auth.got()) != 0 {
					t.Error("cancel_auth queued a job")
				}
			},
		},
		{
			desc: "other InfoTypes are acknowledged",
			msg:  instructionXML("change_contact", "AuthCorpId", testTenant),
			check: func(t *testing.T, b *cbBundle) {
				if len(b.auth.got()) != 0 || len(b.tenants.disabled) != 0 || len(b.tickets.puts) != 0 {
					t.Error("change_contact did something")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupCallback(t, ModeThirdParty)
			w := b.post(tt.msg, testSuiteID, "n1", nil)
			if w.Code != 200 || w.Body.String() != "success" {
				t.Fatalf("answer %d %q, want 200 \"success\"", w.Code, w.Body)
			}
			tt.check(t, b)
			b.assertLogsClean()
		})
	}
}

// Forged, stale, misdirected and malformed callbacks are refused without
// touching any state.
func TestCallbackRefusals(t *testing.T) {
	t.Parallel()
	ticket := instructionXML(InfoSuiteTicket, "SuiteTicket", testTicket)
	tests := []struct {
		desc       string
		mode       string
		msg        string
		receiveID  string
		mutate     func(b *cbBundle, q url.Values)
		body       string // replaces the body when set
		method     string
		wantStatus int
	}{
		{desc: "tampered signature", msg: ticket, receiveID: testSuiteID, wantStatus: 403,
			mutate: func(b *cbBundle, q url.Values) {
				sig := []byte(q.Get("msg_signature"))
				sig[0] ^= 1
				q.Set("msg_signature", string(sig))
			}},
		{desc: "signature of another nonce", msg: ticket, receiveID: testSuiteID, wantStatus: 403,
			mutate: func(b *cbBundle, q url.Values) { q.Set("nonce", "other") }},
		{desc: "timestamp older than 5 minutes", msg: ticket, receiveID: testSuiteID, wantStatus: 403,
			mutate: func(b *cbBundle, q url.Values) { b.resign(q, b.now.Add(-5*time.Minute-time.Second)) }},
		{desc: "timestamp far in the future", msg: ticket, receiveID: testSuiteID, wantStatus: 403,
			mutate: func(b *cbBundle, q url.Values) { b.resign(q, b.now.Add(10*time.Minute)) }},
		{desc: "instruction sealed for a tenant", msg: ticket, receiveID: testTenant, wantStatus: 403},
		{desc: "instruction of another suite", msg: strings.Replace(ticket, testSuiteID, "wwother", 1), receiveID: testSuiteID, wantStatus: 403},
		{desc: "instruction on a self-built app", mode: ModeSelfBuilt, msg: ticket, receiveID: cbCorp, wantStatus: 403},
		{desc: "click of an unknown tenant", msg: clickXML("wpNobody", "wmU", "1767225599", EventTemplateCard), receiveID: "wpNobody", wantStatus: 403},
		{desc: "click sealed for another corp", msg: clickXML(testTenant, "wmU", "1767225599", EventTemplateCard), receiveID: "wpOther", wantStatus: 403},
		{desc: "not an envelope", msg: ticket, receiveID: testSuiteID, body: "not xml", wantStatus: 400},
		{desc: "neither instruction nor data", msg: "<xml><Foo>1</Foo></xml>", receiveID: testSuiteID, wantStatus: 400},
		{desc: "suite_ticket without ticket", msg: instructionXML(InfoSuiteTicket), receiveID: testSuiteID, wantStatus: 400},
		{desc: "PUT", msg: ticket, receiveID: testSuiteID, method: http.MethodPut, wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			mode := tt.mode
			if mode == "" {
				mode = ModeThirdParty
			}
			b := setupCallback(t, mode)
			var w *httptest.ResponseRecorder
			switch {
			case tt.method != "":
				w = httptest.NewRecorder()
				b.h.ServeHTTP(w, httptest.NewRequest(tt.method, "/callbacks/wecom/crm", nil))
			case tt.body != "":
				enc, _ := b.cr.Seal([]byte(tt.msg), tt.receiveID)
				q := b.signedQuery(enc, b.now, "n")
				w = httptest.NewRecorder()
				b.h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/callbacks/wecom/crm?"+q.Encode(), strings.NewReader(tt.body)))
			default:
				w = b.post(tt.msg, tt.receiveID, "n1", func(q url.Values) {
					if tt.mutate != nil {
						tt.mutate(b, q)
					}
				})
			}
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d (%q), want %d", w.Code, w.Body, tt.wantStatus)
			}
			if strings.Contains(w.Body.String(), "success") {
				t.Errorf("refusal answered %q", w.Body)
			}
			if len(b.tickets.puts)+len(b.auth.got())+len(b.tenants.disabled)+len(b.sink.published()) != 0 {
				t.Error("a refused callback changed state")
			}
			b.assertLogsClean()
		})
	}
}

// resign replaces the request's timestamp with ts and signs it again (the
// request stays authentic; only its age changes).
func (b *cbBundle) resign(q url.Values, ts time.Time) {
	b.t.Helper()
	n := b.signedQuery(b.lastEnc, ts, q.Get("nonce"))
	q.Set("timestamp", n.Get("timestamp"))
	q.Set("msg_signature", n.Get("msg_signature"))
}

// A card click stores its ResponseCode per (tenant, task_id, user) for 72 h
// and publishes the click once, however often WeCom repeats the callback
// (re-signed or not).
func TestCallbackCardClick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		mode       string
		corp       string
		user       string
		event      string
		wantTenant string
		wantUser   string // as keyed
		wantType   string
	}{
		{desc: "third-party button", mode: ModeThirdParty, corp: testTenant, user: "wmUserAbC", event: EventTemplateCard,
			wantTenant: testTenant, wantUser: "wmUserAbC", wantType: EventTypeCardClick},
		{desc: "third-party menu", mode: ModeThirdParty, corp: testTenant, user: "wmUserAbC", event: EventTemplateCardMenu,
			wantTenant: testTenant, wantUser: "wmUserAbC", wantType: EventTypeCardMenuClick},
		{desc: "self-built ids are lower-cased for keys", mode: ModeSelfBuilt, corp: cbCorp, user: "ZhangSan", event: EventTemplateCard,
			wantUser: "zhangsan", wantType: EventTypeCardClick},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupCallback(t, tt.mode)
			msg := clickXML(tt.corp, tt.user, "1767225599", tt.event)
			for i, nonce := range []string{"n1", "n1", "n2"} { // a repeat, then a re-signed repeat
				if w := b.post(msg, tt.corp, nonce, nil); w.Code != 200 || w.Body.Len() != 0 {
					t.Fatalf("delivery %d answered %d %q, want 200 and an empty body", i, w.Code, w.Body)
				}
			}
			key := tt.wantTenant + "/task-7/" + tt.wantUser
			if got := b.sink.codes[key]; got != "resp-c0de-DO-NOT-LOG" {
				t.Errorf("response code under %s = %q (codes %v)", key, got, b.sink.codes)
			}
			if ttl := b.sink.ttls[key]; ttl != 72*time.Hour {
				t.Errorf("response code TTL %v", ttl)
			}
			evs := b.sink.published()
			if len(evs) != 1 {
				t.Fatalf("%d events, want 1: %+v", len(evs), evs)
			}
			ev := evs[0]
			if ev.Type != tt.wantType || ev.Tenant != tt.wantTenant || ev.User != tt.user || ev.TaskID != "task-7" || ev.EventKey != "approve" ||
				ev.AgentID != 1000017 || !ev.At.Equal(time.Unix(1767225599, 0)) || !strings.HasPrefix(ev.ID, "wecom-cb-") {
				t.Errorf("event %+v", ev)
			}
			if len(ev.Selected) != 1 || ev.Selected[0].QuestionKey != "q1" || fmt.Sprint(ev.Selected[0].OptionIDs) != "[o1 o2]" {
				t.Errorf("selected %+v", ev.Selected)
			}
			// A later click by the same user is a new event.
			if w := b.post(clickXML(tt.corp, tt.user, "1767225600", tt.event), tt.corp, "n3", nil); w.Code != 200 {
				t.Fatalf("second click answered %d", w.Code)
			}
			if n := len(b.sink.published()); n != 2 {
				t.Errorf("%d events after a second click, want 2", n)
			}
			b.assertLogsClean()
		})
	}
}

// Failing to store answers 500, so that WeCom repeats the callback; the work
// is bounded by the handler's timeout, well inside WeCom's limit.
func TestCallbackStoreFailures(t *testing.T) {
	t.Parallel()
	t.Run("sink down", func(t *testing.T) {
		t.Parallel()
		b := setupCallback(t, ModeThirdParty)
		b.sink.err = errors.New("redis: connection refused")
		if w := b.post(clickXML(testTenant, "wmU", "1767225599", EventTemplateCard), testTenant, "n", nil); w.Code != 500 {
			t.Errorf("status %d, want 500", w.Code)
		}
	})
	t.Run("queue stuck", func(t *testing.T) {
		t.Parallel()
		b := setupCallback(t, ModeThirdParty, func(o *CallbackOptions) { o.Timeout = 50 * time.Millisecond })
		b.auth.block = true
		start := time.Now()
		w := b.post(instructionXML(InfoCreateAuth, "AuthCode", testAuthCode), testSuiteID, "n", nil)
		if w.Code != 500 {
			t.Errorf("status %d, want 500", w.Code)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("answered after %v, want within the 50ms timeout (WeCom allows 1s)", d)
		}
		b.assertLogsClean()
	})
}

func TestNewCallbackHandlerChecksOptions(t *testing.T) {
	t.Parallel()
	full := CallbackOptions{App: "crm", Config: Config{Mode: ModeThirdParty, SuiteID: testSuiteID, CallbackToken: cbToken, EncodingAESKey: cbAESKey},
		Tenants: newFakeTenants(), Tickets: &fakeTickets{}, Auth: &fakeAuthQueue{}, Sink: newFakeSink()}
	tests := []struct {
		desc   string
		change func(o *CallbackOptions)
		want   string
	}{
		{desc: "no app", change: func(o *CallbackOptions) { o.App = "" }, want: "App is required"},
		{desc: "no callback token", change: func(o *CallbackOptions) { o.Config.CallbackToken = "" }, want: "callback_token and encoding_aes_key are required"},
		{desc: "no sink", change: func(o *CallbackOptions) { o.Sink = nil }, want: "Sink is required"},
		{desc: "no auth queue", change: func(o *CallbackOptions) { o.Auth = nil }, want: "Tenants, Tickets and Auth are required"},
		{desc: "bad aes key", change: func(o *CallbackOptions) { o.Config.EncodingAESKey = "short" }, want: "EncodingAESKey must be 43 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			o := full
			tt.change(&o)
			_, err := NewCallbackHandler(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewCallbackHandler = %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), cbAESKey) {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
}
