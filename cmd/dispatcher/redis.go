package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/producer"
)

// openRedis connects to the Redis of cfg and checks that it answers.
func openRedis(ctx context.Context, cfg config.Redis) (*redis.Client, error) {
	var opt *redis.Options
	switch {
	case cfg.URL != "":
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		opt = o
	case cfg.Addr != "":
		opt = &redis.Options{Addr: cfg.Addr, Password: cfg.Password, DB: cfg.DB}
	default:
		return nil, errors.New("redis: set redis.addr or redis.url in the config (only dev mode embeds a Redis)")
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis at %s does not answer: %w", opt.Addr, err)
	}
	return rdb, nil
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
