package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
)

// quotaBundle is a config with one app under 3 per 1s, its Redis, and a
// producer on them.
type quotaBundle struct {
	ctx      context.Context
	path     string
	producer *producer.Client
}

func setupQuota(t *testing.T) *quotaBundle {
	t.Helper()
	srv := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	yaml := fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s}
    limits: {per_recipient: [{count: 3, window: 1s}], margin: 100ms}
`, srv.Addr)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return &quotaBundle{ctx: ctx, path: path, producer: producer.New(cfg, srv.Client())}
}

// Five reservations to zhangsan under 3 per 1s: the audit shows a peak of 3
// (reached, not exceeded), three admitted and two booked, as a table and as
// JSON; a --from beyond the ledgers is flagged.
func TestQuotaAudit(t *testing.T) {
	t.Parallel()
	b := setupQuota(t)
	for range 5 {
		if _, err := b.producer.Reserve(b.ctx, "hr", "", []string{"zhangsan"}, time.Time{}, false); err != nil {
			t.Fatal(err)
		}
	}
	to := time.Now().Add(time.Minute).Format(time.RFC3339)
	var out, errs bytes.Buffer
	if err := run(b.ctx, []string{"quota", "audit", "--config", b.path, "--app", "hr", "--from", "-1m", "--to", to}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	t.Logf("quota audit:\n%s", table)
	for _, want := range []string{"windows 3/1s (+100ms margin)", "zhangsan", "admitted 3, booked 2", "reached", "1 recipients, 1 reached a limit, 0 exceeded one"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "note:") {
		t.Errorf("a note although --from is within reach:\n%s", table)
	}

	out.Reset()
	if err := run(b.ctx, []string{"quota", "audit", "--config", b.path, "--app", "hr", "--from", "-72h", "--to", to, "--json", "--tenant", ""}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	var got auditJSON
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if len(got.Recipients) != 1 {
		t.Fatalf("recipients %+v", got.Recipients)
	}
	r := got.Recipients[0]
	if r.Recipient != "zhangsan" || r.Tenant != "ww1" || r.Arrivals != 5 || r.States["admitted"] != 3 || r.States["booked"] != 2 ||
		len(r.Peaks) != 1 || *r.Peaks[0].Peak != 3 || !*r.Peaks[0].Reached || *r.Peaks[0].Exceeded || !r.Reached {
		t.Errorf("JSON recipient %+v", r)
	}
	if !got.Partial || !strings.Contains(got.Note, "older than the ledgers reach") {
		t.Errorf("--from -72h: partial %v, note %q; want partial with a note", got.Partial, got.Note)
	}
}

// Every malformed audit command is an error naming its flag.
func TestQuotaAuditErrors(t *testing.T) {
	t.Parallel()
	b := setupQuota(t)
	base := []string{"quota", "audit", "--config", b.path}
	for _, tt := range []struct {
		desc string
		args []string
		want string
	}{
		{desc: "no subcommand", args: []string{"quota"}, want: "give a subcommand: audit"},
		{desc: "unknown subcommand", args: []string{"quota", "book"}, want: `unknown subcommand "book"`},
		{desc: "no config", args: []string{"quota", "audit", "--app", "hr", "--from", "-1h"}, want: "--config is required"},
		{desc: "no app", args: append(base, "--from", "-1h"), want: "--app is required"},
		{desc: "no from", args: append(base, "--app", "hr"), want: "--from is required"},
		{desc: "bad from", args: append(base, "--app", "hr", "--from", "yesterday"), want: "--from: \"yesterday\""},
		{desc: "bad to", args: append(base, "--app", "hr", "--from", "-1h", "--to", "-x"), want: "--to: \"-x\""},
		{desc: "to before from", args: append(base, "--app", "hr", "--from", "-1h", "--to", "-2h"), want: "--to"},
		{desc: "unknown app", args: append(base, "--app", "nope", "--from", "-1h"), want: "nope"},
		{desc: "stray argument", args: append(base, "--app", "hr", "--from", "-1h", "extra"), want: "extra"},
	} {
		err := run(b.ctx, tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.desc, err, tt.want)
		}
	}
}
