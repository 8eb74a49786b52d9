package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/dashboard"
	"github.com/msgdispatch/msgdispatch/internal/httpapi"
	"github.com/msgdispatch/msgdispatch/internal/metrics"
	"github.com/msgdispatch/msgdispatch/internal/webhook"
)

// API server timeouts.
const (
	apiReadHeaderTimeout = 5 * time.Second
	apiReadTimeout       = 10 * time.Second
	apiWriteTimeout      = 10 * time.Second
	apiIdleTimeout       = 60 * time.Second
	// apiShutdownTimeout bounds the wait for requests in flight on SIGTERM.
	apiShutdownTimeout = 10 * time.Second
	// readyTimeout bounds the Redis ping of /readyz.
	readyTimeout = 2 * time.Second
)

// apiListeningKey is a context key whose value, a chan<- string, receives the
// address the api server listens on (tests start it on port 0).
type apiListeningKey struct{}

// runAPI is `dispatcher api`: it serves the providers' callbacks under
// /callbacks/{provider}/{app}, /healthz (the process is up) and /readyz (Redis
// answers) on api.listen (or --listen) until ctx ends (SIGINT, SIGTERM), then
// shuts down gracefully: no new connections, requests in flight finish.
var apiCommand = command{
	name:     "api",
	synopsis: "--config F [--listen ADDR] [--log-format json|text]",
	notes:    "Serves the HTTP API (/v1/...), the dashboard (/monitoring/, login with a token that has a dashboard scope), provider callbacks (/callbacks/{provider}/{app}), /metrics, /healthz and /readyz, and delivers webhooks, until SIGTERM or SIGINT. No positional arguments.",
	example:  "dispatcher api --config config.yaml --listen :8080",
}

func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	path := fs.String("config", "", "config file (required)")
	listen := fs.String("listen", "", "address to serve on (default: api.listen of the config)")
	logFormat := logFormatFlag(fs, "json")
	if _, err := apiCommand.parse(fs, args, stdout); err != nil {
		return err
	}
	if *path == "" {
		return missingConfig(&apiCommand)
	}
	log, err := newLogger(*logFormat, stderr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	addr := cfg.API.Listen
	if *listen != "" {
		addr = *listen
	}
	rdb, err := openRedis(ctx, cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	h, err := newAPIHandler(cfg, rdb, log)
	if err != nil {
		return err
	}
	hooks, err := webhook.New(webhook.Options{Config: cfg, Redis: rdb, Logger: log})
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if hooks != nil { // deliveries run in this process (queue "webhooks"), not in the worker
		if err := hooks.Start(); err != nil {
			return fmt.Errorf("api: %w", err)
		}
		defer hooks.Shutdown()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s (api.listen): %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: apiReadHeaderTimeout,
		ReadTimeout:       apiReadTimeout,
		WriteTimeout:      apiWriteTimeout,
		IdleTimeout:       apiIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("api listening", "addr", ln.Addr().String())
	fmt.Fprintf(stdout, "api listening on http://%s\n", ln.Addr())
	if ch, ok := ctx.Value(apiListeningKey{}).(chan<- string); ok {
		ch <- ln.Addr().String()
	}
	select {
	case err := <-served:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done(): // SIGINT or SIGTERM
	}
	log.Info("api shutting down: finishing requests in flight", "timeout", apiShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	<-served // http.ErrServerClosed
	return nil
}

// newAPIHandler routes the api server's endpoints.
func newAPIHandler(cfg *config.Config, rdb redis.UniversalClient, log *slog.Logger) (http.Handler, error) {
	aq := asynq.NewClientFromRedisClient(rdb) // shares rdb; closed with it
	callbacks := map[string]http.Handler{}
	for name, app := range cfg.Apps {
		h, err := catalog.CallbackHandler(name, app, catalog.Deps{Redis: rdb, Asynq: aq, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("api: app %s: %w", name, err)
		}
		if h != nil {
			callbacks[app.Provider+"/"+name] = h
		}
	}
	m := metrics.New(cfg.AppProviders())
	if err := m.Queues(rdb); err != nil {
		return nil, fmt.Errorf("api: metrics: %w", err)
	}
	mux := http.NewServeMux()
	v1, err := httpapi.New(httpapi.Options{Config: cfg, Redis: rdb, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	v1.Register(mux)
	dash, err := dashboard.New(dashboard.Options{Tokens: cfg.API.Tokens, Redis: rdb, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	dash.Register(mux)
	addHealth(mux, rdb, log) // ops.go
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("/callbacks/{provider}/{app}", func(w http.ResponseWriter, r *http.Request) {
		h := callbacks[r.PathValue("provider")+"/"+r.PathValue("app")]
		if h == nil {
			http.NotFound(w, r) // unknown app, or one that receives no callbacks
			return
		}
		h.ServeHTTP(w, r)
	})
	return mux, nil
}
