package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mainArgsEnv, when set, makes the test binary run main with these
// arguments (separated by \x1f) instead of the tests: the CLI as a process,
// with its real stdout, stderr and exit code.
const mainArgsEnv = "DISPATCHER_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(mainArgsEnv); ok {
		os.Args = append([]string{"dispatcher"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runMain runs the dispatcher as a process with args and returns its stdout,
// stderr and exit code.
func runMain(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), mainArgsEnv+"="+strings.Join(args, "\x1f"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// -h on every command prints its usage line with its positional arguments,
// the "exactly one of" groups and an example, and exits 0.
func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		args []string
		want []string
	}{
		{desc: "send", args: []string{"send", "-h"}, want: []string{"usage: dispatcher send --config F --app A", "exactly one of --text, --markdown", "No positional arguments"}},
		{desc: "status", args: []string{"status", "--help"}, want: []string{"usage: dispatcher status --config F ID"}},
		{desc: "update", args: []string{"update", "-h"}, want: []string{"usage: dispatcher update --config F ID", "exactly one of --card"}},
		{desc: "cancel", args: []string{"cancel", "-help"}, want: []string{"usage: dispatcher cancel --config F ID"}},
		{desc: "worker", args: []string{"worker", "-h"}, want: []string{"usage: dispatcher worker --config F"}},
		{desc: "api", args: []string{"api", "-h"}, want: []string{"usage: dispatcher api --config F [--listen ADDR]"}},
		{desc: "dev", args: []string{"dev", "-h"}, want: []string{"usage: dispatcher dev [--listen ADDR]"}},
		{desc: "tenant add", args: []string{"tenant", "add", "-h"}, want: []string{"usage: dispatcher tenant add --config F --app A --corp C", "exactly one of --permanent-code"}},
		{desc: "tenant list", args: []string{"tenant", "list", "-h"}, want: []string{"usage: dispatcher tenant list --config F --app A"}},
		{desc: "tenant remove", args: []string{"tenant", "remove", "-h"}, want: []string{"usage: dispatcher tenant remove --config F --app A --corp C"}},
		{desc: "quota audit", args: []string{"quota", "audit", "-h"}, want: []string{"usage: dispatcher quota audit --config F --app A --from T", "a duration ago"}},
		{desc: "-h after other flags", args: []string{"send", "--config", "x.yaml", "-h"}, want: []string{"usage: dispatcher send"}},
	}
	for _, tc := range tests {
		var out, errs bytes.Buffer
		if err := run(context.Background(), tc.args, &out, &errs); err != nil {
			t.Errorf("%s: %v, want nil", tc.desc, err)
		}
		for _, w := range append(tc.want, "example:\n  dispatcher "+tc.args[0], "flags:") {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: usage lacks %q:\n%s", tc.desc, w, out.String())
			}
		}
	}
	stdout, stderr, code := runMain(t, "status", "-h")
	if code != 0 || !strings.Contains(stdout, "usage: dispatcher status") || stderr != "" {
		t.Errorf("dispatcher status -h: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout", code, stdout, stderr)
	}
}

// With Redis down, a command prints one line: no go-redis dial lines before it.
func TestRedisDownIsOneLine(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := fmt.Sprintf(`
redis: {addr: %q}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s}
`, addr)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runMain(t, "status", "hr.x", "--config", path)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 2 || len(lines) != 1 || !strings.Contains(stderr, "does not answer") || !strings.Contains(stderr, addr) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and one line saying Redis at %s does not answer", code, stderr, addr)
	}
}

// The rough edges a new user met, with a running Redis.
func TestCLIRoughEdges(t *testing.T) {
	t.Setenv("HR_SECRET", "s") // not parallel: t.Setenv
	b := setup(t)
	// Another app whose secret is not set: commands for hr do not need it.
	raw, err := os.ReadFile(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	two := filepath.Join(t.TempDir(), "two-apps.yaml")
	extra := "  crm:\n    provider: wecom\n    wecom: {base_url: \"http://127.0.0.1:1\", corp_id: ww2, agent_id: 1000003, secret: \"${MSGD_CLI_TEST_UNSET_SECRET}\"}\n"
	if err := os.WriteFile(two, append(raw, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	send := func(cfg string, args ...string) error {
		return b.run(append([]string{"send", "--config", cfg, "--app", "hr", "--to-user", "zhangsan"}, args...)...)
	}
	if err := send(two, "--text", "hello"); err != nil {
		t.Fatalf("send with another app's secret unset: %v", err)
	}
	id := strings.TrimSpace(b.stdout.String())
	if err := b.run("status", id, "--config", two); err != nil {
		t.Errorf("status with another app's secret unset: %v", err)
	}
	if err := b.run("worker", "--config", two); err == nil || !strings.Contains(err.Error(), "MSGD_CLI_TEST_UNSET_SECRET") {
		t.Errorf("worker: %v, want the unset secret named (it sends for every app)", err)
	}

	for _, tc := range []struct {
		desc string
		args []string
		want string
	}{
		{desc: "empty key", args: []string{"--text", "a", "--key", ""}, want: "--key"},
		{desc: "blank key", args: []string{"--text", "a", "--key", "   "}, want: "--key"},
		{desc: "user id over 64 bytes", args: []string{"--text", "a", "--to-user", "a,b,c," + strings.Repeat("u", 65)}, want: "to.users[3]"},
		{desc: "user id with a space", args: []string{"--text", "a", "--to-user", "zhang san"}, want: "to.users[0]"},
		{desc: "--at beyond the horizon", args: []string{"--text", "a", "--at", "2099-01-01T00:00:00Z"}, want: "worker.retention"},
		{desc: "--at after --expires", args: []string{"--text", "a", "--at", "2098-01-01T00:00:00Z", "--expires", "2097-01-01T00:00:00Z"}, want: "--expires"},
	} {
		err := b.run(append([]string{"send", "--config", b.cfg, "--app", "hr"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line naming %s", tc.desc, err, tc.want)
		}
		if b.stdout.Len() != 0 {
			t.Errorf("%s: printed %q", tc.desc, b.stdout)
		}
	}
	if err := b.run("send", "--config", b.cfg, "--app", "hr", "--to-user", "zhangsan", "--text", "a", "--at", "2099-01-01T00:00:00Z"); err == nil || !strings.Contains(err.Error(), "--at") {
		t.Errorf("--at 2099: %v, want it to name --at", err)
	}

	// One clean line for an unknown message: no prefix repeated.
	err = b.run("status", "--config", b.cfg, "hr.nosuch")
	if err == nil || err.Error() != "status: no message hr.nosuch (it was never sent, or its record expired)" {
		t.Errorf("status of an unknown message: %v", err)
	}
	err = b.run("update", "hr.nosuch", "--config", b.cfg, "--card", `{"card_type":"button_interaction"}`)
	if err == nil || strings.Contains(err.Error(), "record:") || strings.Contains(err.Error(), "producer:") {
		t.Errorf("update of an unknown message: %v, want one clean line", err)
	}
	// A text update of a card is refused on kind, and nothing is written.
	if err := send(b.cfg, "--card", `{"card_type":"button_interaction","main_title":{"title":"t"},"button_list":[{"text":"OK","key":"ok"}]}`); err != nil {
		t.Fatal(err)
	}
	card := strings.TrimSpace(b.stdout.String())
	if err := b.run("update", card, "--config", b.cfg, "--text", "now plain text"); err == nil || !strings.HasPrefix(err.Error(), "update: kind: ") {
		t.Errorf("text update of a card: %v, want it refused on kind", err)
	}
}
