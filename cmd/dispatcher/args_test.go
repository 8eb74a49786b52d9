package main

import (
	"strings"
	"testing"
)

// Every command refuses stray arguments, naming them, and takes its ID
// before or after the flags alike.
func TestStrayArgumentsAndIDPosition(t *testing.T) {
	t.Setenv("HR_SECRET", "s") // not parallel: t.Setenv
	b := setup(t)
	if err := b.run("send", "--config", b.cfg, "--app", "hr", "--to-user", "zhangsan", "--text", "hello"); err != nil {
		t.Fatal(err, b.stderr)
	}
	id := strings.TrimSpace(b.stdout.String())
	for _, tc := range []struct {
		desc string
		args []string
		want string
	}{
		{desc: "send: unquoted text", args: []string{"send", "--config", b.cfg, "--app", "hr", "--to-user", "zhangsan", "--text", "hello", "world"}, want: `"world"`},
		{desc: "send: argument first", args: []string{"send", "stray", "--config", b.cfg, "--app", "hr", "--to-user", "zhangsan", "--text", "hello"}, want: `"stray"`},
		{desc: "status: two ids", args: []string{"status", "--config", b.cfg, id, "extra"}, want: `"extra"`},
		{desc: "update: two ids", args: []string{"update", id, "--config", b.cfg, "--text", "a", "extra"}, want: `"extra"`},
		{desc: "cancel: two ids", args: []string{"cancel", id, "extra", "--config", b.cfg}, want: `"extra"`},
		{desc: "worker: an argument", args: []string{"worker", "--config", b.cfg, "now"}, want: `"now"`},
		{desc: "api: an argument", args: []string{"api", "--config", b.cfg, "now"}, want: `"now"`},
		{desc: "dev: an argument", args: []string{"dev", "now"}, want: `"now"`},
		{desc: "tenant list: an argument", args: []string{"tenant", "list", "--config", b.cfg, "--app", "hr", "now"}, want: `"now"`},
	} {
		if err := b.run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to name %s", tc.desc, err, tc.want)
		}
	}
	if n := len(b.sim.Deliveries("zhangsan")); n != 0 {
		t.Errorf("%d deliveries: no worker ran", n)
	}
	// The ID before the flags works like after them.
	if err := b.run("status", id, "--config", b.cfg); err != nil {
		t.Errorf("status ID --config F: %v", err)
	} else if !strings.Contains(b.stdout.String(), `"state": "queued"`) {
		t.Errorf("status ID --config F printed %s", b.stdout)
	}
}
