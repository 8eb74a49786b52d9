package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
)

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		path     = fs.String("config", "", "config file (required)")
		app      = fs.String("app", "", "configured app to send with (required)")
		tenant   = fs.String("tenant", "", "tenant (auth corp id) of a multi-tenant app")
		users    = fs.String("to-user", "", "comma-separated user ids")
		depts    = fs.String("to-dept", "", "comma-separated department ids")
		tags     = fs.String("to-tag", "", "comma-separated tag ids")
		all      = fs.Bool("to-all", false, "every member who can see the app")
		text     = fs.String("text", "", "plain text content")
		markdown = fs.String("markdown", "", "markdown content")
		card     = fs.String("card", "", "card JSON: @file.json or inline JSON")
		raw      = fs.String("raw", "", "provider-native message JSON: @file.json or inline JSON")
		kind     = fs.String("kind", "", "a typed message kind (wecom: textcard, news, mpnews, image, voice, video, file, miniprogram_notice), with --body")
		body     = fs.String("body", "", "the content object of --kind: @file.json or inline JSON")
		key      = fs.String("key", "", "idempotency key")
		at       = fs.String("at", "", "send not before this time (RFC3339)")
		expires  = fs.String("expires", "", "give up after this time (RFC3339)")
		urgent   = fs.Bool("urgent", false, "skip peak avoidance; may use the urgent quota headroom")
		queue    = fs.String("queue", "", "queue (default: default, or critical when --urgent)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" || *app == "" {
		return fmt.Errorf("send: --config and --app are required")
	}
	msg := providers.Message{App: *app, Tenant: *tenant, To: providers.Recipients{
		Users: splitList(*users), Depts: splitList(*depts), Tags: splitList(*tags), All: *all}}
	var kinds []string
	if *text != "" {
		msg.Kind, msg.Text, kinds = providers.KindText, *text, append(kinds, "--text")
	}
	if *markdown != "" {
		msg.Kind, msg.Text, kinds = providers.KindMarkdown, *markdown, append(kinds, "--markdown")
	}
	for _, c := range []struct {
		flag string
		val  string
		kind providers.Kind
	}{{"--card", *card, providers.KindCard}, {"--raw", *raw, providers.KindRaw}, {"--body", *body, providers.Kind(*kind)}} {
		if c.val == "" {
			continue
		}
		body, err := readJSONArg(c.flag, c.val)
		if err != nil {
			return err
		}
		msg.Kind, msg.Body, kinds = c.kind, body, append(kinds, c.flag)
	}
	if (*kind == "") != (*body == "") {
		return fmt.Errorf("send: --kind and --body go together")
	}
	if len(kinds) != 1 {
		return fmt.Errorf("send: give exactly one of --text, --markdown, --card, --raw, --kind/--body (got %d)", len(kinds))
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

// readJSONArg reads "@file.json" or inline JSON and checks that it is JSON.
func readJSONArg(flagName, v string) (json.RawMessage, error) {
	b := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("send: %s: %w", flagName, err)
		}
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("send: %s: not valid JSON", flagName)
	}
	return json.RawMessage(b), nil
}
