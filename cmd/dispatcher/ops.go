package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/metrics"
)

// opsListeningKey is a context key whose value, a chan<- string, receives the
// address `dispatcher worker` serves /metrics, /healthz and /readyz on
// (tests set worker.metrics_listen to port 0).
type opsListeningKey struct{}

// logFormatFlag adds --log-format to fs: json (the default of worker and
// api, for log collectors) or text.
func logFormatFlag(fs *flag.FlagSet, def string) *string {
	return fs.String("log-format", def, "log format: json or text")
}

// newLogger returns a logger writing one line per record to w in format
// (json or text).
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	default:
		return nil, fmt.Errorf("--log-format: want json or text, got %q", format)
	}
}

// addHealth adds /healthz (the process serves HTTP) and /readyz (its config
// loaded and validated — the process would not run otherwise — and Redis
// answers a PING within readyTimeout) to mux.
func addHealth(mux *http.ServeMux, rdb redis.UniversalClient, log *slog.Logger) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := rdb.Ping(ctx).Err(); err != nil {
			log.Warn("not ready: redis does not answer", "err", err)
			http.Error(w, "redis unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
}

// opsHandler serves /metrics, /healthz and /readyz.
func opsHandler(m *metrics.Metrics, rdb redis.UniversalClient, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	addHealth(mux, rdb, log)
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// serveOps serves h on addr (worker.metrics_listen) until ctx ends. It
// returns once listening; the returned stop shuts the server down.
func serveOps(ctx context.Context, addr string, h http.Handler, stdout io.Writer, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("worker: listen on %s (worker.metrics_listen): %w", addr, err)
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
	log.Info("metrics and health listening", "addr", ln.Addr().String())
	fmt.Fprintf(stdout, "worker metrics on http://%s/metrics\n", ln.Addr())
	if ch, ok := ctx.Value(opsListeningKey{}).(chan<- string); ok {
		ch <- ln.Addr().String()
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("metrics server shutdown", "err", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err)
		}
	}, nil
}
