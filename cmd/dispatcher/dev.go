package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/dashboard"
	"github.com/msgdispatch/msgdispatch/internal/devredis"
	"github.com/msgdispatch/msgdispatch/internal/httpapi"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
	"github.com/msgdispatch/msgdispatch/worker"
)

// The simulated company of dev mode.
const (
	devCorp  = "wwdev00000000001"
	devAgent = 1000002
)

var devUsers = []string{"zhangsan", "lisi", "wangwu", "zhaoliu"}

// devConfig is dev mode's config; the verbs are the Redis address, the HTTP
// API's token, the WeCom simulator's URL, the agent id and the app secret.
const devConfig = `# written by "dispatcher dev"; valid while it runs
redis: {addr: %q}
peak: {enabled: false}   # dev: demo messages go out at once, even at :00 and :30
worker:
  concurrency: 20
  send_timeout: 5s
  shutdown_timeout: 10s
api:
  tokens: [{name: dev, token: %q, apps: [demo, wps, wps365]}]   # the HTTP API's bearer token in dev
apps:
  demo:
    provider: wecom
    wecom:
      base_url: %q
      corp_id: ` + devCorp + `
      agent_id: %d
      secret: %q
`

var devCommand = command{
	name:     "dev",
	synopsis: "[--listen ADDR] [--redis ADDR] [--demo=false] [--exit-after-demo]",
	notes:    "Runs everything in one process — embedded Redis, the WeCom, WPS 协作 and WPS 365 simulators, worker, the HTTP API,\ndashboard, provider callbacks — sends demo messages and prints a config file the other commands can use. No positional arguments.",
	example:  "dispatcher dev --listen 127.0.0.1:8080",
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the dashboard")
	redisAddr := fs.String("redis", "", "use this Redis instead of the embedded one")
	demo := fs.Bool("demo", true, "send demo messages at start")
	exitAfterDemo := fs.Bool("exit-after-demo", false, "stop once the demo messages are done (for scripts and tests)")
	if _, err := devCommand.parse(fs, args, stdout); err != nil {
		return err
	}
	if !loopback(*listen) {
		return fmt.Errorf("dev: --listen %s: the dev dashboard has no login; listen on loopback only (127.0.0.1, [::1], localhost)", *listen)
	}
	log := slog.New(archivedQuiet{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})})

	// Redis: embedded unless told otherwise.
	addr := *redisAddr
	if addr == "" {
		emb, err := devredis.Start("")
		if err != nil {
			return fmt.Errorf("dev: embedded redis: %w", err)
		}
		defer emb.Close()
		addr = emb.Addr()
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("dev: redis at %s: %w", addr, err)
	}

	// The WeCom simulator, with a company, its members and a department.
	sim := wecomsim.New(wecomsim.Options{})
	simURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("dev: wecom simulator: %w", err)
	}
	defer sim.Close()
	secret := randomHex(16)
	if err := sim.AddApp(wecomsim.App{CorpID: devCorp, AgentID: devAgent, Secret: secret}); err != nil {
		return fmt.Errorf("dev: wecom simulator: %w", err)
	}
	sim.AddUsers(devCorp, devUsers...)
	sim.AddDept(devCorp, "1", devUsers...)

	// The dashboard's listener first: the WPS simulators fire card callbacks
	// at it.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("dev: listen on %s (use --listen to pick another address): %w", *listen, err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	wps, err := startDevWPS(base)
	if err != nil {
		return err
	}
	defer wps.close()

	// The config, written where the other subcommands can use it.
	apiToken := "dev-" + randomHex(12)
	dir, err := os.MkdirTemp("", "msgdispatch-dev-")
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, append(fmt.Appendf(nil, devConfig, addr, apiToken, simURL, devAgent, secret), wps.config()...), 0o600); err != nil {
		return fmt.Errorf("dev: write config: %w", err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}

	w, err := worker.New(worker.Options{Config: cfg, Redis: rdb, Logger: log})
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	defer w.Shutdown()

	// The dashboard and the providers' callbacks.
	mux := http.NewServeMux()
	for name, app := range cfg.Apps {
		h, err := catalog.CallbackHandler(name, app, catalog.Deps{Redis: rdb, Asynq: asynq.NewClientFromRedisClient(rdb), Logger: log})
		if err != nil {
			return fmt.Errorf("dev: %w", err)
		}
		if h != nil {
			mux.Handle("POST /callbacks/"+app.Provider+"/"+name, h)
		}
	}
	mux.Handle("/monitoring/", asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: asynq.RedisClientOpt{Addr: addr},
		PayloadFormatter: dashboard.PayloadFormatter, ResultFormatter: dashboard.ResultFormatter})) // open: dev listens on loopback
	v1, err := httpapi.New(httpapi.Options{Config: cfg, Redis: rdb, Logger: log})
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	v1.Register(mux)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "msgdispatch dev\n\ndashboard: /monitoring/\nwecom simulator: %s/sim/deliveries\n", simURL)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	dashboard := base + "/monitoring/"

	fmt.Fprintf(stdout, "msgdispatch dev is running\n\n")
	fmt.Fprintf(stdout, "  dashboard        %s\n", dashboard)
	fmt.Fprintf(stdout, "  wecom simulator  %s  (what each user got: %s/sim/deliveries?user=zhangsan)\n", simURL, simURL)
	fmt.Fprintf(stdout, "  wps 协作 sim     %s  (app wps)\n", wps.xzURL)
	fmt.Fprintf(stdout, "  wps 365 sim      %s  (app wps365, chat %s)\n", wps.w365URL, devWPS365Chat)
	fmt.Fprintf(stdout, "  http api         %s/v1/  (Authorization: Bearer %s; %s/v1/openapi.json)\n", base, apiToken, base)
	fmt.Fprintf(stdout, "  redis            %s\n", addr)
	fmt.Fprintf(stdout, "  config           %s\n", cfgPath)
	fmt.Fprintf(stdout, "  users            %s (department 1 holds them all)\n\n", strings.Join(devUsers, ", "))

	if *demo {
		c := producer.New(cfg, rdb)
		if err := runDemo(ctx, c, stdout); err != nil {
			return err
		}
		if err := runWPSDemo(ctx, c, record.NewStore(rdb), wps, stdout); err != nil {
			return err
		}
	}
	if *exitAfterDemo {
		return nil
	}
	fmt.Fprintf(stdout, "\ntry:  go run ./cmd/dispatcher send --config %s --app demo --to-user zhangsan --text hello\n", cfgPath)
	fmt.Fprintf(stdout, "      go run ./cmd/dispatcher status --config %s <id>\n", cfgPath)
	fmt.Fprintf(stdout, "stop with Ctrl-C\n")
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nshutting down")
	return nil
}

// runDemo sends a few messages that show the main paths and prints how each ended.
func runDemo(ctx context.Context, c *producer.Client, stdout io.Writer) error {
	demos := []struct {
		what string
		msg  providers.Message
	}{
		{"text to one user", providers.Message{To: providers.Recipients{Users: []string{"zhangsan"}}, Kind: providers.KindText, Text: "你好，这是一条测试消息 <a href=\"https://example.com\">详情</a>"}},
		{"markdown to a department", providers.Message{To: providers.Recipients{Depts: []string{"1"}}, Kind: providers.KindMarkdown, Text: "**审批已通过**\n> 请假 2 天"}},
		{"text to a known and an unknown user", providers.Message{To: providers.Recipients{Users: []string{"lisi", "nobody"}}, Kind: providers.KindText, Text: "partial"}},
		{"text to unknown users only", providers.Message{To: providers.Recipients{Users: []string{"ghost1", "ghost2"}}, Kind: providers.KindText, Text: "refused"}},
	}
	ids := make([]string, len(demos))
	for i, d := range demos {
		d.msg.App = "demo"
		id, err := c.Send(ctx, d.msg)
		if err != nil {
			return fmt.Errorf("dev: demo %q: %w", d.what, err)
		}
		ids[i] = id
	}
	fmt.Fprintf(stdout, "sent %d demo messages; waiting for their outcome...\n\n", len(ids))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MESSAGE\tWHAT\tSTATE\tDETAIL")
	deadline := time.Now().Add(30 * time.Second)
	for i, id := range ids {
		st, err := waitTerminal(ctx, c, id, deadline)
		if err != nil {
			return fmt.Errorf("dev: demo %q: %w", demos[i].what, err)
		}
		detail := st.Reason
		if inv := st.Invalid(); len(inv.Users) > 0 {
			detail = "invalid users: " + strings.Join(inv.Users, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", id, demos[i].what, st.State, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return runCardDemo(ctx, c, stdout)
}

// runCardDemo sends an interactive card, updates it once it is accepted, and
// prints what each user sees now.
func runCardDemo(ctx context.Context, c *producer.Client, stdout io.Writer) error {
	card := func(title string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"card_type":"button_interaction","main_title":{"title":%q},`+
			`"button_list":[{"text":"同意","style":1,"key":"approve"},{"text":"驳回","style":2,"key":"reject"}]}`, title))
	}
	deadline := time.Now().Add(30 * time.Second)
	id, err := c.Send(ctx, providers.Message{App: "demo", To: providers.Recipients{Users: []string{"wangwu", "zhaoliu"}},
		Kind: providers.KindCard, Body: card("请假审批：待处理")})
	if err != nil {
		return fmt.Errorf("dev: card demo: %w", err)
	}
	if _, err := waitTerminal(ctx, c, id, deadline); err != nil {
		return fmt.Errorf("dev: card demo: %w", err)
	}
	seq, err := c.Update(ctx, id, producer.Content{Kind: providers.KindCard, Body: card("请假审批：已通过")})
	if err != nil {
		return fmt.Errorf("dev: card demo: update: %w", err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := c.Status(ctx, id)
		if err != nil {
			return fmt.Errorf("dev: card demo: %w", err)
		}
		if u := st.Updates; u != nil && len(u.History) > 0 && u.History[len(u.History)-1].Seq == seq && u.History[len(u.History)-1].State != "pending" {
			last := u.History[len(u.History)-1]
			fmt.Fprintf(stdout, "\ncard %s sent to wangwu, zhaoliu, then updated (update %d: %s)\n", id, seq, last.State)
			for _, user := range []string{"wangwu", "zhaoliu"} {
				r := u.Recipients[user]
				fmt.Fprintf(stdout, "  %-8s sees update %d (%s) %s\n", user, r.Seq, r.State, r.Reason)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("dev: card demo: the update did not finish in 30s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// waitTerminal polls a message's status until it ends (dev mode only: a person
// is watching, and the embedded Redis has no notifications to wait on).
func waitTerminal(ctx context.Context, c *producer.Client, id string, deadline time.Time) (*producer.Status, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := c.Status(ctx, id)
		if err != nil {
			return nil, err
		}
		if st.State.Terminal() {
			return st, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("not finished after 30s: state " + string(st.State))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// archivedQuiet is the dev command's log handler: a message the demo sends to
// fail on purpose ends with its task archived, which asynq and the worker log
// as warnings ("task failed … skip retry", "Retry exhausted"). The outcome is
// in the delivery record and the demo's table, so in dev those two lines are
// logged at debug level (not shown); every other record passes unchanged.
type archivedQuiet struct{ slog.Handler }

func (h archivedQuiet) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && archivedOnPurpose(r) {
		if !h.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		d := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool { d.AddAttrs(a); return true })
		r = d
	}
	return h.Handler.Handle(ctx, r)
}

func (h archivedQuiet) WithAttrs(as []slog.Attr) slog.Handler {
	return archivedQuiet{h.Handler.WithAttrs(as)}
}

func (h archivedQuiet) WithGroup(name string) slog.Handler {
	return archivedQuiet{h.Handler.WithGroup(name)}
}

// archivedOnPurpose reports whether r is asynq's or the worker's warning
// about a task the worker archived itself (a permanent failure it recorded).
func archivedOnPurpose(r slog.Record) bool {
	if strings.HasPrefix(r.Message, "Retry exhausted for task") {
		return true
	}
	skip := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" && strings.HasSuffix(a.Value.String(), asynq.SkipRetry.Error()) {
			skip = true
		}
		return !skip
	})
	return r.Message == "task failed" && skip
}

// loopback reports whether addr (host:port) names a loopback host.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
