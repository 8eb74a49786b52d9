package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/metrics"
	"github.com/msgdispatch/msgdispatch/worker"
)

var workerCommand = command{
	name:     "worker",
	synopsis: "--config F [--log-format json|text]",
	notes:    "Consumes and sends the queued jobs of every configured app until SIGTERM or SIGINT, serving /metrics, /healthz and /readyz on worker.metrics_listen (default :9090). No positional arguments.",
	example:  "dispatcher worker --config config.yaml",
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	path := fs.String("config", "", "config file (required)")
	logFormat := logFormatFlag(fs, "json")
	if _, err := workerCommand.parse(fs, args, stdout); err != nil {
		return err
	}
	if *path == "" {
		return missingConfig(&workerCommand)
	}
	log, err := newLogger(*logFormat, stderr)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	rdb, err := openRedis(ctx, cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	m := metrics.New(cfg.AppProviders())
	if err := m.Queues(rdb); err != nil {
		return fmt.Errorf("worker: metrics: %w", err)
	}
	w, err := worker.New(worker.Options{Config: cfg, Redis: rdb, Logger: log, Metrics: m})
	if err != nil {
		return err
	}
	stopOps, err := serveOps(ctx, cfg.Worker.MetricsListen, opsHandler(m, rdb, log), stdout, log)
	if err != nil {
		return err
	}
	defer stopOps()
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done() // SIGINT or SIGTERM
	log.Info("shutting down: finishing running sends", "timeout", cfg.Worker.ShutdownTimeout)
	w.Shutdown()
	return nil
}
