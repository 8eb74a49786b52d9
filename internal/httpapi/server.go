// Package httpapi is the dispatcher's HTTP API, served by `dispatcher api`
// under /v1: sending, reading, updating and cancelling messages with the Go
// producer's semantics, the secret-free app catalog, pausing and resuming
// apps, a recipient's quota, and the app's events for producers that pull.
// Every route but /v1/openapi.json needs a bearer token from api.tokens, each
// limited to some apps. Errors are {"error":{"code","message","field"}}
// naming the request field at fault; a request that fails writes nothing.
// The routes are provider-neutral: they serve every registered provider
// through the producer, internal/catalog and the app's provider block.
package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/apierr"
	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/quotaapi"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// MaxBody is the largest request body accepted: 1 MiB.
const MaxBody = apierr.MaxBody

// Options configure a Server.
type Options struct {
	// Config is the loaded config (apps, api.tokens, api.webhooks). Required.
	Config *config.Config
	// Redis is the dispatcher's Redis. Required; not closed by the Server.
	Redis redis.UniversalClient
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Route is one route of the API: its method and path pattern
// (net/http.ServeMux syntax, which is also OpenAPI's).
type Route struct {
	Method, Path string
	// Public routes need no token.
	Public bool
}

// Server serves the HTTP API.
type Server struct {
	cfg       *config.Config
	rdb       redis.UniversalClient
	log       *slog.Logger
	now       func() time.Time
	prod      *producer.Client
	apps      *appstate.Store
	records   *record.Store
	quota     *ratelimit.Limiter
	inspector *asynq.Inspector
	tokens    tokens
	routes    []route
}

type route struct {
	Route
	h http.HandlerFunc
}

// New builds a Server.
func New(opts Options) (*Server, error) {
	if opts.Config == nil || opts.Redis == nil {
		return nil, fmt.Errorf("httpapi: Config and Redis are required")
	}
	ts, err := newTokens(opts.Config.API.Tokens)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: opts.Config, rdb: opts.Redis, log: opts.Logger, now: opts.Now, tokens: ts,
		prod: producer.New(opts.Config, opts.Redis), apps: appstate.New(opts.Redis), records: record.NewStore(opts.Redis),
		inspector: asynq.NewInspectorFromRedisClient(opts.Redis)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	policies := map[string]ratelimit.Policy{}
	for name, app := range opts.Config.Apps {
		policies[name] = quotaPolicy(app)
	}
	if s.quota, err = ratelimit.New(opts.Redis, ratelimit.Options{Policies: policies}); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	qo := quotaapi.Options{Config: opts.Config, Authority: s.prod, Logger: s.log}
	s.routes = []route{
		{Route{"POST", "/v1/messages", false}, s.send},
		{Route{"GET", "/v1/messages/{id}", false}, s.status},
		{Route{"POST", "/v1/messages/{id}/updates", false}, s.update},
		{Route{"DELETE", "/v1/messages/{id}", false}, s.cancel},
		{Route{"GET", "/v1/apps", false}, s.catalog},
		{Route{"POST", "/v1/apps/{app}/pause", false}, s.pause},
		{Route{"POST", "/v1/apps/{app}/resume", false}, s.resume},
		{Route{"GET", "/v1/apps/{app}/quota/{recipient}", false}, s.usage},
		{Route{"GET", "/v1/apps/{app}/events", false}, s.events},
		// The quota authority for senders outside msgdispatch (internal/quotaapi).
		{Route{"POST", "/v1/apps/{app}/quota/reserve", false}, s.appScoped(quotaapi.Reserve(qo))},
		{Route{"POST", "/v1/apps/{app}/quota/release", false}, s.appScoped(quotaapi.Release(qo))},
		{Route{"GET", "/v1/apps/{app}/quota/{recipient}/reservations", false}, s.appScoped(quotaapi.Reservations(qo))},
		{Route{"GET", "/v1/openapi.json", true}, serveOpenAPI},
	}
	return s, nil
}

// Routes lists the API's routes.
func (s *Server) Routes() []Route {
	out := make([]Route, len(s.routes))
	for i, r := range s.routes {
		out[i] = r.Route
	}
	return out
}

// Register adds the API's routes to mux, with a JSON 404 for any other path
// under /v1/.
func (s *Server) Register(mux *http.ServeMux) {
	for _, r := range s.routes {
		h := r.h
		if !r.Public {
			h = s.authenticate(h)
		}
		mux.HandleFunc(r.Method+" "+r.Path, h)
	}
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Field: "path", Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
}

// Handler returns a handler serving only the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Register(mux)
	return mux
}

// quotaPolicy is the part of an app's quota policy a usage reading needs
// (the worker's own adds the peak rule and the ledger's lifetime).
func quotaPolicy(app config.App) ratelimit.Policy {
	p := ratelimit.Policy{Margin: app.Limits.Margin, UrgentHeadroom: app.Limits.UrgentHeadroom, Daily: app.Limits.Daily}
	if p.Margin == 0 {
		p.Margin = -1 // the config's 0 means no margin; the limiter's 0 means its default
	}
	p.Windows = []ratelimit.Window{} // none unless configured
	for _, w := range app.Limits.PerRecipient {
		p.Windows = append(p.Windows, ratelimit.Window{Count: w.Count, Window: w.Window})
	}
	return p
}

// extend lets a handler that waits (cancel, events) write after the
// server's write timeout.
func extend(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
}
