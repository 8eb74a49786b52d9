package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/devredis"
)

// ownRedis is a Redis the bench started: a private redis-server on a free
// loopback port when one is on PATH, else the embedded one.
type ownRedis struct {
	addr string
	kind string // "redis-server" or "embedded"
	cmd  *exec.Cmd
	dir  string
	emb  *devredis.Embedded
}

// startRedis starts a private Redis. embedded forces the embedded one.
func startRedis(ctx context.Context, embedded bool) (*ownRedis, error) {
	bin, err := exec.LookPath("redis-server")
	if embedded || err != nil {
		emb, err := devredis.Start("127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("bench: embedded redis: %w", err)
		}
		return &ownRedis{addr: emb.Addr(), kind: "embedded", emb: emb}, nil
	}
	dir, err := os.MkdirTemp("", "msgdispatch-bench-redis-")
	if err != nil {
		return nil, fmt.Errorf("bench: redis-server: %w", err)
	}
	var lastErr error
	for range 5 { // a port race with another process is retried
		r, err := startRedisServer(ctx, bin, dir)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func startRedisServer(ctx context.Context, bin, dir string) (*ownRedis, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", "", "--loglevel", "warning")
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", bin, err)
	}
	r := &ownRedis{addr: addr, kind: "redis-server", cmd: cmd, dir: dir}
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := rdb.Ping(ctx).Err(); err == nil {
			return r, nil
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			r.kill()
			return nil, fmt.Errorf("bench: redis-server on %s did not answer: %w", addr, errors.Join(err, ctx.Err()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *ownRedis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// Close stops the server and removes its files.
func (r *ownRedis) Close() {
	if r.emb != nil {
		r.emb.Close()
	}
	r.kill()
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}
