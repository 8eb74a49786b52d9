package wecomsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/simkit"
)

// Endpoint names, as used by [Fault.Endpoint], [FaultRates.Endpoints] and
// [Request.Endpoint]: the API path after /cgi-bin/.
const (
	EndpointGetToken = "gettoken"
	EndpointSend     = "message/send"
	EndpointRecall   = "message/recall"
	// The suite endpoints of third-party and custom (代开发) apps.
	EndpointSuiteToken    = "service/get_suite_token"
	EndpointCorpToken     = "service/get_corp_token"
	EndpointPermanentCode = "service/v2/get_permanent_code"
	EndpointAuthInfo      = "service/v2/get_auth_info"
)

// secretEndpoints carry secrets in their query or body (secrets, suite
// secrets, tickets, permanent codes, auth codes): their bodies are never
// recorded.
var secretEndpoints = map[string]bool{
	EndpointGetToken: true, EndpointSuiteToken: true, EndpointCorpToken: true,
	EndpointPermanentCode: true, EndpointAuthInfo: true,
}

// Defaults of [Options].
const (
	// DefaultTokenTTL is the lifetime of an access_token (WeCom: 7200 s).
	DefaultTokenTTL = 7200 * time.Second
	// DefaultRecallWindow is how long after sending a message can be recalled (24 h).
	DefaultRecallWindow = 24 * time.Hour
	// DefaultDuplicateCheckInterval is duplicate_check_interval when the request
	// does not set it (1800 s).
	DefaultDuplicateCheckInterval = 1800 * time.Second
	// MaxDuplicateCheckInterval is the largest duplicate_check_interval honoured
	// (4 h); larger values are clamped to it.
	MaxDuplicateCheckInterval = 4 * time.Hour
	// MaxBodyBytes bounds a request body; a larger body is answered 45002.
	MaxBodyBytes = 2 << 20
)

// DefaultPerMemberLimits are WeCom's per-app, per-member limits: 30 messages a
// minute and 1000 an hour ("每应用对同一个成员不可超过30次/分钟，1000次/小时").
var DefaultPerMemberLimits = []Limit{{Count: 30, Window: time.Minute}, {Count: 1000, Window: time.Hour}}

// Options configure a [Sim]. The zero value is WeCom's documented behaviour on the
// wall clock.
type Options struct {
	// Clock is the simulator's notion of now: token expiry, receipt times, limit
	// windows, duplicate-check intervals and the recall window all use it.
	// Default time.Now. Use a [ManualClock] in tests. Injected latency is real
	// time, not Clock time.
	Clock func() time.Time
	// TokenTTL is the lifetime of an access_token. Default 7200 s.
	TokenTTL time.Duration
	// ExpiredTokenCode is the errcode for a token past its lifetime. Default 42001
	// (documented); set 40014 to model what users observe in the wild.
	ExpiredTokenCode int
	// PerMemberLimits are the per-(app, member) sliding windows; a message that
	// would exceed one is silently dropped for that member. nil means
	// DefaultPerMemberLimits (30/1m and 1000/1h); an empty non-nil slice
	// disables per-member limits.
	PerMemberLimits []Limit
	// DailyLimit is the per-app daily cap in person-times (WeCom: seats × 200),
	// counted per Asia/Shanghai calendar day; deliveries beyond it are silently
	// dropped (an assumption: WeCom does not document what happens). Default 0:
	// no cap.
	DailyLimit int
	// RecallWindow is how old a message may be and still be recalled. Default 24 h.
	RecallWindow time.Duration
	// Seed seeds the random source of probabilistic faults and random latencies,
	// so that a run is reproducible. Default 0 (itself a valid seed).
	Seed int64
	// Logger receives one Debug record per API request (never a secret or a
	// token). Default: discard.
	Logger *slog.Logger
	// MaxConcurrentPerCorp, when > 0, is how many requests of one corp to one
	// endpoint are handled at once (injected latency included); a request beyond
	// it is answered 45033 "接口并发调用超过限制" without being applied. WeCom
	// publishes no number. Default 0: unlimited. [Sim.Concurrency] reports the
	// peak either way.
	MaxConcurrentPerCorp int
	// IgnoreDuplicateCheck makes message/send deliver every request, as if no
	// request set enable_duplicate_check: tests use it to prove that the
	// dispatcher itself never sends twice. Default false.
	IgnoreDuplicateCheck bool
	// ArrayShapedInvalid makes message/send answer invaliduser, invalidparty and
	// invalidtag as JSON arrays (always present, possibly empty) instead of the
	// default "a|b" strings (present only when non-empty). Both shapes are
	// observed from WeCom.
	ArrayShapedInvalid bool
	// CallbackClient fires callbacks at the dispatcher (Sim.Fire…). Default: a
	// client with a 10 s timeout.
	CallbackClient *http.Client
}

// Sim is a simulated WeCom API for self-built apps. It is an http.Handler serving
// /cgi-bin/gettoken, /cgi-bin/message/send, /cgi-bin/message/recall and the
// inspection API under /sim/; [Sim.Start] serves it on a real listener. All
// methods are safe for concurrent use.
type Sim struct {
	opts      Options
	clock     func() time.Time
	log       *slog.Logger
	limits    []Limit
	maxWindow time.Duration
	mux       *http.ServeMux

	mu         sync.Mutex
	rng        *rand.Rand // faults and latencies
	ids        *rand.Rand // tokens, msgids, response codes
	corps      map[string]*corp
	apps       map[appKey]*app
	tokens     map[string]*token
	msgs       map[string]*message
	dedupe     map[dedupeKey]*dedupeEntry
	dedupeAdds int
	windows    map[userKey]*window
	daily      map[appKey]*dailyCount
	conc       map[concKey]*concCount
	suites     map[string]*suite      // by suite id
	suiteToks  map[string]*suiteToken // by token value
	authCodes  map[string]*authCode   // by code
	faults     []Fault
	rates      FaultRates
	down       bool
	rec        records
	changed    simkit.Signal
	reqSeq     int64
	srvMu      sync.Mutex
	srv        *http.Server
	srvErrCh   chan error
	cards      cardBook // update_template_card state (update.go)
}

// New returns a simulator with no corps or apps; add them with [Sim.AddApp] and
// [Sim.AddUsers].
func New(opts Options) *Sim {
	s := &Sim{
		opts:      opts,
		clock:     opts.Clock,
		log:       opts.Logger,
		corps:     map[string]*corp{},
		apps:      map[appKey]*app{},
		tokens:    map[string]*token{},
		msgs:      map[string]*message{},
		dedupe:    map[dedupeKey]*dedupeEntry{},
		windows:   map[userKey]*window{},
		daily:     map[appKey]*dailyCount{},
		conc:      map[concKey]*concCount{},
		suites:    map[string]*suite{},
		suiteToks: map[string]*suiteToken{},
		authCodes: map[string]*authCode{},
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opts.TokenTTL <= 0 {
		s.opts.TokenTTL = DefaultTokenTTL
	}
	if s.opts.ExpiredTokenCode == 0 {
		s.opts.ExpiredTokenCode = CodeTokenExpired
	}
	if s.opts.RecallWindow <= 0 {
		s.opts.RecallWindow = DefaultRecallWindow
	}
	s.limits = DefaultPerMemberLimits
	if opts.PerMemberLimits != nil {
		s.limits = nil
		for _, l := range opts.PerMemberLimits {
			if l.Count > 0 && l.Window > 0 {
				s.limits = append(s.limits, l)
			}
		}
	}
	for _, l := range s.limits {
		s.maxWindow = max(s.maxWindow, l.Window)
	}
	seed := uint64(opts.Seed)
	s.rng = rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	s.ids = rand.New(rand.NewPCG(seed, 0xd1b54a32d192ed03))
	s.rec.init()

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/cgi-bin/gettoken", func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, EndpointGetToken, s.handleGetToken)
	})
	s.mux.HandleFunc("/cgi-bin/message/send", func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, EndpointSend, s.handleSend)
	})
	s.mux.HandleFunc("/cgi-bin/message/recall", func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r, EndpointRecall, s.handleRecall)
	})
	for ep, h := range map[string]apiHandler{
		EndpointSuiteToken:    s.handleSuiteToken,
		EndpointCorpToken:     s.handleCorpToken,
		EndpointPermanentCode: s.handlePermanentCode,
		EndpointAuthInfo:      s.handleAuthInfo,
	} {
		s.mux.HandleFunc("/cgi-bin/"+ep, func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, ep, h) })
	}
	s.routeInspect()
	s.routeCards()
	return s
}

// ServeHTTP serves the WeCom API and the /sim/ inspection API.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Start serves the simulator on a new listener at addr ("127.0.0.1:0" picks a
// free port) and returns its base URL, e.g. "http://127.0.0.1:41234", to be used
// as the WeCom base_url. It fails if the simulator is already started.
func (s *Sim) Start(addr string) (baseURL string, err error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return "", errors.New("wecomsim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.srv = srv
	s.srvErrCh = make(chan error, 1)
	go func() { s.srvErrCh <- srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the listener started by [Sim.Start] and closes its connections;
// the simulator's state stays inspectable. Close without Start does nothing.
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

// reply is an API answer before it is written.
type reply struct {
	status int
	v      any
}

type apiHandler func(r *http.Request, body []byte, rec *Request) reply

type apiError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// errReply answers errcode code and records it.
func errReply(rec *Request, code int) reply {
	rec.ErrCode = code
	return reply{status: http.StatusOK, v: apiError{ErrCode: code, ErrMsg: errMsg(code)}}
}

// serveAPI runs one WeCom API request through the simulator: down state, faults,
// latency, the endpoint handler, and recording.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, endpoint string, h apiHandler) {
	body, bodyErr := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	rec := Request{Endpoint: endpoint, Method: r.Method}
	if !secretEndpoints[endpoint] {
		rec.Body = string(body)
	}

	s.mu.Lock()
	down := s.down
	var lat, out *Fault
	busy := false
	if !down {
		var ck concKey
		ck, busy = s.enterLocked(r, endpoint)
		if !busy {
			defer s.leave(ck)
			lat, out = s.pickFaultsLocked(endpoint)
		}
	}
	s.mu.Unlock()

	rec.Fault = describeFaults(lat, out)
	if busy {
		rec.At = s.clock()
		rec.HTTPStatus = http.StatusOK
		rep := errReply(&rec, CodeConcurrencyLimit)
		s.finish(rec)
		writeJSON(w, rep.status, rep.v)
		return
	}
	if down {
		rec.At = s.clock()
		rec.Fault = "down"
		rec.HTTPStatus = http.StatusServiceUnavailable
		s.finish(rec)
		http.Error(w, "503 Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	if lat != nil {
		rec.Latency = lat.Latency
		t := time.NewTimer(lat.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			rec.At = s.clock()
			rec.Cancelled = true
			s.finish(rec)
			return
		}
	}
	rec.At = s.clock()
	if out != nil {
		switch out.Kind {
		case KindErrCode:
			rec.ErrCode = out.ErrCode
			msg := out.ErrMsg
			if msg == "" {
				msg = errMsg(out.ErrCode)
			}
			rec.HTTPStatus = http.StatusOK
			s.finish(rec)
			writeJSON(w, http.StatusOK, apiError{ErrCode: out.ErrCode, ErrMsg: msg})
			return
		case KindHTTPStatus:
			rec.HTTPStatus = out.Status
			s.finish(rec)
			if out.RetryAfter > 0 {
				secs := int64((out.RetryAfter + time.Second - 1) / time.Second)
				w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(out.Status)
			_, _ = io.WriteString(w, "<html><body><h1>"+strconv.Itoa(out.Status)+" "+http.StatusText(out.Status)+"</h1></body></html>\n")
			return
		}
	}

	var rep reply
	if bodyErr != nil || len(body) > MaxBodyBytes {
		rep = errReply(&rec, CodeContentTooLong)
	} else {
		rep = h(r, body, &rec)
	}
	rec.HTTPStatus = rep.status
	if out != nil && out.Kind == KindLostResponse {
		// The request was applied; the caller never learns the outcome.
		rec.Lost = true
		s.finish(rec)
		abort(w)
		return
	}
	s.finish(rec)
	writeJSON(w, rep.status, rep.v)
}

// finish records a completed request, logs it and wakes waiters.
func (s *Sim) finish(rec Request) {
	s.mu.Lock()
	s.reqSeq++
	rec.Seq = s.reqSeq
	s.rec.requests = append(s.rec.requests, rec)
	s.rec.perEndpoint[rec.Endpoint]++
	s.notifyLocked()
	s.mu.Unlock()
	s.log.Debug("wecomsim request",
		"endpoint", rec.Endpoint, "corp_id", rec.CorpID, "agent_id", rec.AgentID,
		"errcode", rec.ErrCode, "http_status", rec.HTTPStatus, "msgid", rec.MsgID,
		"fault", rec.Fault, "duplicate", rec.Duplicate, "lost", rec.Lost, "cancelled", rec.Cancelled)
}

// abort drops the connection without a response: hijack and close it when the
// ResponseWriter allows (a real HTTP/1 server), else answer 502 as a gateway
// that lost the upstream response would.
func abort(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // reset, like a crashed peer
		}
		_ = conn.Close()
		return
	}
	http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
}

// writeJSON writes v as WeCom does: UTF-8 JSON without HTML escaping.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Sim) notifyLocked() {
	s.changed.Notify()
}

// wait blocks until cond (evaluated without s.mu held) is true or ctx is done.
func (s *Sim) wait(ctx context.Context, cond func() bool) error { return s.changed.Wait(ctx, cond) }

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randIDLocked returns n random base62 characters; s.mu must be held.
func (s *Sim) randIDLocked(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[s.ids.IntN(len(idAlphabet))]
	}
	return string(b)
}
