package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/metrics"
	"github.com/msgdispatch/msgdispatch/internal/peak"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
	"github.com/msgdispatch/msgdispatch/internal/tokenstore"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// Options configure a Worker.
type Options struct {
	// Config is the loaded config. Required.
	Config *config.Config
	// Redis is the client for asynq, delivery records, tokens and app state.
	// Required; the Worker does not close it.
	Redis redis.UniversalClient
	// Logger receives the worker's logs. Default slog.Default().
	Logger *slog.Logger
	// HTTPClient talks to providers. Default: a client whose transport keeps
	// as many idle connections per host as the worker runs tasks.
	HTTPClient *http.Client
	// Gates are the admission steps run before each send, in order. Default none.
	Gates []Gate
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Metrics receives the worker's metrics. Default: a registry of its own,
	// served by nobody.
	Metrics *metrics.Metrics
}

// Worker consumes send jobs with one or more asynq servers.
type Worker struct {
	cfg       *config.Config
	log       *slog.Logger
	records   *record.Store
	apps      *appstate.Store
	providers map[string]providers.Provider
	gates     []Gate
	breakers  *breakers
	sem       *ratelimit.Semaphore
	quota     *ratelimit.Limiter
	enqueuer  *asynq.Client
	// rdb is the Redis client, for the worker's own counters.
	rdb redis.UniversalClient
	// oneSlot: rdb is not a Redis Cluster, so that a script may take the
	// company's semaphore slot with the record's writes (first_run.go).
	oneSlot bool
	// batch sends the send path's pipelines of concurrent handlers in one
	// round trip (batch.go).
	batch *batcher
	// settles are the settles that leave with their task's completion
	// (complete_redis.go); nil on Redis Cluster.
	settles *settles
	rates   map[string]*rate.Limiter
	now     func() time.Time
	metrics *metrics.Metrics
	servers []*asynq.Server
	mux     *asynq.ServeMux

	mu      sync.Mutex
	started bool
}

// New builds a Worker; Start runs it.
func New(opts Options) (*Worker, error) {
	if opts.Config == nil || opts.Redis == nil {
		return nil, fmt.Errorf("worker: Config and Redis are required")
	}
	w := &Worker{
		cfg:       opts.Config,
		log:       opts.Logger,
		records:   record.NewStore(opts.Redis),
		apps:      appstate.New(opts.Redis),
		providers: map[string]providers.Provider{},
		sem:       ratelimit.NewSemaphore(opts.Redis),
		rates:     map[string]*rate.Limiter{},
		now:       opts.Now,
		metrics:   opts.Metrics,
		batch:     &batcher{rdb: opts.Redis},
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.metrics == nil {
		w.metrics = metrics.New(opts.Config.AppProviders())
	}
	w.breakers = newBreakers(opts.Config.Worker.Breaker, w.log)
	w.breakers.metrics = w.metrics
	// Built-in gates in pipeline order, then the caller's.
	if opts.Config.Peak.On() {
		pk := opts.Config.Peak
		w.gates = append(w.gates, peakGate(peak.Rule{Minutes: pk.Minutes, Guard: pk.Guard, Spread: pk.Spread}))
	}
	w.gates = append(w.gates, w.breakerGate())
	w.gates = append(w.gates, opts.Gates...)
	if w.now == nil {
		w.now = time.Now
	}
	wc := opts.Config.Worker
	hc := opts.HTTPClient
	if hc == nil {
		hc = newHTTPClient(wc.Concurrency * wc.Servers)
	}
	policies := map[string]ratelimit.Policy{}
	for name, app := range opts.Config.Apps {
		policies[name] = quotaPolicy(app, opts.Config.Peak, opts.Config.Worker.MessageTTL)
	}
	caps := &tenantCaps{stores: map[string]*tenant.Store{}, perSeat: map[string]int{}, cache: map[string]tenantCap{}}
	for name, app := range opts.Config.Apps {
		d, err := app.Descriptor()
		if err != nil {
			return nil, fmt.Errorf("worker: app %s: %w", name, err)
		}
		if app.MultiTenant() && d.Limits.PerSeatDaily > 0 {
			ts, err := catalog.Tenants(opts.Redis, name, app)
			if err != nil {
				return nil, fmt.Errorf("worker: app %s: %w", name, err)
			}
			caps.stores[name], caps.perSeat[name] = ts, d.Limits.PerSeatDaily
		}
	}
	quota, err := ratelimit.New(opts.Redis, ratelimit.Options{Policies: policies, DailyCap: caps.dailyCap})
	if err != nil {
		return nil, fmt.Errorf("worker: quotas: %w", err)
	}
	w.quota = quota
	w.enqueuer = asynq.NewClientFromRedisClient(opts.Redis)
	w.rdb = opts.Redis
	_, cluster := opts.Redis.(*redis.ClusterClient)
	w.oneSlot = !cluster
	asynqRedis := opts.Redis
	if !cluster {
		w.settles = newSettles(w)
		asynqRedis = completeRedis{UniversalClient: opts.Redis, settles: w.settles}
	}
	tokens := tokenstore.New(opts.Redis, tokenstore.Options{Local: true}) // a fresh token costs no Redis call
	for name, app := range opts.Config.Apps {
		p, err := catalog.New(name, app, catalog.Deps{Tokens: countedTokens{tokens, w.metrics, name}, HTTP: hc, Redis: opts.Redis, Asynq: w.enqueuer, Logger: w.log, Now: w.now})
		if err != nil {
			return nil, fmt.Errorf("worker: app %s: %w", name, err)
		}
		w.providers[name] = p
		if app.OnUnknown == "resend" && p.Capabilities().DedupeWindow <= 0 {
			w.log.Warn("on_unknown: resend has no effect: the provider has no duplicate check, so a request that may have been applied is never sent again (as with give_up)",
				"app", name, "provider", p.Name())
		}
		r := app.Limits.Rate
		w.rates[name] = rate.NewLimiter(rate.Limit(r), max(1, r/5))
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc(job.TypeSend, w.handleSend)
	mux.HandleFunc(job.TypeUpdate, w.handleUpdate) // update.go
	mux.HandleFunc(job.TypeCancel, w.handleCancel) // cancel.go
	// The providers' background tasks (a WeCom authorisation, …), queued by
	// their callback handlers in the api server.
	for typ, h := range catalog.Handlers(func(app string) (providers.Provider, bool) {
		p, ok := w.providers[app]
		return p, ok
	}) {
		mux.Handle(typ, h)
	}
	for i := 0; i < wc.Servers; i++ {
		srv := asynq.NewServerFromRedisClient(asynqRedis, asynq.Config{
			Concurrency:              wc.Concurrency,
			Queues:                   wc.Queues,
			TaskCheckInterval:        wc.TaskCheckInterval,
			DelayedTaskCheckInterval: wc.DelayedTaskCheckInterval,
			ShutdownTimeout:          wc.ShutdownTimeout,
			IsFailure:                isFailure,
			RetryDelayFunc:           retryDelay,
			ErrorHandler:             asynq.ErrorHandlerFunc(w.logTaskError),
			Logger:                   asynqLogger{w.log},
			LogLevel:                 asynq.WarnLevel,
		})
		w.servers = append(w.servers, srv)
	}
	w.mux = mux
	return w, nil
}

// Start starts every asynq server of the worker. It returns at once.
func (w *Worker) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return fmt.Errorf("worker: already started")
	}
	for i, srv := range w.servers {
		if err := srv.Start(w.mux); err != nil {
			for _, s := range w.servers[:i] {
				s.Shutdown()
			}
			return fmt.Errorf("worker: start server %d: %w", i, err)
		}
	}
	if w.settles != nil {
		w.settles.start()
	}
	w.started = true
	w.log.Info("worker started", "servers", len(w.servers), "concurrency", w.cfg.Worker.Concurrency, "queues", w.cfg.Worker.Queues)
	return nil
}

// Shutdown stops fetching new tasks and waits up to the shutdown timeout for
// running ones (each send has its own deadline, shorter than that timeout), then
// puts what is still unfinished back in its queue.
func (w *Worker) Shutdown() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started {
		return
	}
	var wg sync.WaitGroup
	for _, srv := range w.servers {
		wg.Add(1)
		go func() { defer wg.Done(); srv.Shutdown() }()
	}
	wg.Wait()
	if w.settles != nil {
		w.settles.shutdown() // what the servers did not complete
	}
	w.started = false
	w.log.Info("worker stopped")
}

func (w *Worker) logTaskError(ctx context.Context, t *asynq.Task, err error) {
	id, _ := asynq.GetTaskID(ctx)
	if !isFailure(err) {
		w.log.Debug("task deferred", "task", id, "reason", err)
		return
	}
	w.log.Warn("task failed", "task", id, "type", t.Type(), "err", err)
}

// newHTTPClient keeps as many idle connections per host as tasks can run at once:
// the default of 2 leaves thousands of sockets in TIME_WAIT under load.
func newHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          max(conns, 100),
		MaxIdleConnsPerHost:   max(conns, 2),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr}
}

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }

// Fatal logs and exits, as asynq.Logger requires.
func (a asynqLogger) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
	os.Exit(1)
}
