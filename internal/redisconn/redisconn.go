// Package redisconn opens the Redis a config names — one server (redis.addr
// or redis.url), a master watched by Redis Sentinel (redis.sentinel) or a
// Redis Cluster (redis.cluster) — for go-redis and for asynq alike, so that
// every process (worker, api, the command-line tools) reaches it the same way.
//
// The project's keys of one app share the hash tag {app} (one Cluster slot),
// and every Lua script and MULTI touches keys of one app only, so the same
// code runs unchanged on all three; asynq tags its keys with {queue}.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
)

// ErrNotConfigured is returned when the redis block names no Redis (only dev
// mode embeds one).
var ErrNotConfigured = errors.New("redis: set redis.addr, redis.url, redis.sentinel or redis.cluster in the config (only dev mode embeds a Redis)")

// NewClient returns the go-redis client of r without connecting: a
// *redis.Client for addr/url, a *redis.Client following the Sentinel's
// master (redis.NewFailoverClient) or a *redis.ClusterClient.
func NewClient(r config.Redis) (redis.UniversalClient, error) {
	switch {
	case r.Sentinel != nil:
		s := r.Sentinel
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       s.MasterName,
			SentinelAddrs:    s.Addrs,
			SentinelPassword: s.SentinelPassword,
			Password:         sentinelDataPassword(r),
			DB:               r.DB,
		}), nil
	case r.Cluster != nil:
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: r.Cluster.Addrs, Password: r.Password}), nil
	}
	opt, err := serverOptions(r)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opt), nil
}

// ConnOpt returns asynq's connection options for r: RedisClientOpt,
// RedisFailoverClientOpt or RedisClusterClientOpt, for what asynq builds from
// options rather than from a shared client (asynqmon, asynq's metrics
// exporter).
func ConnOpt(r config.Redis) (asynq.RedisConnOpt, error) {
	switch {
	case r.Sentinel != nil:
		s := r.Sentinel
		return asynq.RedisFailoverClientOpt{
			MasterName:       s.MasterName,
			SentinelAddrs:    s.Addrs,
			SentinelPassword: s.SentinelPassword,
			Password:         sentinelDataPassword(r),
			DB:               r.DB,
		}, nil
	case r.Cluster != nil:
		return asynq.RedisClusterClientOpt{Addrs: r.Cluster.Addrs, Password: r.Password}, nil
	}
	opt, err := serverOptions(r)
	if err != nil {
		return nil, err
	}
	return asynq.RedisClientOpt{Network: opt.Network, Addr: opt.Addr, Username: opt.Username, Password: opt.Password,
		DB: opt.DB, TLSConfig: opt.TLSConfig}, nil
}

// Open returns the client of r once it answers PING (for a cluster: every
// master answers), closing it on failure.
func Open(ctx context.Context, r config.Redis) (redis.UniversalClient, error) {
	rdb, err := NewClient(r)
	if err != nil {
		return nil, err
	}
	if err := Ping(ctx, rdb); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("%s does not answer: %w", Describe(r), err)
	}
	return rdb, nil
}

// Ping checks that rdb answers; a cluster client pings every master.
func Ping(ctx context.Context, rdb redis.UniversalClient) error {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return n.Ping(ctx).Err()
		})
	}
	return rdb.Ping(ctx).Err()
}

// Describe names the Redis of r for messages, without its passwords.
func Describe(r config.Redis) string {
	switch {
	case r.Sentinel != nil:
		return fmt.Sprintf("redis master %q of sentinels %s", r.Sentinel.MasterName, strings.Join(r.Sentinel.Addrs, ","))
	case r.Cluster != nil:
		return "redis cluster " + strings.Join(r.Cluster.Addrs, ",")
	}
	if opt, err := serverOptions(r); err == nil {
		return "redis at " + opt.Addr
	}
	return "redis"
}

// serverOptions are the options of the one server of r: its url (which wins)
// or its addr, password and db.
func serverOptions(r config.Redis) (*redis.Options, error) {
	switch {
	case r.URL != "":
		opt, err := redis.ParseURL(r.URL)
		if err != nil {
			var ue *url.Error // it quotes the URL, password and all
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("redis.url: %w", err)
		}
		if opt.Password == "" {
			opt.Password = r.Password
		}
		return opt, nil
	case r.Addr != "":
		return &redis.Options{Addr: r.Addr, Password: r.Password, DB: r.DB}, nil
	}
	return nil, ErrNotConfigured
}

// sentinelDataPassword is the password of a Sentinel-watched master and its
// replicas: redis.sentinel.password, else redis.password.
func sentinelDataPassword(r config.Redis) string {
	if r.Sentinel.Password != "" {
		return r.Sentinel.Password
	}
	return r.Password
}
