// Package redistest gives tests a private Redis.
//
// Start runs a private redis-server on a free loopback port when redis-server
// is on PATH, and an embedded miniredis (internal/devredis, whose TTLs follow
// the wall clock) otherwise. It never touches any other Redis on the machine.
//
// The environment variable MSGDISPATCH_TEST_REDIS chooses:
//
//	""  or "auto"    redis-server if on PATH, else miniredis (default)
//	"miniredis"      always miniredis
//	"redis-server"   always redis-server; the test fails if it is not on PATH
//	"cluster"        as "auto" for Start; test setups that support it (the
//	                 worker package's) run on StartCluster's Redis Cluster
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/devredis"
)

// EnvVar is the environment variable that picks the kind of server Start runs:
// "auto" (the default when unset), "miniredis" or "redis-server".
const EnvVar = "MSGDISPATCH_TEST_REDIS"

// Kinds of server, as returned by Server.Kind.
const (
	KindRedisServer = "redis-server"
	KindMiniredis   = "miniredis"
)

const (
	startAttempts = 5                // bind races retried by Start and Restart
	readyTimeout  = 10 * time.Second // how long a redis-server may take to answer
	readyPoll     = 10 * time.Millisecond
	outputLimit   = 64 << 10 // bytes of redis-server output kept for failure messages
)

// Server is a private Redis for one test. All resources are released by
// tb.Cleanup.
type Server struct {
	// Addr is the server's host:port (127.0.0.1:port). Restart keeps it.
	Addr string

	tb   testing.TB
	kind string
	bin  string   // redis-server path
	dir  string   // redis-server working directory, kept across Kill and Restart
	args []string // extra redis-server arguments (StartWith)

	mu   sync.Mutex
	proc *process           // running redis-server, or nil
	emb  *devredis.Embedded // running miniredis, or nil
}

// Start starts a private Redis for tb and registers its shutdown with
// tb.Cleanup. It fails the test if the server cannot be started.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, os.Getenv(EnvVar))
}

// StartWith is Start for a real redis-server with extra arguments appended
// to the defaults (a later argument overrides an earlier one, e.g.
// "--appendonly", "yes", "--appendfsync", "everysec"). The server's data
// directory is kept across Kill and Restart, so a server started with
// persistence comes back with what it had made durable. It skips the test
// when only miniredis is available or chosen.
func StartWith(tb testing.TB, args ...string) *Server {
	tb.Helper()
	mode := os.Getenv(EnvVar)
	if mode == KindMiniredis {
		tb.Skip("redistest: StartWith needs a real redis-server; " + EnvVar + "=miniredis")
	}
	if _, err := exec.LookPath("redis-server"); err != nil && mode != KindRedisServer {
		tb.Skip("redistest: StartWith needs redis-server on PATH")
	}
	return start(tb, mode, args...)
}

// start is Start with the mode (a value of EnvVar) and extra redis-server
// arguments given.
func start(tb testing.TB, mode string, args ...string) *Server {
	tb.Helper()
	s := &Server{tb: tb, args: args}
	switch mode {
	case "", "auto", KindRedisServer, ClusterEnv: // a test that needs one server gets one under "cluster" too
		if bin, err := exec.LookPath("redis-server"); err == nil {
			s.kind, s.bin = KindRedisServer, bin
		} else if mode == KindRedisServer {
			tb.Fatalf("redistest: %s=%s but redis-server is not on PATH: %v", EnvVar, mode, err)
		} else {
			s.kind = KindMiniredis
		}
	case KindMiniredis:
		s.kind = KindMiniredis
	default:
		tb.Fatalf("redistest: %s=%q: want auto, miniredis or redis-server", EnvVar, mode)
	}

	if s.kind == KindRedisServer {
		s.dir = tb.TempDir() // before our Cleanup, so removed after the process is gone
		var err error
		for range startAttempts {
			var port int
			if port, err = freePort(); err != nil {
				break
			}
			s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			if err = s.startProcess(); err == nil || !errors.Is(err, errAddrInUse) {
				break
			}
		}
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
	} else {
		emb, err := devredis.Start("127.0.0.1:0")
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		s.emb, s.Addr = emb, emb.Addr()
	}
	tb.Cleanup(s.stop)
	return s
}

// Kind returns KindRedisServer or KindMiniredis.
func (s *Server) Kind() string { return s.kind }

// Real reports whether the server is a real redis-server.
func (s *Server) Real() bool { return s.kind == KindRedisServer }

// Client returns a new client for the server, closed by tb.Cleanup (before the
// server stops).
func (s *Server) Client() *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Kill kills the redis-server with SIGKILL and waits for it to exit: clients
// then fail to connect until Restart. On miniredis, which cannot simulate a
// crash this way, it skips the test (tb.Skip).
func (s *Server) Kill() {
	s.tb.Helper()
	if !s.Real() {
		s.tb.Skip("redistest: Kill needs a real redis-server; running on miniredis (is redis-server on PATH? is " + EnvVar + " set?)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// Restart starts the server again on the same address and data directory
// (with no data unless StartWith turned persistence on), stopping
// it first if it is still running. Clients from Client reconnect by themselves.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
	if s.emb != nil {
		s.emb.Close()
		s.emb = nil
	}
	var err error
	for i := range startAttempts {
		if i > 0 {
			// Another socket (e.g. an outgoing connection's source port) took
			// our port in the meantime; give it a moment to go away.
			time.Sleep(time.Duration(i) * 50 * time.Millisecond)
		}
		if s.Real() {
			err = s.startProcessLocked()
		} else {
			var emb *devredis.Embedded
			if emb, err = devredis.Start(s.Addr); err == nil {
				s.emb = emb
			} else if errors.Is(err, syscall.EADDRINUSE) {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
		}
		if err == nil || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	if err != nil {
		s.tb.Fatalf("redistest: restart on %s: %v", s.Addr, err)
	}
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
	if s.emb != nil {
		s.emb.Close()
		s.emb = nil
	}
}

var errAddrInUse = errors.New("address already in use")

func (s *Server) startProcess() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startProcessLocked()
}

// startProcessLocked starts redis-server on s.Addr and waits until it answers.
// It returns an error wrapping errAddrInUse when the port was taken.
func (s *Server) startProcessLocked() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	args := []string{
		"--port", port,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "warning",
	}
	cmd := exec.Command(s.bin, append(args, s.args...)...)
	out := &limitedBuffer{limit: outputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(s.Addr); err != nil {
		p.kill()
		if strings.Contains(out.String(), "in use") {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return fmt.Errorf("redis-server on %s: %w\n%s", s.Addr, err, out.String())
	}
	s.proc = p
	return nil
}

// process is one redis-server child.
type process struct {
	cmd     *exec.Cmd
	out     *limitedBuffer
	done    chan struct{} // closed when the process has exited
	waitErr error         // set before done is closed
}

// waitReady polls addr until the redis-server answering there is this process
// (its INFO process_id is our pid: after a bind race another test's server may
// answer on the port), the process exits, or readyTimeout passes. It speaks
// RESP directly: a go-redis pool would back off after the first refused dial
// and log every attempt.
func (p *process) waitReady(addr string) error {
	want := "process_id:" + strconv.Itoa(p.cmd.Process.Pid) + "\r\n"
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("exited before answering: %v", p.waitErr)
		default:
		}
		info, err := infoServer(addr)
		if err == nil {
			if strings.Contains(info, want) {
				return nil
			}
			err = errors.New("another redis-server answers on this port")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after %v: %w", readyTimeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(readyPoll):
		}
	}
}

// infoServer returns the reply to INFO server from the Redis at addr.
func infoServer(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, "*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return "", fmt.Errorf("INFO replied %q", line) // e.g. -LOADING
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return "", fmt.Errorf("INFO replied %q", line)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	return string(body), nil
}

// kill sends SIGKILL and waits for the process to exit.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// limitedBuffer keeps the first limit bytes written to it; it is safe for
// concurrent use.
type limitedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
