package wps365sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/simkit"
)

// Endpoint names, as used by [Fault.On] and [Request.Endpoint].
const (
	EndpointToken       = "oauth2/token"
	EndpointCreate      = "messages/create"
	EndpointBatchCreate = "messages/batch_create"
	EndpointUpdate      = "messages/update"
	EndpointRecall      = "messages/recall"
	EndpointReply       = "messages/reply"
)

// Codes the simulator answers with. Only 400000002 with "invalid
// open_v7_message_type" and the text "msg not updatable" are observed from
// WPS (the WPS open-platform documentation); the other numbers follow the
// "<HTTP status><6 digits>" pattern of §5 and are this simulator's choice.
const (
	CodeInvalidParam     = 400000002 // bad body, bad type, limit exceeded (observed)
	CodeNotUpdatable     = 400000010 // "msg not updatable" (text observed, number assumed)
	CodeRecallExpired    = 400000011 // recall window passed (only with Options.RecallWindow)
	CodeInvalidReceiver  = 400000012 // receiver outside the app's visible range, bot not in chat
	CodeTokenInvalid     = 401000001 // bearer token missing, unknown or expired
	CodeSignatureInvalid = 401000002 // KSO-1 missing, stale or wrong
	CodeNotFound         = 404000001 // message or chat unknown
	CodeRateLimited      = 429000001 // fault injection only
	CodeInternal         = 500000001 // fault injection only
)

// Defaults of [Options].
const (
	// DefaultTokenTTL is the lifetime of an access_token on the public cloud
	// (7200 s; a private deployment uses 86400 s).
	DefaultTokenTTL = 7200 * time.Second
	// DefaultMaxDateSkew is how far X-Kso-Date may be from the simulator's
	// clock (WPS documents none; an assumption).
	DefaultMaxDateSkew = 15 * time.Minute
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 2 << 20
)

// Options configure a [Sim]. The zero value is the public cloud on the wall
// clock, with KSO-1 required.
type Options struct {
	// Clock is the simulator's now: token expiry, date checks, recall window,
	// callback dates. Default time.Now; use a [ManualClock] in tests.
	Clock func() time.Time
	// TokenTTL is the lifetime of an access_token. Default DefaultTokenTTL.
	TokenTTL time.Duration
	// PathPrefix is an unsigned gateway prefix every path is served under
	// ("/openapi" for a private deployment). Default "".
	PathPrefix string
	// SigningOptional accepts v7 calls without KSO-1 headers (接口签名 off in
	// the console); headers that are present are still verified. Default
	// false: KSO-1 required.
	SigningOptional bool
	// MaxDateSkew bounds X-Kso-Date against Clock. Default DefaultMaxDateSkew.
	MaxDateSkew time.Duration
	// RecallWindow, when > 0, is how old a message may be and still be
	// recalled (none is documented). Default 0: no limit.
	RecallWindow time.Duration
	// Seed seeds message ids and tokens and, from a source of their own,
	// the fault rates ([Sim.SetFaults]). Default 0.
	Seed int64
	// PerRecipientLimits, when set, turn on the receipt-time quota audit:
	// every delivery of an app's message to a user (create, batch_create,
	// reply; chat members each) is counted per (app id, user) in exact
	// sliding windows at the simulator's clock when the request is handled
	// (after injected latency), and one that makes a window hold more than
	// its Count is a violation ([Sim.Violations], [Sim.AuditPeaks]). WPS
	// documents no limit; the audit checks the ones the dispatcher is
	// configured with. Default none: no audit. [New] panics if a limit's
	// Count or Window is ≤ 0.
	PerRecipientLimits []Limit
	// DropOverLimit makes a delivery over a PerRecipientLimits window vanish
	// silently (the call still succeeds; [Sim.Drops]): the failure mode the
	// audit guards against. Default false: it is delivered and recorded.
	DropOverLimit bool
	// CallbackClient sends callbacks (Fire…). Default: a 10 s timeout client.
	CallbackClient *http.Client
}

// Sim is a simulated WPS 365 v7 open API: POST /oauth2/token,
// /v7/messages/create, /v7/messages/batch_create,
// /v7/messages/{id}/update, /v7/messages/{id}/recall and
// /v7/chats/{chat_id}/messages/{message_id}/reply, under Options.PathPrefix.
// It is an http.Handler; [Sim.Start] serves it on a real listener. All
// methods are safe for concurrent use. See doc.go for what it models.
type Sim struct {
	opts  Options
	clock func() time.Time
	mux   *http.ServeMux

	mu       sync.Mutex
	ids      *rand.Rand
	apps     map[string]*app
	tokens   map[string]*token
	users    map[string]bool
	depts    map[string][]string
	chats    map[string]*chat
	partners map[string]map[string]bool // partner id → user ids
	msgs     map[string]*message
	order    []string // message ids in send order
	faults   []*Fault
	rates    FaultRates
	faultRNG *rand.Rand // draws of rates
	audit    *simkit.Audit
	down     bool
	reqs     []Request
	changed  simkit.Signal

	srv *http.Server
	ln  net.Listener
}

type app struct {
	id, secret, company string
	fetches             int
}

type token struct {
	value   string
	appID   string
	expires time.Time
}

type chat struct {
	members []string
	botIn   bool
}

// New returns a simulator with no apps; add them with [Sim.AddApp] and the
// directory with [Sim.AddUsers], [Sim.AddDept], [Sim.AddChat],
// [Sim.AddPartnerUser]. It panics if Options.PerRecipientLimits holds a
// limit with Count or Window ≤ 0.
func New(opts Options) *Sim {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.MaxDateSkew <= 0 {
		opts.MaxDateSkew = DefaultMaxDateSkew
	}
	opts.PathPrefix = strings.TrimRight(opts.PathPrefix, "/")
	if opts.CallbackClient == nil {
		opts.CallbackClient = &http.Client{Timeout: 10 * time.Second}
	}
	audit, err := simkit.NewAudit(opts.DropOverLimit, opts.PerRecipientLimits...)
	if err != nil {
		panic(fmt.Sprintf("wps365sim: Options.PerRecipientLimits: %v", err))
	}
	s := &Sim{
		opts: opts, clock: opts.Clock, audit: audit,
		ids:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed)),
		faultRNG: rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15)),
		apps:     map[string]*app{}, tokens: map[string]*token{}, users: map[string]bool{},
		depts: map[string][]string{}, chats: map[string]*chat{}, partners: map[string]map[string]bool{},
		msgs: map[string]*message{},
	}
	p := opts.PathPrefix
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+p+"/oauth2/token", s.serve(EndpointToken, false, s.handleToken))
	s.mux.HandleFunc("POST "+p+"/v7/messages/create", s.serve(EndpointCreate, true, s.handleCreate))
	s.mux.HandleFunc("POST "+p+"/v7/messages/batch_create", s.serve(EndpointBatchCreate, true, s.handleBatch))
	s.mux.HandleFunc("POST "+p+"/v7/messages/{id}/update", s.serve(EndpointUpdate, true, s.handleUpdate))
	s.mux.HandleFunc("POST "+p+"/v7/messages/{id}/recall", s.serve(EndpointRecall, true, s.handleRecall))
	s.mux.HandleFunc("POST "+p+"/v7/chats/{chat}/messages/{id}/reply", s.serve(EndpointReply, true, s.handleReply))
	return s
}

// AddApp registers an app (APPID, APPKEY) of company companyID.
func (s *Sim) AddApp(appID, secret, companyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[appID] = &app{id: appID, secret: secret, company: companyID}
}

// AddUsers adds users to the apps' visible range.
func (s *Sim) AddUsers(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.users[id] = true
	}
}

// AddDept adds a department of members (added to the visible range too).
func (s *Sim) AddDept(dept string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.depts[dept] = append(s.depts[dept], members...)
	for _, m := range members {
		s.users[m] = true
	}
}

// AddChat adds a group chat of members; botIn says whether the app's bot
// is in it (it must be to post or reply there).
func (s *Sim) AddChat(chatID string, botIn bool, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chats[chatID] = &chat{members: append([]string{}, members...), botIn: botIn}
}

// AddPartnerUser adds a user of associated organisation partnerID.
func (s *Sim) AddPartnerUser(partnerID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.partners[partnerID] == nil {
		s.partners[partnerID] = map[string]bool{}
	}
	s.partners[partnerID][userID] = true
}

// Start serves the simulator on addr ("127.0.0.1:0" for a free port) and
// returns its base URL (without the path prefix).
func (s *Sim) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the server started by Start.
func (s *Sim) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// ServeHTTP serves the API.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// reply is a handler's answer.
type reply struct {
	status int
	body   any
}

func ok(data any) reply {
	return reply{status: http.StatusOK, body: map[string]any{"code": 0, "msg": "success", "data": data}}
}

func fail(status, code int, msg string) reply {
	return reply{status: status, body: map[string]any{"code": code, "msg": msg}}
}

// call is one authenticated request, as handlers see it.
type call struct {
	r    *http.Request
	body []byte
	app  *app
	now  time.Time
}

// serve wraps a handler: outage, faults, bearer token and KSO-1 checks,
// recording, lost responses.
func (s *Sim) serve(endpoint string, business bool, h func(*call) reply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		rec := Request{Endpoint: endpoint, Path: r.URL.Path, At: s.clock()}
		if business {
			rec.Body = append([]byte{}, body...)
		}
		var rep reply
		s.mu.Lock()
		down := s.down
		f := s.pickFaultLocked(endpoint)
		if f == nil && !down {
			f = s.drawFaultLocked(endpoint)
		}
		s.mu.Unlock()
		if f != nil && f.Latency > 0 {
			select {
			case <-time.After(f.Latency):
			case <-r.Context().Done():
			}
		}
		switch {
		case down:
			rep = fail(http.StatusServiceUnavailable, CodeInternal, "service unavailable")
		case err != nil || len(body) > MaxBodyBytes:
			rep = fail(http.StatusBadRequest, CodeInvalidParam, "body unreadable or too large")
		case f != nil && f.HTTPStatus != 0:
			rep = fail(f.HTTPStatus, f.Code, f.Msg)
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", itoa(int(f.RetryAfter/time.Second)))
			}
		case f != nil && f.Code != 0:
			rep = fail(http.StatusOK, f.Code, f.Msg)
		default:
			c := &call{r: r, body: body, now: s.clock()}
			s.mu.Lock()
			if business {
				rep = s.authLocked(c)
			}
			if rep.status == 0 {
				rep = h(c)
			}
			s.mu.Unlock()
		}
		rec.Status = rep.status
		if m, okm := rep.body.(map[string]any); okm {
			rec.Code, _ = m["code"].(int)
			rec.Msg, _ = m["msg"].(string)
		}
		switch {
		case down:
			rec.Fault = "down"
		case f != nil:
			rec.Fault = f.String()
		}
		rec.Lost = f != nil && f.Lost
		s.record(rec)
		if rec.Lost {
			if hj, okh := w.(http.Hijacker); okh {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
		}
		b, _ := json.Marshal(rep.body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		_, _ = w.Write(b)
	}
}

// authLocked checks the bearer token and the KSO-1 signature of a v7 call.
func (s *Sim) authLocked(c *call) reply {
	bearer, found := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	tok := s.tokens[bearer]
	switch {
	case !found || tok == nil:
		return fail(http.StatusUnauthorized, CodeTokenInvalid, "invalid access_token")
	case !c.now.Before(tok.expires):
		return fail(http.StatusUnauthorized, CodeTokenInvalid, "access_token expired")
	}
	c.app = s.apps[tok.appID]
	if s.opts.SigningOptional && c.r.Header.Get("X-Kso-Authorization") == "" && c.r.Header.Get("X-Kso-Date") == "" {
		return reply{}
	}
	uri := strings.TrimPrefix(c.r.URL.RequestURI(), s.opts.PathPrefix)
	if why := checkKSO1(c.r, uri, c.body, c.app.id, c.app.secret, c.now, s.opts.MaxDateSkew); why != "" {
		return fail(http.StatusUnauthorized, CodeSignatureInvalid, why)
	}
	return reply{}
}

// handleToken serves POST /oauth2/token (client_credentials). Handlers
// run with s.mu held.
func (s *Sim) handleToken(c *call) reply {
	if !strings.HasPrefix(c.r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return fail(http.StatusBadRequest, CodeInvalidParam, "content type must be application/x-www-form-urlencoded")
	}
	form, err := url.ParseQuery(string(c.body))
	if err != nil || form.Get("grant_type") != "client_credentials" {
		return fail(http.StatusBadRequest, CodeInvalidParam, "unsupported grant_type")
	}
	a := s.apps[form.Get("client_id")]
	if a == nil || a.secret != form.Get("client_secret") {
		return fail(http.StatusBadRequest, 400000001, "invalid client")
	}
	a.fetches++
	t := &token{value: "wps365sim-tok-" + s.randHexLocked(16), appID: a.id, expires: c.now.Add(s.opts.TokenTTL)}
	s.tokens[t.value] = t
	return reply{status: http.StatusOK, body: map[string]any{
		"access_token": t.value, "expires_in": int(s.opts.TokenTTL / time.Second), "token_type": "bearer",
	}}
}

// ExpireTokens makes every issued token expired now.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	for _, t := range s.tokens {
		t.expires = now
	}
}

// TokenFetches is how many tokens appID has obtained.
func (s *Sim) TokenFetches(appID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apps[appID]; a != nil {
		return a.fetches
	}
	return 0
}

// SetDown starts (true) or ends an outage: every request is answered HTTP
// 503 without being applied.
func (s *Sim) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *Sim) randHexLocked(n int) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hexd[s.ids.IntN(16)]
	}
	return string(b)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
