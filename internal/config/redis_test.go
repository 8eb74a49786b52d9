package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRedisTopologies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		yml  string
		want Redis
	}{
		{
			desc: "url",
			yml:  "redis: {url: \"redis://:${REDIS_PASSWORD}@cache:6380/3\"}\n",
			want: Redis{URL: "redis://:pw@cache:6380/3"},
		},
		{
			desc: "tls url",
			yml:  "redis: {url: \"rediss://cache.example.com:6380\"}\n",
			want: Redis{URL: "rediss://cache.example.com:6380"},
		},
		{
			desc: "sentinel",
			yml: `redis:
  password: ${REDIS_PASSWORD}
  db: 1
  sentinel:
    master_name: mymaster
    addrs: [10.0.0.1:26379, 10.0.0.2:26379, 10.0.0.3:26379]
    sentinel_password: ${SENTINEL_PASSWORD}
`,
			want: Redis{Password: "pw", DB: 1, Sentinel: &Sentinel{MasterName: "mymaster",
				Addrs: []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"}, SentinelPassword: "spw"}},
		},
		{
			desc: "sentinel with its own data password",
			yml:  "redis: {sentinel: {master_name: m, addrs: [\"s1:26379\"], password: \"${REDIS_PASSWORD}\"}}\n",
			want: Redis{Sentinel: &Sentinel{MasterName: "m", Addrs: []string{"s1:26379"}, Password: "pw"}},
		},
		{
			desc: "cluster",
			yml:  "redis: {password: \"${REDIS_PASSWORD}\", cluster: {addrs: [\"n1:7000\", \"n2:7000\"]}}\n",
			want: Redis{Password: "pw", Cluster: &Cluster{Addrs: []string{"n1:7000", "n2:7000"}}},
		},
	}
	env := map[string]string{"HR_SECRET": "h", "REDIS_PASSWORD": "pw", "SENTINEL_PASSWORD": "spw"}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, wecomApp+tt.yml, env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Redis, tt.want) {
				t.Errorf("Redis = %+v, want %+v", c.Redis, tt.want)
			}
		})
	}
}

func TestParseRedisErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		yml  string
		want []string
	}{
		{
			desc: "sentinel and cluster",
			yml:  "redis: {sentinel: {master_name: m, addrs: [\"s:26379\"]}, cluster: {addrs: [\"n:7000\"]}}\n",
			want: []string{"redis: set one of addr/url, sentinel and cluster, not both sentinel and cluster"},
		},
		{
			desc: "sentinel and addr",
			yml:  "redis: {addr: \"r:6379\", sentinel: {master_name: m, addrs: [\"s:26379\"]}}\n",
			want: []string{"redis.sentinel: not with redis.addr or redis.url: set one of addr/url, sentinel and cluster"},
		},
		{
			desc: "cluster and url",
			yml:  "redis: {url: \"redis://r:6379\", cluster: {addrs: [\"n:7000\"]}}\n",
			want: []string{"redis.cluster: not with redis.addr or redis.url: set one of addr/url, sentinel and cluster"},
		},
		{
			desc: "sentinel without master name and addresses",
			yml:  "redis: {sentinel: {password: x}}\n",
			want: []string{"redis.sentinel.addrs: required", "redis.sentinel.master_name: required"},
		},
		{
			desc: "sentinel with an empty master name and no addresses",
			yml:  "redis: {sentinel: {master_name: \"\", addrs: []}}\n",
			want: []string{"redis.sentinel.addrs: at least one host:port is required", "redis.sentinel.master_name: must not be empty"},
		},
		{
			desc: "cluster address without a port",
			yml:  "redis: {cluster: {addrs: [\"n1:7000\", n2]}}\n",
			want: []string{`redis.cluster.addrs[1]: want host:port, got "n2"`},
		},
		{
			desc: "cluster with a database",
			yml:  "redis: {db: 2, cluster: {addrs: [\"n1:7000\"]}}\n",
			want: []string{"redis.db: must be 0 with redis.cluster (a Redis Cluster has only database 0)"},
		},
		{
			desc: "cluster unknown key",
			yml:  "redis: {cluster: {addrs: [\"n1:7000\"], seeds: []}}\n",
			want: []string{"redis.cluster.seeds: unknown key"},
		},
		{
			desc: "url of another scheme, its password hidden",
			yml:  "redis: {url: \"http://u:hunter2@r:6379\"}\n",
			want: []string{`redis.url: want a redis:// or rediss:// URL with a host, got "http://u:xxxxx@r:6379"`},
		},
		{
			desc: "addr without a port",
			yml:  "redis: {addr: redis}\n",
			want: []string{`redis.addr: want host:port, got "redis"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, wecomApp+tt.yml, testEnv)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", c.Redis)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse error lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
