package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name StartSentinel's sentinels monitor.
const SentinelMaster = "msgd-test"

// sentinelCount is the number of sentinels StartSentinel starts (quorum 2).
const sentinelCount = 3

// Sentinel is a private master, one replica and three Redis Sentinels on
// loopback ports, for one test. All resources are released by tb.Cleanup.
type Sentinel struct {
	// Addrs are the sentinels' host:port.
	Addrs []string
	// MasterName is the name the sentinels know the master by.
	MasterName string

	tb    testing.TB
	procs []*process
	nodes []string // the data nodes: the first master, then the replica
}

// StartSentinel starts a master (min-replicas-to-write 1, max lag 2 s), a
// replica of it and three sentinels monitoring it (quorum 2, down-after 1 s),
// and waits until every sentinel
// knows the replica and the other sentinels. It skips the test when
// redis-server or redis-sentinel is not on PATH.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Skip("redistest: Sentinel needs redis-server on PATH")
	}
	sentinelBin, err := exec.LookPath("redis-sentinel")
	if err != nil {
		tb.Skip("redistest: Sentinel needs redis-sentinel on PATH (Debian package redis-sentinel)")
	}
	s := &Sentinel{tb: tb, MasterName: SentinelMaster}
	tb.Cleanup(s.stop)
	root := tb.TempDir()
	// The first master refuses writes once its replica has not acknowledged
	// for 2 s (min-replicas-to-write): after the replica is promoted, the
	// old master stops taking writes the clients would lose.
	master, err := s.startNode(server, filepath.Join(root, "master"), "--min-replicas-to-write", "1", "--min-replicas-max-lag", "2")
	if err != nil {
		tb.Fatalf("redistest: sentinel master: %v", err)
	}
	host, port, _ := net.SplitHostPort(master)
	if _, err := s.startNode(server, filepath.Join(root, "replica"), "--replicaof", host, port); err != nil {
		tb.Fatalf("redistest: sentinel replica: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitFor(ctx, s.nodes[1], "INFO replication", func(c *redis.Client) (bool, error) {
		info, err := c.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up"), err
	}); err != nil {
		tb.Fatalf("redistest: replica: %v", err)
	}
	for i := range sentinelCount {
		dir := filepath.Join(root, "sentinel"+strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			tb.Fatal(err)
		}
		var p *process
		var addr string
		for range startAttempts {
			port, perr := freePort()
			if perr != nil {
				tb.Fatalf("redistest: %v", perr)
			}
			addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			conf := filepath.Join(dir, "sentinel.conf")
			body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 2\n"+
				"sentinel down-after-milliseconds %[3]s 1000\nsentinel failover-timeout %[3]s 10000\nsentinel parallel-syncs %[3]s 1\n",
				port, dir, s.MasterName, host, portOf(master))
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				tb.Fatal(err)
			}
			if p, err = spawnArgs(sentinelBin, addr, conf, "--loglevel", "warning", "--logfile", ""); err == nil || !errors.Is(err, errAddrInUse) {
				break
			}
		}
		if err != nil {
			tb.Fatalf("redistest: sentinel %d: %v", i, err)
		}
		s.procs = append(s.procs, p)
		s.Addrs = append(s.Addrs, addr)
	}
	for _, a := range s.Addrs {
		if err := waitFor(ctx, a, "SENTINEL REPLICAS/SENTINELS", func(c *redis.Client) (bool, error) {
			replicas, err := c.Do(ctx, "SENTINEL", "REPLICAS", s.MasterName).Slice()
			if err != nil {
				return false, err
			}
			sentinels, err := c.Do(ctx, "SENTINEL", "SENTINELS", s.MasterName).Slice()
			return len(replicas) == 1 && len(sentinels) == sentinelCount-1, err
		}); err != nil {
			tb.Fatalf("redistest: sentinel %s: %v", a, err)
		}
	}
	return s
}

// startNode starts a data node in dir and records it.
func (s *Sentinel) startNode(bin, dir string, extra ...string) (string, error) {
	var lastErr error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			return "", err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		p, err := spawn(bin, addr, dir, extra...)
		if err == nil {
			s.procs = append(s.procs, p)
			s.nodes = append(s.nodes, addr)
			return addr, nil
		}
		if lastErr = err; !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return "", lastErr
}

// Master asks a sentinel for the current master's address.
func (s *Sentinel) Master(ctx context.Context) (string, error) {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addrs[0]})
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Failover makes the sentinels promote the replica (SENTINEL FAILOVER) and
// waits until they name it master and it answers as one. It returns the new
// master's address.
func (s *Sentinel) Failover(ctx context.Context) (string, error) {
	old, err := s.Master(ctx)
	if err != nil {
		return "", err
	}
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addrs[0]})
	defer c.Close()
	if err := c.Failover(ctx, s.MasterName).Err(); err != nil {
		return "", fmt.Errorf("SENTINEL FAILOVER: %w", err)
	}
	var now string
	for {
		if now, err = s.Master(ctx); err == nil && now != old {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("master still %s: %w", old, ctx.Err())
		case <-time.After(20 * time.Millisecond): // polling a state the sentinel does not push to this client
		}
	}
	err = waitFor(ctx, now, "INFO replication", func(c *redis.Client) (bool, error) {
		info, err := c.Info(ctx, "replication").Result()
		return strings.Contains(info, "role:master"), err
	})
	return now, err
}

// YAML is the config's redis block for the sentinels, in flow style.
func (s *Sentinel) YAML() string {
	return fmt.Sprintf("{sentinel: {master_name: %s, addrs: [%s]}}", s.MasterName, strings.Join(s.Addrs, ", "))
}

func (s *Sentinel) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].kill()
	}
	s.procs = nil
}

// waitFor polls the Redis at addr with check until it reports true or ctx
// ends; what names the check in the error.
func waitFor(ctx context.Context, addr, what string, check func(*redis.Client) (bool, error)) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for {
		ok, err := check(c)
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s on %s: not yet after waiting (%v): %w", what, addr, err, ctx.Err())
		case <-time.After(20 * time.Millisecond): // polling a state Redis does not signal
		}
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
