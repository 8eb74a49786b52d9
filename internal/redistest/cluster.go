package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterEnv is the value of EnvVar that makes tests written for it (see
// the worker package's setup) run on a Redis Cluster started by StartCluster.
const ClusterEnv = "cluster"

// clusterMasters is the number of masters StartCluster starts.
const clusterMasters = 3

// Cluster is a private 3-master Redis Cluster (no replicas) on loopback ports,
// for one test. All resources are released by tb.Cleanup.
type Cluster struct {
	// Addrs are the masters' host:port (127.0.0.1:port).
	Addrs []string

	tb    testing.TB
	procs []*process
}

// StartCluster starts a 3-master Redis Cluster for tb — redis-server
// --cluster-enabled yes three times, then redis-cli --cluster create — and
// waits until every node reports cluster_state:ok. It skips the test when
// redis-server or redis-cli is not on PATH.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Skip("redistest: a Redis Cluster needs redis-server on PATH")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Skip("redistest: a Redis Cluster needs redis-cli on PATH")
	}
	c := &Cluster{tb: tb}
	tb.Cleanup(c.stop)
	for i := range clusterMasters {
		dir := filepath.Join(tb.TempDir(), "node"+strconv.Itoa(i))
		p, addr, err := startClusterNode(server, dir)
		if err != nil {
			tb.Fatalf("redistest: cluster node %d: %v", i, err)
		}
		c.procs = append(c.procs, p)
		c.Addrs = append(c.Addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitOK(); err != nil {
		tb.Fatalf("redistest: %v\n%s", err, out)
	}
	return c
}

// startClusterNode starts one cluster-enabled redis-server in dir on a free
// port whose cluster bus port (port+10000) is free too.
func startClusterNode(bin, dir string) (*process, string, error) {
	var lastErr error
	for range startAttempts {
		port, err := freeClusterPort()
		if err != nil {
			return nil, "", err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := spawn(bin, addr, dir,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "5000",
		)
		if err == nil {
			return p, addr, nil
		}
		if lastErr = err; !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, "", lastErr
}

// freeClusterPort returns a free loopback port p below 55536 with p+10000 free.
func freeClusterPort() (int, error) {
	for range 50 {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+10000)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("find a free port pair for a cluster node: none after 50 tries")
}

// waitOK waits until every node says cluster_state:ok and knows all masters.
func (c *Cluster) waitOK() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, addr := range c.Addrs {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(clusterMasters)) {
				break
			}
			if ctx.Err() != nil {
				rdb.Close()
				return fmt.Errorf("cluster node %s not ready: %v\n%s", addr, err, info)
			}
			time.Sleep(50 * time.Millisecond) // polling a state Redis does not signal
		}
		rdb.Close()
	}
	return nil
}

// Client returns a new cluster client, closed by tb.Cleanup (before the
// nodes stop).
func (c *Cluster) Client() *redis.ClusterClient {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	c.tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// YAML is the config's redis block for the cluster, in flow style:
// {cluster: {addrs: [...]}}.
func (c *Cluster) YAML() string {
	return fmt.Sprintf("{cluster: {addrs: [%s]}}", strings.Join(c.Addrs, ", "))
}

// MasterOf returns the address of the master serving key's slot.
func (c *Cluster) MasterOf(ctx context.Context, key string) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	defer rdb.Close()
	slot, err := rdb.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("no node serves slot %d of %s", slot, key)
}

func (c *Cluster) stop() {
	for _, p := range c.procs {
		p.kill()
	}
	c.procs = nil
}
