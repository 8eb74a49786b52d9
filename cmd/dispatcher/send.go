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

var sendCommand = command{
	name: "send",
	synopsis: "--config F --app A [--tenant CORP] (--to-user u1,u2 | --to-dept d | --to-tag t | --to-chat c | --to-all | --to-company)\n" +
		"                      (--text T | --markdown M | --card @file.json | --raw @file.json | --kind K --body @file.json)\n" +
		"                      [--reply-to CHAT/MESSAGE] [--key K] [--at RFC3339] [--expires RFC3339] [--urgent] [--queue Q] [--collapse-key K [--collapse digest]]",
	notes: "Enqueues a message and prints its id. No positional arguments: quote a value that has spaces.\n" +
		"Recipients: one or more of --to-user, --to-dept, --to-tag, --to-chat, or --to-all (--to-company) alone,\n" +
		"each where the app's provider supports it (WeCom: users, departments, tags, all; WPS: users, departments, chats, the company).\n" +
		"--reply-to CHAT/MESSAGE answers a chat message (WPS 365); its recipient is that chat.\n" +
		"Content: exactly one of --text, --markdown, --card, --raw, --kind with --body.\n" +
		"--at is at most worker.retention (168h) ahead; --expires defaults to worker.message_ttl (24h) after --at (or now).\n" +
		"Only the config of --app is read: other apps' ${SECRET}s need not be set.",
	example: `dispatcher send --config config.yaml --app hr-bot --to-user zhangsan,lisi --text "审批已通过" --key leave-4711`,
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	var (
		path    = fs.String("config", "", "config file (required)")
		app     = fs.String("app", "", "configured app to send with (required)")
		tenant  = fs.String("tenant", "", "tenant (auth corp id) of a multi-tenant app")
		users   = fs.String("to-user", "", "comma-separated user ids")
		depts   = fs.String("to-dept", "", "comma-separated department ids")
		tags    = fs.String("to-tag", "", "comma-separated tag ids")
		chats   = fs.String("to-chat", "", "comma-separated chat ids")
		all     = fs.Bool("to-all", false, "every member who can see the app")
		company = fs.Bool("to-company", false, "the whole company (the same as --to-all)")
		replyTo = fs.String("reply-to", "", "CHAT_ID/MESSAGE_ID of the chat message to answer (WPS 365)")
		content = addContentFlags(fs, false)
		key     = fs.String("key", "", "idempotency key: the same key and message return the same id (not empty or blank)")
		at      = fs.String("at", "", "send not before this time (RFC3339), at most worker.retention ahead")
		expires = fs.String("expires", "", "give up after this time (RFC3339); default worker.message_ttl after --at or now")
		urgent  = fs.Bool("urgent", false, "skip peak avoidance; may use the urgent quota headroom")
		queue   = fs.String("queue", "", "queue (default: default, or critical when --urgent)")
		ckey    = fs.String("collapse-key", "", "collapse key: a newer message with it supersedes this one where not sent yet")
		cmode   = fs.String("collapse", "", "with --collapse-key: replace (default) or digest (append \"(and N more since HH:MM)\")")
	)
	if _, err := sendCommand.parse(fs, args, stdout); err != nil {
		return err
	}
	if *path == "" || *app == "" {
		return fmt.Errorf("send: --config and --app are required (%s)", sendCommand.usageLine())
	}
	msg := providers.Message{App: *app, Tenant: *tenant, To: providers.Recipients{
		Users: splitList(*users), Depts: splitList(*depts), Tags: splitList(*tags), Chats: splitList(*chats), All: *all || *company}}
	if *replyTo != "" {
		chat, mid, ok := strings.Cut(*replyTo, "/")
		if !ok || strings.TrimSpace(chat) == "" || strings.TrimSpace(mid) == "" {
			return fmt.Errorf("send: --reply-to: want CHAT_ID/MESSAGE_ID, got %q", *replyTo)
		}
		msg.ReplyTo = &providers.ReplyTo{Chat: chat, MessageID: mid}
	}
	var err error
	if msg.Kind, msg.Text, msg.Body, err = content.content("send"); err != nil {
		return err
	}
	var opts []producer.SendOption
	if isSet(fs, "key") {
		if strings.TrimSpace(*key) == "" {
			return fmt.Errorf("send: --key: empty or blank; give a key, or leave --key out for none")
		}
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
	if *ckey != "" || *cmode != "" {
		opts = append(opts, producer.CollapseKey(*ckey))
		switch *cmode {
		case "", "replace":
		case "digest":
			opts = append(opts, producer.CollapseDigest(""))
		default:
			return fmt.Errorf("--collapse %q: want replace or digest", *cmode)
		}
	}

	var id string
	if err := withProducer(ctx, *path, *app, func(c *producer.Client) (err error) {
		id, err = c.Send(ctx, msg, opts...)
		return cliError("send", "", err)
	}); err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	return nil
}

// isSet reports whether flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
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
