package deploy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

// The topology of compose.yaml — Redis, two workers and one api — runs here
// as processes: the binary the Dockerfile builds, each dispatcher service's
// own command line from compose.yaml, and deploy/config.yaml with only the
// addresses changed (Redis, the WeCom simulator for WeCom, loopback ports
// for each process). Messages sent with the CLI are delivered by the two
// workers together, /readyz and /metrics answer on every process, and
// SIGTERM stops each one cleanly (exit 0). Docker cannot run here; this is
// the same topology without it.
func TestComposeTopologyAsProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bin := binary(t) // skipped under -short
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	srv := redistest.Start(t)
	sim := wecomsim.New(wecomsim.Options{})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	const corp, agent, secret = "ww1234567890", 1000002, "hr-s3cret-topology"
	if err := sim.AddApp(wecomsim.App{CorpID: corp, AgentID: agent, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	users := []string{"u1", "u2", "u3", "u4", "u5"}
	sim.AddUsers(corp, users...)

	base, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := append(os.Environ(), "HR_SECRET="+secret, "REDIS_PASSWORD=")
	type proc struct {
		name, health string
		cmd          *exec.Cmd
		out          *strings.Builder
	}
	var procs []*proc
	services := get(b.compose, "services").(doc)
	names := make([]string, 0, len(services))
	for name := range services {
		if name != "redis" && name != "dashboard" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var sendConfig string
	for _, name := range names {
		port := freePort(t)
		cfg := rewrite(t, string(base), map[string]string{
			`redis: {addr: "redis:6379"`:            fmt.Sprintf(`redis: {addr: %q`, srv.Addr),
			"base_url: https://qyapi.weixin.qq.com": "base_url: " + simURL,
			`metrics_listen: ":9090"`:               fmt.Sprintf(`metrics_listen: "127.0.0.1:%d"`, port),
			`listen: ":8080"`:                       fmt.Sprintf(`listen: "127.0.0.1:%d"`, port),
		})
		cfg = "peak: {enabled: false}   # the test must not wait for :00 and :30\n" + cfg
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		sendConfig = path
		args := slices.Clone(strs(services, name, "command"))
		if i := slices.Index(args, configPath); i >= 0 {
			args[i] = path
		}
		p := &proc{name: name, health: fmt.Sprintf("http://127.0.0.1:%d", port), out: &strings.Builder{}}
		p.cmd = exec.Command(bin, args...)
		p.cmd.Env = env
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
	})
	for _, p := range procs {
		if err := waitReady(ctx, p.health+"/readyz"); err != nil {
			t.Fatalf("%s never ready: %v\n%s", p.name, err, p.out)
		}
	}

	const n = 10
	for i := range n {
		send := exec.CommandContext(ctx, bin, "send", "--config", sendConfig, "--app", "hr",
			"--to-user", users[i%len(users)], "--text", fmt.Sprintf("topology %d", i))
		send.Env = env
		out, err := send.CombinedOutput()
		if err != nil {
			t.Fatalf("send: %v\n%s", err, out)
		}
	}
	if err := sim.WaitDeliveries(ctx, n); err != nil {
		t.Fatalf("delivered %d of %d: %v", sim.DeliveryCount(), n, err)
	}

	// Both workers report, and together they accepted every message. A
	// worker counts a message once it has recorded the provider's answer,
	// just after the simulator saw the request: read until the count
	// settles (the metrics endpoint is the only signal another process gives).
	accepted := func() int {
		n := 0
		for _, p := range procs {
			if strings.HasPrefix(p.name, "worker") {
				n += scrape(t, p.health+"/metrics", `msgdispatch_messages_finished_total{app="hr",outcome="accepted",provider="wecom"}`)
			}
		}
		return n
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	got := accepted()
	for ; got < n && ctx.Err() == nil; got = accepted() {
		<-tick.C
	}
	if got != n {
		t.Errorf("the workers' metrics count %d accepted, want %d", got, n)
	}

	for _, p := range procs {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s exited with %v after SIGTERM\n%s", p.name, err, p.out)
			}
		case <-ctx.Done():
			t.Errorf("%s did not stop after SIGTERM", p.name)
		}
	}
	for _, p := range procs {
		if strings.Contains(p.out.String(), secret) {
			t.Errorf("%s logged the app secret", p.name)
		}
	}
}

// rewrite replaces each key of repl in s, which must hold it.
func rewrite(t *testing.T, s string, repl map[string]string) string {
	t.Helper()
	for old, repl := range repl {
		if !strings.Contains(s, old) {
			if strings.HasPrefix(old, "listen") || strings.HasPrefix(old, "metrics_listen") {
				continue
			}
			t.Fatalf("config.yaml lacks %q", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitReady polls url until it answers 200: the processes are other
// programs, and their readiness endpoint is the signal.
func waitReady(ctx context.Context, url string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := http.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// scrape returns the value of the series named exactly series at url.
func scrape(t *testing.T, url, series string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(series) + ` ([0-9.e+]+)$`)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			f, _ := strconv.ParseFloat(m[1], 64)
			return int(f)
		}
	}
	return 0
}
