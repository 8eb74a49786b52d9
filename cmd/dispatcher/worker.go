package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/worker"
)

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return fmt.Errorf("worker: --config is required")
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
	log := slog.New(slog.NewTextHandler(stderr, nil))
	w, err := worker.New(worker.Options{Config: cfg, Redis: rdb, Logger: log})
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	<-ctx.Done() // SIGINT or SIGTERM
	log.Info("shutting down: finishing running sends", "timeout", cfg.Worker.ShutdownTimeout)
	w.Shutdown()
	return nil
}
