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

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
)

// hostileBundle is a config with an app of every provider (no simulator:
// nothing may be sent), its Redis and a producer.
type hostileBundle struct {
	ctx  context.Context
	cfg  string
	dir  string
	rdb  *redis.Client
	prod *producer.Client
	// redisLine points a config at the test's own server.
	redisLine string
}

func setupHostile(t *testing.T) *hostileBundle {
	t.Helper()
	srv := redistest.Start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	text := fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s}
  xz:
    provider: xiezuo
    xiezuo: {base_url: "http://127.0.0.1:1", app_key: AK, app_secret: s, company_id: co1, company_uid: p1}
  w365:
    provider: wps365
    wps365: {base_url: "http://127.0.0.1:1", app_id: AK365, app_secret: s, company_id: c-1}
`, srv.Addr)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	rdb := srv.Client()
	return &hostileBundle{ctx: ctx, cfg: path, dir: dir, rdb: rdb, prod: producer.New(cfg, rdb), redisLine: fmt.Sprintf("redis: {addr: %q}\n", srv.Addr)}
}

// assertNothingWritten fails unless Redis is empty: no asynq task, no
// record, no key at all.
func (b *hostileBundle) assertNothingWritten(t *testing.T, desc string) {
	t.Helper()
	keys, err := b.rdb.Keys(b.ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("%s: Redis holds %d keys after a refusal: %v", desc, len(keys), keys)
		b.rdb.FlushDB(b.ctx) // this test's private server: go on with a clean slate
	}
}

// deep returns JSON nested n levels.
func deep(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }

// many returns n comma-separated ids.
func many(prefix string, n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return strings.Join(ids, ",")
}

// A corpus of hostile input to the CLI, config files and the Go producer:
// each is refused with an error naming the field (or flag) at fault, and
// Redis stays empty (no asynq task, no record, no key).
func TestHostileInputRefusedNothingEnqueued(t *testing.T) {
	t.Parallel()
	b := setupHostile(t)
	big := strings.Repeat("x", 1<<20)
	huge := many("u", 200000) // over limits.max_recipients (10000 by default)
	hugeWant := "to: names 200000 recipients, more than limits.max_recipients (10000)"
	cli := []struct {
		desc string
		args []string
		want string
	}{
		{desc: "send: no arguments", args: []string{"send"}, want: "--config"},
		{desc: "send: no app", args: []string{"send", "--config", "CFG", "--to-user", "u", "--text", "x"}, want: "--app"},
		{desc: "send: unknown app", args: []string{"send", "--config", "CFG", "--app", "nope", "--to-user", "u", "--text", "x"}, want: "app"},
		{desc: "send: app name with control characters", args: []string{"send", "--config", "CFG", "--app", "h\x00r", "--to-user", "u", "--text", "x"}, want: "app"},
		{desc: "send: user id with a control character", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "a\x01b", "--text", "x"}, want: "to.users[0]"},
		{desc: "send: user id with a newline", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u1,a\nb", "--text", "x"}, want: "to.users[1]"},
		{desc: "send: user id of invalid UTF-8", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "\xff\xfe", "--text", "x"}, want: "to.users[0]"},
		{desc: "send xiezuo: repeated user id", args: []string{"send", "--config", "CFG", "--app", "xz", "--to-user", "a,a", "--text", "x"}, want: "to.users[1]"},
		{desc: "send xiezuo: tags", args: []string{"send", "--config", "CFG", "--app", "xz", "--to-tag", many("t", 1000), "--text", "x"}, want: "to.tags"},
		{desc: "send: huge recipient list", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", huge, "--text", "x"}, want: hugeWant},
		{desc: "send xiezuo: huge recipient list", args: []string{"send", "--config", "CFG", "--app", "xz", "--to-user", huge, "--text", "x"}, want: hugeWant},
		{desc: "send wps365: huge recipient list", args: []string{"send", "--config", "CFG", "--app", "w365", "--to-user", huge, "--text", "x"}, want: hugeWant},
		{desc: "send: text over the limit", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", strings.Repeat("长", 5000)}, want: "text"},
		{desc: "send: text of invalid UTF-8", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "a\xffb"}, want: "text"},
		{desc: "send: oversize card", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--card", `{"card_type":"text_notice","main_title":{"title":"` + big + `"}}`}, want: "body"},
		{desc: "send: deeply nested card", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--card", deep(100000)}, want: "--card"},
		{desc: "send: card is an array", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--card", `[1,2]`}, want: "body"},
		{desc: "send: card is a string", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--card", `"card"`}, want: "body"},
		{desc: "send: card of the wrong types", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--card", `{"card_type":7,"main_title":"x"}`}, want: "body"},
		{desc: "send: raw body oversize", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--raw", `{"msgtype":"text","text":{"content":"` + big + `"}}`}, want: "body"},
		{desc: "send: unknown kind", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--kind", "bogus", "--body", `{}`}, want: "kind"},
		{desc: "send: key with a newline", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "x", "--key", "a\nb"}, want: "idempotency_key"},
		{desc: "send: key with a NUL", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "x", "--key", "a\x00b"}, want: "idempotency_key"},
		{desc: "send: oversize key", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "x", "--key", big}, want: "idempotency_key"},
		{desc: "send: --at not a time", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "x", "--at", "tomorrow"}, want: "--at"},
		{desc: "send: --expires in the past", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "x", "--expires", "2001-01-01T00:00:00Z"}, want: "expires"},
		{desc: "send: unknown queue", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "x", "--queue", "q\x07"}, want: "queue"},
		{desc: "send: tenant on a self-built app", args: []string{"send", "--config", "CFG", "--app", "hr", "--tenant", "wpX", "--to-user", "u", "--text", "x"}, want: "tenant"},
		{desc: "send: two contents", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "x", "--markdown", "y"}, want: "--text"},
		{desc: "send: unknown flag", args: []string{"send", "--config", "CFG", "--app", "hr", "--to-user", "u", "--text", "x", "--bogus"}, want: "bogus"},
		{desc: "send xiezuo: text over the limit", args: []string{"send", "--config", "CFG", "--app", "xz", "--to-user", "u", "--text", big}, want: "text"},
		{desc: "send xiezuo: user with a control character", args: []string{"send", "--config", "CFG", "--app", "xz", "--to-user", "u\x1b[31m", "--text", "x"}, want: "to.users[0]"},
		{desc: "send xiezuo: card is a number", args: []string{"send", "--config", "CFG", "--app", "xz", "--to-user", "u", "--card", `42`}, want: "body"},
		{desc: "send xiezuo: deeply nested card", args: []string{"send", "--config", "CFG", "--app", "xz", "--to-user", "u", "--card", `{"elements":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`}, want: "--card"},
		{desc: "send wps365: malformed --reply-to", args: []string{"send", "--config", "CFG", "--app", "w365", "--reply-to", "chat", "--text", "x"}, want: "--reply-to"},
		{desc: "send wps365: chat id of invalid UTF-8", args: []string{"send", "--config", "CFG", "--app", "w365", "--to-chat", "\xc3\x28", "--text", "x"}, want: "to.chats[0]"},
		{desc: "send wps365: oversize card", args: []string{"send", "--config", "CFG", "--app", "w365", "--to-user", "u", "--card", `{"elements":[{"tag":"text","text":"` + big + `"}]}`}, want: "body"},
		{desc: "send wps365: tags", args: []string{"send", "--config", "CFG", "--app", "w365", "--to-tag", "t1", "--text", "x"}, want: "to.tags"},
		{desc: "update: no id", args: []string{"update", "--config", "CFG", "--text", "x"}, want: "ID"},
		{desc: "update: unknown id", args: []string{"update", "--config", "CFG", "hr.nope", "--text", "x"}, want: "hr.nope"},
		{desc: "update: id with control characters", args: []string{"update", "--config", "CFG", "hr.\x00\x01", "--text", "x"}, want: "no message"},
		{desc: "update: id of invalid UTF-8", args: []string{"update", "--config", "CFG", "\xff.\xfe", "--text", "x"}, want: "app"},
		{desc: "update: oversize id", args: []string{"update", "--config", "CFG", "hr." + big, "--text", "x"}, want: "no message"},
		{desc: "update: no content", args: []string{"update", "--config", "CFG", "hr.x"}, want: "--text"},
		{desc: "update: deeply nested card", args: []string{"update", "--config", "CFG", "hr.x", "--card", deep(100000)}, want: "--card"},
		{desc: "cancel: no id", args: []string{"cancel", "--config", "CFG"}, want: "ID"},
		{desc: "cancel: id with a NUL", args: []string{"cancel", "--config", "CFG", "hr.a\x00b"}, want: "no message"},
		{desc: "cancel: oversize id", args: []string{"cancel", "--config", "CFG", "hr." + big}, want: "no message"},
		{desc: "cancel: two ids", args: []string{"cancel", "--config", "CFG", "hr.a", "hr.b"}, want: "ID"},
		{desc: "status: no id", args: []string{"status", "--config", "CFG"}, want: "ID"},
		{desc: "status: id with a newline", args: []string{"status", "--config", "CFG", "hr.a\nb"}, want: "no message"},
		{desc: "status: oversize id", args: []string{"status", "--config", "CFG", "hr." + big}, want: "no message"},
		{desc: "status: id of an unknown app", args: []string{"status", "--config", "CFG", "nope.abc"}, want: "nope"},
	}
	for _, tc := range cli {
		args := make([]string, len(tc.args))
		for i, a := range tc.args {
			args[i] = strings.ReplaceAll(a, "CFG", b.cfg)
		}
		var out, errs bytes.Buffer
		err := run(b.ctx, args, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %.300v, want it to name %q", tc.desc, err, tc.want)
		}
		b.assertNothingWritten(t, tc.desc)
	}

	configs := []struct {
		desc string
		text string
		want string
	}{
		{desc: "config: not YAML", text: "apps: [\n", want: "yaml"},
		{desc: "config: deep nesting", text: "apps: " + strings.Repeat("[", 100000), want: "yaml"},
		{desc: "config: invalid UTF-8", text: "apps:\n  hr:\n    provider: \xff\xfe\n", want: "yaml"},
		{desc: "config: unknown key", text: "apps:\n  hr:\n    provider: wecom\n    wecom: {corp_id: ww1, agent_id: 1, secret: s, bogus: 1}\n", want: "apps.hr.wecom.bogus"},
		{desc: "config: agent_id of the wrong type", text: "apps:\n  hr:\n    provider: wecom\n    wecom: {corp_id: ww1, agent_id: [1], secret: s}\n", want: "apps.hr.wecom.agent_id"},
		{desc: "config: negative concurrency", text: "worker: {concurrency: -5}\n", want: "worker.concurrency"},
		{desc: "config: unknown provider", text: "apps:\n  hr:\n    provider: telegram\n", want: "apps.hr.provider"},
		{desc: "config: missing ${ENV}", text: "apps:\n  hr:\n    provider: wecom\n    wecom: {corp_id: ww1, agent_id: 1, secret: \"${MSGD_HOSTILE_SURELY_UNSET}\"}\n", want: "apps.hr.wecom.secret"},
		{desc: "config: AES key of the wrong length", text: "apps:\n  hr:\n    provider: wecom\n    wecom: {corp_id: ww1, agent_id: 1, secret: s, callback_token: t, encoding_aes_key: short}\n", want: "encoding_aes_key"},
		{desc: "config: alias bomb", text: "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", want: "a"},
		{desc: "config: duplicate app", text: "apps:\n  hr: {provider: wecom}\n  hr: {provider: wecom}\n", want: "hr"},
		{desc: "config: oversize value", text: "apps:\n  hr:\n    provider: wecom\n    wecom: {corp_id: \"" + big + "\", agent_id: 1, secret: s}\n", want: "apps.hr.wecom"},
	}
	for _, tc := range configs {
		path := filepath.Join(b.dir, "hostile.yaml")
		if err := os.WriteFile(path, []byte(b.redisLine+tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errs bytes.Buffer
		err := run(b.ctx, []string{"send", "--config", path, "--app", "hr", "--to-user", "u", "--text", "x"}, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %.300v, want it to name %q", tc.desc, err, tc.want)
		}
		b.assertNothingWritten(t, tc.desc)
	}

	text := func(app, s string, users ...string) providers.Message {
		return providers.Message{App: app, Kind: providers.KindText, Text: s, To: providers.Recipients{Users: users}}
	}
	card := func(app string, body string) providers.Message {
		return providers.Message{App: app, Kind: providers.KindCard, Body: json.RawMessage(body), To: providers.Recipients{Users: []string{"u"}}}
	}
	sends := []struct {
		desc string
		msg  providers.Message
		opts []producer.SendOption
		want string
	}{
		{desc: "producer: empty app", msg: text("", "x", "u"), want: "app"},
		{desc: "producer: unknown app", msg: text("nope", "x", "u"), want: "app"},
		{desc: "producer: empty kind", msg: providers.Message{App: "hr", Text: "x", To: providers.Recipients{Users: []string{"u"}}}, want: "kind"},
		{desc: "producer: text of invalid UTF-8", msg: text("hr", "\xff", "u"), want: "text"},
		{desc: "producer: user with a control character", msg: text("hr", "x", "u\x7f"), want: "to.users[0]"},
		{desc: "producer: huge recipient list", msg: text("hr", "x", strings.Split(huge, ",")...), want: hugeWant},
		{desc: "producer xiezuo: huge recipient list", msg: text("xz", "x", strings.Split(huge, ",")...), want: hugeWant},
		{desc: "producer wps365: huge recipient list", msg: text("w365", "x", strings.Split(huge, ",")...), want: hugeWant},
		{desc: "producer: 10001 targets, users and groups", msg: providers.Message{App: "hr", Kind: providers.KindText, Text: "x",
			To: providers.Recipients{Users: strings.Split(many("u", 10000), ","), Depts: []string{"1"}}}, want: "to: names 10001 recipients"},
		{desc: "producer: tags on WPS 365", msg: providers.Message{App: "w365", Kind: providers.KindText, Text: "x", To: providers.Recipients{Tags: []string{"t"}}}, want: "to.tags"},
		{desc: "producer: deeply nested card", msg: card("hr", deep(50000)), want: "body"},
		{desc: "producer: card that is not JSON", msg: card("hr", `{"card_type":`), want: "body"},
		{desc: "producer: body of the wrong type", msg: card("xz", `12`), want: "body"},
		{desc: "producer: oversize card", msg: card("w365", `{"elements":[{"tag":"text","text":"`+big+`"}]}`), want: "body"},
		{desc: "producer: reply_to on WeCom", msg: providers.Message{App: "hr", Kind: providers.KindText, Text: "x", ReplyTo: &providers.ReplyTo{Chat: "c", MessageID: "m"}}, want: "reply_to"},
		{desc: "producer: tenant on a self-built app", msg: providers.Message{App: "hr", Tenant: "wpX", Kind: providers.KindText, Text: "x", To: providers.Recipients{Users: []string{"u"}}}, want: "tenant"},
		{desc: "producer: oversize idempotency key", msg: text("hr", "x", "u"), opts: []producer.SendOption{producer.IdempotencyKey(big)}, want: "idempotency_key"},
		{desc: "producer: idempotency key with a NUL", msg: text("hr", "x", "u"), opts: []producer.SendOption{producer.IdempotencyKey("k\x00")}, want: "idempotency_key"},
		{desc: "producer: queue with a control character", msg: text("hr", "x", "u"), opts: []producer.SendOption{producer.Queue("de\x00fault")}, want: "queue"},
		{desc: "producer: expired before sent", msg: text("hr", "x", "u"), opts: []producer.SendOption{producer.ExpiresAt(time.Unix(1, 0))}, want: "expires_at"},
		{desc: "producer: not_before in the far future", msg: text("hr", "x", "u"), opts: []producer.SendOption{producer.NotBefore(time.Now().AddDate(50, 0, 0))}, want: "not_before"},
		{desc: "producer: collapse key with a newline", msg: text("hr", "x", "u"), opts: []producer.SendOption{producer.CollapseKey("a\nb")}, want: "collapse"},
	}
	for _, tc := range sends {
		_, err := b.prod.Send(b.ctx, tc.msg, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %.300v, want it to name %q", tc.desc, err, tc.want)
		}
		b.assertNothingWritten(t, tc.desc)
	}
	updates := []struct {
		desc    string
		id      string
		content producer.Content
		want    string
	}{
		{desc: "producer update: unknown id", id: "hr.nope", content: producer.Content{Kind: providers.KindText, Text: "x"}, want: "hr.nope"},
		{desc: "producer update: id with control characters", id: "hr.\x00", content: producer.Content{Kind: providers.KindText, Text: "x"}, want: "no such message"},
		{desc: "producer update: empty id", id: "", content: producer.Content{Kind: providers.KindText, Text: "x"}, want: "id"},
	}
	for _, tc := range updates {
		_, err := b.prod.Update(b.ctx, tc.id, tc.content)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %.300v, want it to name %q", tc.desc, err, tc.want)
		}
		b.assertNothingWritten(t, tc.desc)
	}
	if n := len(cli) + len(configs) + len(sends) + len(updates); n < 60 {
		t.Errorf("the corpus holds %d cases, want at least 60", n)
	} else {
		t.Logf("hostile corpus: %d CLI, %d config, %d producer cases refused, nothing written", len(cli), len(configs), len(sends)+len(updates))
	}
}
