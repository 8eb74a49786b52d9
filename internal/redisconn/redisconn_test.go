package redisconn

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

func TestOpenServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	tests := []struct {
		desc string
		r    config.Redis
	}{
		{desc: "addr", r: config.Redis{Addr: srv.Addr, DB: 1}},
		{desc: "url wins over addr", r: config.Redis{Addr: "127.0.0.1:1", URL: "redis://" + srv.Addr + "/1"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rdb, err := Open(ctx, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			if _, ok := rdb.(*redis.Client); !ok {
				t.Errorf("client is a %T, want *redis.Client", rdb)
			}
			key := "redisconn:" + tt.desc
			if err := rdb.Set(ctx, key, "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			// Written to database 1, not 0.
			db1 := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 1})
			defer db1.Close()
			if got, err := db1.Get(ctx, key).Result(); err != nil || got != "v" {
				t.Errorf("db 1 %s = %q, %v; want v", key, got, err)
			}
		})
	}
}

func TestOpenRefusesNothingAndSilence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := Open(ctx, config.Redis{}); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Open(empty) = %v, want ErrNotConfigured", err)
	}
	_, err := Open(ctx, config.Redis{URL: "redis://:hunter2@127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "redis at 127.0.0.1:1 does not answer") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open(closed port) = %v, want \"redis at 127.0.0.1:1 does not answer\" without the password", err)
	}
	_, err = Open(ctx, config.Redis{URL: "redis://:hunter2@127.0.0.1:1/notadb"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.HasPrefix(err.Error(), "redis.url: ") {
		t.Errorf("Open(bad db) = %v, want a redis.url error without the password", err)
	}
}

func TestConnOptAndClientKinds(t *testing.T) {
	t.Parallel()
	sentinel := &config.Sentinel{MasterName: "m", Addrs: []string{"s1:26379", "s2:26379"}, SentinelPassword: "sp"}
	tests := []struct {
		desc       string
		r          config.Redis
		wantOpt    asynq.RedisConnOpt
		wantClient string
	}{
		{
			desc:       "addr",
			r:          config.Redis{Addr: "r:6379", Password: "p", DB: 2},
			wantOpt:    asynq.RedisClientOpt{Network: "tcp", Addr: "r:6379", Password: "p", DB: 2},
			wantClient: "*redis.Client",
		},
		{
			desc:       "url with the block's password",
			r:          config.Redis{URL: "redis://r:6380/3", Password: "p"},
			wantOpt:    asynq.RedisClientOpt{Network: "tcp", Addr: "r:6380", Password: "p", DB: 3},
			wantClient: "*redis.Client",
		},
		{
			desc:       "sentinel, data password from the block",
			r:          config.Redis{Password: "p", DB: 1, Sentinel: sentinel},
			wantOpt:    asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"s1:26379", "s2:26379"}, SentinelPassword: "sp", Password: "p", DB: 1},
			wantClient: "*redis.Client",
		},
		{
			desc:       "cluster",
			r:          config.Redis{Password: "p", Cluster: &config.Cluster{Addrs: []string{"n1:7000"}}},
			wantOpt:    asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000"}, Password: "p"},
			wantClient: "*redis.ClusterClient",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			opt, err := ConnOpt(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if o, ok := opt.(asynq.RedisClientOpt); ok && tt.r.URL == "" {
				o.Network = "tcp" // an addr leaves it to go-redis' default
				opt = o
			}
			if !reflect.DeepEqual(opt, tt.wantOpt) {
				t.Errorf("ConnOpt = %#v, want %#v", opt, tt.wantOpt)
			}
			rdb, err := NewClient(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			if got := reflect.TypeOf(rdb).String(); got != tt.wantClient {
				t.Errorf("client is a %s, want %s", got, tt.wantClient)
			}
			if d := Describe(tt.r); strings.Contains(d, "sp") || strings.Contains(d, ":p") {
				t.Errorf("Describe = %q shows a password", d)
			}
		})
	}
}
