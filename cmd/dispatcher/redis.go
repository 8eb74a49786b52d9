package main

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/redisconn"
	"github.com/msgdispatch/msgdispatch/producer"
)

// openRedis connects to the Redis of cfg — one server, a Sentinel-watched
// master or a Redis Cluster (internal/redisconn) — and checks that it answers.
func openRedis(ctx context.Context, cfg config.Redis) (redis.UniversalClient, error) {
	return redisconn.Open(ctx, cfg)
}

// withProducer loads the config at path with only app (the others' secrets
// are not needed to enqueue), connects to its Redis and runs fn with a
// producer client; the connection is closed when fn returns.
func withProducer(ctx context.Context, path, app string, fn func(*producer.Client) error) error {
	cfg, err := config.LoadApps(path, app)
	if err != nil {
		return err
	}
	rdb, err := openRedis(ctx, cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return fn(producer.New(cfg, rdb))
}

// withMessage is withProducer for the app of message id; cmd names the
// command in errors.
func withMessage(ctx context.Context, path, cmd, id string, fn func(*producer.Client) error) error {
	app, err := job.AppOf(id)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return withProducer(ctx, path, app, fn)
}

// missingConfig is the error of a command run without --config.
func missingConfig(c *command) error {
	return fmt.Errorf("%s: --config is required (%s)", c.name, c.usageLine())
}
