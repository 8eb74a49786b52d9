package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
)

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		path    = fs.String("config", "", "config file (required)")
		app     = fs.String("app", "", "configured app to send with (required)")
		tenant  = fs.String("tenant", "", "tenant (auth corp id) of a multi-tenant app")
		users   = fs.String("to-user", "", "comma-separated user ids")
		depts   = fs.String("to-dept", "", "comma-separated department ids")
		tags    = fs.String("to-tag", "", "comma-separated tag ids")
		all     = fs.Bool("to-all", false, "every member who can see the app")
		content = addContentFlags(fs, false)
		key     = fs.String("key", "", "idempotency key")
		at      = fs.String("at", "", "send not before this time (RFC3339)")
		expires = fs.String("expires", "", "give up after this time (RFC3339)")
		urgent  = fs.Bool("urgent", false, "skip peak avoidance; may use the urgent quota headroom")
		queue   = fs.String("queue", "", "queue (default: default, or critical when --urgent)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *app == "" {
		return fmt.Errorf("send: --config and --app are required")
	}
	msg := providers.Message{App: *app, Tenant: *tenant, To: providers.Recipients{
		Users: splitList(*users), Depts: splitList(*depts), Tags: splitList(*tags), All: *all}}
	var err error
	if msg.Kind, msg.Text, msg.Body, err = content.content("send"); err != nil {
		return err
	}
	var opts []producer.SendOption
	if *key != "" {
		opts = append(opts, producer.IdempotencyKey(*key))
	}
	for _, t := range []struct {
		flag, val string
		opt       func(time.Time) producer.SendOption
	}{{"--at", *at, producer.NotBefore}, {"--expires", *expires, producer.ExpiresAt}} {
		if t.val == "" {
			continue
		}
		ts, err := time.Parse(time.RFC3339, t.val)
		if err != nil {
			return fmt.Errorf("send: %s: want an RFC3339 time like 2026-11-21T09:30:00+08:00: %w", t.flag, err)
		}
		opts = append(opts, t.opt(ts))
	}
	if *urgent {
		opts = append(opts, producer.Urgent())
	}
	if *queue != "" {
		opts = append(opts, producer.Queue(*queue))
	}

	var id string
	if err := withProducer(ctx, *path, func(c *producer.Client) (err error) {
		id, err = c.Send(ctx, msg, opts...)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
