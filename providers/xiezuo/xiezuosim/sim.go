package xiezuosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/simkit"
)

// Endpoint names, as used by [Fault.Endpoint] and [Request.Endpoint].
const (
	EndpointToken  = "company_token"
	EndpointSend   = "send"
	EndpointUpdate = "update"
)

// Path suffixes the simulator routes by. The send path is documented (both
// /kopen/woa/v2/dev/app/messages and /o/woa/api/v2/developer/app/messages end
// with it); the token suffix matches the public /oauthapi/v3/inner/company/token
// and a private deployment's equivalent; the update suffix is an assumption
// (no document gives the v2 update endpoint).
const (
	SuffixToken  = "/company/token"
	SuffixSend   = "/app/messages"
	SuffixUpdate = "/app/messages/update"
)

// Defaults of [Options].
const (
	// DefaultTokenTTL is the lifetime of a company_token (an assumption: not documented).
	DefaultTokenTTL = 2 * time.Hour
	// DefaultMaxSkew is how far a request's signed date may be from the
	// simulator's clock (an assumption: not documented).
	DefaultMaxSkew = 15 * time.Minute
	// DefaultUpdateMethod is the method the update endpoint takes.
	DefaultUpdateMethod = http.MethodPost
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 1 << 20
)

// Options configure a [Sim].
type Options struct {
	// Clock is the simulator's now (token expiry, date checks, callback
	// dates). Default time.Now; use a [ManualClock] in tests.
	Clock func() time.Time
	// TokenTTL is the lifetime of a company_token. Default DefaultTokenTTL.
	TokenTTL time.Duration
	// OmitExpiresIn leaves expires_in out of token answers (some deployments).
	OmitExpiresIn bool
	// MaxSkew is the accepted distance of a signed date. Default DefaultMaxSkew.
	MaxSkew time.Duration
	// UpdateMethod is the method of the update endpoint. Default POST.
	UpdateMethod string
	// Audit models message audit (消息审核): sends succeed with an empty message_id.
	Audit bool
	// RejectDuplicateCtxID refuses a send whose ctx_id the app used before
	// (CodeCtxIDInvalid). Default false: WPS says ctx_id "不能重复" but not
	// what it does with a repeat, so by default the repeat is delivered again
	// — the dispatcher must not rely on any dedupe.
	RejectDuplicateCtxID bool
	// Seed seeds ids and, from a source of their own, the fault rates
	// ([Sim.SetFaults]). Default 0 (itself a valid seed).
	Seed int64
	// PerRecipientLimits, when set, turn on the receipt-time quota audit:
	// every delivery of an app's message to a user is counted per (app
	// key, user) in exact sliding windows at the simulator's clock when the
	// request is handled (after injected latency), and one that makes a
	// window hold more than its Count is a violation ([Sim.Violations],
	// [Sim.AuditPeaks]). WPS documents no limit; the audit checks the ones
	// the dispatcher is configured with. Default none: no audit. [New]
	// panics if a limit's Count or Window is ≤ 0.
	PerRecipientLimits []Limit
	// DropOverLimit makes a delivery over a PerRecipientLimits window vanish
	// silently (the send still succeeds; [Sim.Drops]): the failure mode the
	// audit guards against. Default false: it is delivered and recorded.
	DropOverLimit bool
	// CallbackClient sends card callbacks. Default a client with a 10 s timeout.
	CallbackClient *http.Client
}

// App is a WPS 协作 app the simulator knows.
type App struct {
	// Key and Secret are the app's AK and SecretKey.
	Key    string
	Secret string
	// Signature is "wps4" or "wps3"; HeaderStyle "wps_docs" (default) or
	// "plain" for WPS-4; UnsignedPrefix the gateway prefix left out of the
	// signed URI (e.g. "/o/woa").
	Signature      string
	HeaderStyle    string
	UnsignedPrefix string
	// CompanyID is the app's company.
	CompanyID string
	// CallbackURL receives card callbacks ([Sim.FireClick]).
	CallbackURL string
}

// Sim is a simulated WPS 协作 v2 API. It is an http.Handler; [Sim.Start]
// serves it on a real listener. All methods are safe for concurrent use.
type Sim struct {
	opts  Options
	clock func() time.Time

	mu        sync.Mutex
	ids       *rand.Rand
	apps      map[string]*App
	tokens    map[string]*token
	fetches   map[string]int
	users     map[string]map[string]bool            // company → users
	groups    map[string]map[string][]string        // "dept:"+company / "chat:"+company → id → members
	messages  map[string]map[string]*message        // app → ctx_id → message
	cards     map[string]map[string]json.RawMessage // user → app+"\x00"+ctx_id → card
	delivered []Delivery
	requests  []Request
	faults    []Fault
	rates     FaultRates
	faultRNG  *rand.Rand // draws of rates
	audit     *simkit.Audit
	down      bool
	seq       int64
	// changed is closed (and replaced) whenever a request is finished; see
	// [Sim.WaitFor].
	changed simkit.Signal

	srvMu    sync.Mutex
	srv      *http.Server
	srvErrCh chan error
}

type token struct {
	value   string
	app     *App
	expires time.Time
}

type message struct {
	ctxID      string
	messageID  string
	utype      int
	recipients []string
	card       json.RawMessage
}

// New returns a simulator with no apps; add them with [Sim.AddApp]. It
// panics if Options.PerRecipientLimits holds a limit with Count or Window ≤ 0.
func New(opts Options) *Sim {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	if opts.UpdateMethod == "" {
		opts.UpdateMethod = DefaultUpdateMethod
	}
	if opts.CallbackClient == nil {
		opts.CallbackClient = &http.Client{Timeout: 10 * time.Second}
	}
	audit, err := simkit.NewAudit(opts.DropOverLimit, opts.PerRecipientLimits...)
	if err != nil {
		panic(fmt.Sprintf("xiezuosim: Options.PerRecipientLimits: %v", err))
	}
	return &Sim{
		opts: opts, clock: opts.Clock, audit: audit,
		ids:      rand.New(rand.NewPCG(uint64(opts.Seed), 0xd1b54a32d192ed03)),
		faultRNG: rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15)),
		apps:     map[string]*App{},
		tokens:   map[string]*token{},
		fetches:  map[string]int{},
		users:    map[string]map[string]bool{},
		groups:   map[string]map[string][]string{},
		messages: map[string]map[string]*message{},
		cards:    map[string]map[string]json.RawMessage{},
	}
}

// AddApp registers an app (replacing one with the same key).
func (s *Sim) AddApp(a App) error {
	if a.Key == "" || a.Secret == "" || a.CompanyID == "" {
		return errors.New("xiezuosim: AddApp: Key, Secret and CompanyID are required")
	}
	if a.Signature == "" {
		a.Signature = "wps3"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.Key] = &a
	return nil
}

// AddUsers adds users to a company.
func (s *Sim) AddUsers(companyID string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[companyID] == nil {
		s.users[companyID] = map[string]bool{}
	}
	for _, u := range users {
		s.users[companyID][u] = true
	}
}

// AddDept adds a department of a company with its members (added as users).
func (s *Sim) AddDept(companyID, dept string, members ...string) {
	s.addGroup("dept:", companyID, dept, members)
}

// AddChat adds a chat of a company, with the app's bot in it, and its members.
func (s *Sim) AddChat(companyID, chat string, members ...string) {
	s.addGroup("chat:", companyID, chat, members)
}

func (s *Sim) addGroup(kind, companyID, id string, members []string) {
	s.AddUsers(companyID, members...)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := kind + companyID
	if s.groups[k] == nil {
		s.groups[k] = map[string][]string{}
	}
	s.groups[k][id] = append([]string(nil), members...)
}

// ServeHTTP serves the API: GET …/company/token, POST …/app/messages and
// {UpdateMethod} …/app/messages/update; anything else is 404.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, SuffixToken) && r.Method == http.MethodGet:
		s.serveAPI(w, r, EndpointToken, s.handleToken)
	case strings.HasSuffix(p, SuffixUpdate) && r.Method == s.opts.UpdateMethod:
		s.serveAPI(w, r, EndpointUpdate, s.handleUpdate)
	case strings.HasSuffix(p, SuffixSend) && r.Method == http.MethodPost:
		s.serveAPI(w, r, EndpointSend, s.handleSend)
	default:
		writeJSON(w, http.StatusNotFound, apiReply{Result: 404000001, Msg: "not found"})
	}
}

// Start serves the simulator at addr ("127.0.0.1:0" picks a port) and
// returns its base URL.
func (s *Sim) Start(addr string) (string, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return "", errors.New("xiezuosim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.srvErrCh = make(chan error, 1)
	srv := s.srv
	go func() { s.srvErrCh <- srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the listener; the state stays inspectable.
func (s *Sim) Close() error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	if serr := <-s.srvErrCh; err == nil && !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	s.srv = nil
	return err
}

// apiReply is the answer envelope: result, msg and endpoint fields.
type apiReply struct {
	Result       int     `json:"result"`
	Msg          string  `json:"msg"`
	CompanyToken string  `json:"company_token,omitempty"`
	ExpiresIn    int64   `json:"expires_in,omitempty"`
	MessageID    *string `json:"message_id,omitempty"`
}

func errReply(rec *Request, code int) (int, apiReply) {
	rec.Result = code
	return codeStatus(code), apiReply{Result: code, Msg: CodeText(code)}
}

type apiHandler func(r *http.Request, body []byte, rec *Request) (int, apiReply)

// serveAPI runs one request: down state, faults, latency, the handler, recording.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, endpoint string, h apiHandler) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	rec := Request{Endpoint: endpoint, Method: r.Method, Path: r.URL.Path}
	if endpoint != EndpointToken {
		rec.Body = string(body)
	}
	s.mu.Lock()
	down := s.down
	var lat, out *Fault
	if !down {
		lat, out = s.pickFaultsLocked(endpoint)
	}
	s.mu.Unlock()
	rec.Fault = describe(lat, out)
	if down {
		rec.Fault, rec.HTTPStatus = "down", http.StatusServiceUnavailable
		s.finish(rec)
		http.Error(w, "503 Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	if lat != nil {
		t := time.NewTimer(lat.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			rec.Cancelled = true
			s.finish(rec)
			return
		}
	}
	if out != nil && out.Kind == KindResult {
		st, rep := errReply(&rec, out.Result)
		if out.Status != 0 {
			st = out.Status
		}
		rec.HTTPStatus = st
		s.finish(rec)
		writeJSON(w, st, rep)
		return
	}
	if out != nil && out.Kind == KindHTTPStatus {
		rec.HTTPStatus = out.Status
		s.finish(rec)
		if out.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((out.RetryAfter+time.Second-1)/time.Second)))
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(out.Status)
		_, _ = io.WriteString(w, "<html><body>"+http.StatusText(out.Status)+"</body></html>\n")
		return
	}
	var st int
	var rep apiReply
	if err != nil || len(body) > MaxBodyBytes {
		st, rep = errReply(&rec, CodeBadRequest)
	} else {
		st, rep = h(r, body, &rec)
	}
	rec.HTTPStatus = st
	if out != nil && out.Kind == KindLostResponse {
		rec.Lost = true
		s.finish(rec)
		abort(w)
		return
	}
	s.finish(rec)
	writeJSON(w, st, rep)
}

// authLocked finds the app of a business request by its company_token and
// verifies the request's signature; s.mu must be held.
func (s *Sim) authLocked(r *http.Request, body []byte, rec *Request) (*App, int) {
	t := s.tokens[r.URL.Query().Get("company_token")]
	if t == nil {
		return nil, CodeTokenInvalid
	}
	rec.AppKey = t.app.Key
	if code := verify(r, body, t.app, s.clock(), s.opts.MaxSkew); code != CodeOK {
		return nil, code
	}
	if !s.clock().Before(t.expires) {
		return nil, CodeTokenExpired
	}
	return t.app, CodeOK
}

func (s *Sim) finish(rec Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	rec.Seq = s.seq
	rec.At = s.clock()
	s.requests = append(s.requests, rec)
	s.changed.Notify()
}

// abort drops the connection without an answer.
func abort(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
		return
	}
	http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (s *Sim) randIDLocked(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[s.ids.IntN(len(idAlphabet))]
	}
	return string(b)
}

// String describes the simulator's size.
func (s *Sim) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("xiezuosim{apps=%d requests=%d deliveries=%d}", len(s.apps), len(s.requests), len(s.delivered))
}
