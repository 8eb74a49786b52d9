package main

import (
	"context"
	"flag"
	"io"
	"log/slog"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/worker"
)

var workerCommand = command{
	name:     "worker",
	synopsis: "--config F",
	notes:    "Consumes and sends the queued jobs of every configured app until SIGTERM or SIGINT. No positional arguments.",
	example:  "dispatcher worker --config config.yaml",
}

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	path := fs.String("config", "", "config file (required)")
	if _, err := workerCommand.parse(fs, args, stdout); err != nil {
		return err
	}
	if *path == "" {
		return missingConfig(&workerCommand)
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
