package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// A bad flag of bench is one error naming the flag, before anything starts.
func TestBenchFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		args []string
		want string
	}{
		{desc: "zero messages", args: []string{"-n", "0"}, want: "-n 0"},
		{desc: "negative users", args: []string{"-users", "-3"}, want: "-users -3"},
		{desc: "zero servers", args: []string{"-servers", "0"}, want: "-servers 0"},
		{desc: "zero concurrency", args: []string{"-concurrency", "0"}, want: "-concurrency 0"},
		{desc: "quotas neither on nor off", args: []string{"-quotas", "maybe"}, want: `-quotas "maybe"`},
		{desc: "negative latency", args: []string{"-latency", "-1ms"}, want: "-latency -1ms"},
		{desc: "latency without unit", args: []string{"-latency", "5"}, want: "-latency"},
		{desc: "zero payload", args: []string{"-payload", "0"}, want: "-payload 0"},
		{desc: "unknown provider", args: []string{"-provider", "slack"}, want: `-provider "slack"`},
		{desc: "negative idle", args: []string{"--idle", "-1"}, want: "--idle -1"},
		{desc: "negative procs", args: []string{"-procs", "-1"}, want: "-procs -1"},
		{desc: "idle and sweep", args: []string{"--idle", "5", "--sweep"}, want: "--idle and --sweep"},
		{desc: "unknown flag", args: []string{"--fast"}, want: "-fast"},
		{desc: "stray argument", args: []string{"now"}, want: `"now"`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			var out, errs bytes.Buffer
			err := run(context.Background(), append([]string{"bench"}, tc.args...), &out, &errs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to name %s", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q before failing", out.String())
			}
		})
	}
}

// bench -h prints its usage with the flags and an example.
func TestBenchHelp(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"bench", "-h"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"usage: dispatcher bench", "-quotas", "--sweep", "example:\n  dispatcher bench"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("usage lacks %q:\n%s", w, out.String())
		}
	}
}

// A tiny bench through the command prints the table and one JSON line
// with both sides, and the GOMAXPROCS it ran with (-procs: here the test
// binary's own, so that the other tests running beside it keep theirs).
func TestBenchCommandTiny(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	procs := runtime.GOMAXPROCS(0)
	if err := run(context.Background(), []string{"bench", "-n", "30", "-users", "10", "-quotas", "off", "--task-check-interval", "10ms", "-procs", strconv.Itoa(procs)}, &out, &errs); err != nil {
		t.Fatal(err, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	if _, ok := m["pipeline"].(map[string]any); !ok {
		t.Errorf("JSON lacks pipeline: %s", lines[len(lines)-1])
	}
	if _, ok := m["baseline"].(map[string]any); !ok {
		t.Errorf("JSON lacks baseline: %s", lines[len(lines)-1])
	}
	if got, _ := m["procs"].(float64); int(got) != procs {
		t.Errorf("JSON procs = %v, want %d", m["procs"], procs)
	}
	if !strings.Contains(out.String(), "throughput (msg/s)") {
		t.Errorf("no table:\n%s", out.String())
	}
}
