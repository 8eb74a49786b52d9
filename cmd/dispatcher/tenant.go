package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
)

const tenantUsage = `usage:
  dispatcher tenant add    --config F --app A --corp C --agent-id N (--permanent-code - | --permanent-code-env NAME | --permanent-code V)
                           [--corp-name S] [--corp-user-max N]
  dispatcher tenant list   --config F --app A
  dispatcher tenant remove --config F --app A --corp C [--purge]

Tenants are the companies that installed a WeCom third-party or custom (代开发)
app; WeCom's create_auth callback adds them by itself. "add" is for tenants
installed before the dispatcher served the callbacks. The permanent code is
read from stdin (-) or an environment variable rather than given as a value,
which other users of the machine could see; it is never printed.
"remove" disables the tenant (its messages wait) unless --purge deletes it
(its messages then fail as for an unknown tenant).
`

// stdinKey is a context key whose value, an io.Reader, replaces os.Stdin (tests).
type stdinKey struct{}

func stdinFrom(ctx context.Context) io.Reader {
	if r, ok := ctx.Value(stdinKey{}).(io.Reader); ok {
		return r
	}
	return os.Stdin
}

// runTenant is `dispatcher tenant add|list|remove`.
func runTenant(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tenantUsage)
		return errors.New("tenant: give a subcommand: add, list or remove")
	}
	switch args[0] {
	case "add":
		return runTenantAdd(ctx, args[1:], stdout, stderr)
	case "list":
		return runTenantList(ctx, args[1:], stdout, stderr)
	case "remove":
		return runTenantRemove(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, tenantUsage)
		return nil
	default:
		fmt.Fprint(stderr, tenantUsage)
		return fmt.Errorf("tenant: unknown subcommand %q: want add, list or remove", args[0])
	}
}

// tenantCommands describe the tenant subcommands for parsing and -h.
var tenantCommands = map[string]*command{
	"add": {
		name:     "tenant add",
		synopsis: "--config F --app A --corp C --agent-id N (--permanent-code - | --permanent-code-env NAME | --permanent-code V) [--corp-name S] [--corp-user-max N]",
		notes:    "Adds a tenant installed before the dispatcher served WeCom's callbacks. No positional arguments.\nPermanent code: exactly one of --permanent-code (- reads stdin) and --permanent-code-env.",
		example:  "dispatcher tenant add --config config.yaml --app crm --corp wwabcdef0123456789 --agent-id 1000005 --permanent-code - < code.txt",
	},
	"list": {
		name:     "tenant list",
		synopsis: "--config F --app A",
		notes:    "Lists the tenants of a multi-tenant app (no permanent code is printed). No positional arguments.",
		example:  "dispatcher tenant list --config config.yaml --app crm",
	},
	"remove": {
		name:     "tenant remove",
		synopsis: "--config F --app A --corp C [--purge]",
		notes:    "Disables a tenant (its messages wait), or deletes it with --purge. No positional arguments.",
		example:  "dispatcher tenant remove --config config.yaml --app crm --corp wwabcdef0123456789",
	},
}

// tenantFlags are the flags every tenant subcommand has.
type tenantFlags struct {
	cmd    *command
	fs     *flag.FlagSet
	stdout io.Writer
	path   *string
	app    *string
}

func newTenantFlags(name string, stdout io.Writer) *tenantFlags {
	fs := flag.NewFlagSet("tenant "+name, flag.ContinueOnError)
	return &tenantFlags{cmd: tenantCommands[name], fs: fs, stdout: stdout,
		path: fs.String("config", "", "config file (required)"), app: fs.String("app", "", "the multi-tenant app (required)")}
}

// parse parses args: flags in any order, no positional argument, -h prints
// the usage.
func (f *tenantFlags) parse(args []string) error {
	_, err := f.cmd.parse(f.fs, args, f.stdout)
	return err
}

// open parses args (unless the caller did), loads the config and returns the
// app's tenant store and a function releasing it.
func (f *tenantFlags) open(ctx context.Context, cmd string, args []string) (*tenant.Store, func(), error) {
	if !f.fs.Parsed() {
		if err := f.parse(args); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case *f.path == "":
		return nil, nil, fmt.Errorf("tenant %s: --config is required", cmd)
	case *f.app == "":
		return nil, nil, fmt.Errorf("tenant %s: --app is required", cmd)
	}
	cfg, err := config.LoadApps(*f.path, *f.app)
	if err != nil {
		return nil, nil, err
	}
	app, err := cfg.App(*f.app)
	if err != nil {
		return nil, nil, fmt.Errorf("tenant %s: --app: %w", cmd, err)
	}
	if !app.MultiTenant() {
		return nil, nil, fmt.Errorf("tenant %s: --app: app %s has no tenants (only wecom apps of mode third_party or custom have)", cmd, *f.app)
	}
	rdb, err := openRedis(ctx, cfg.Redis)
	if err != nil {
		return nil, nil, err
	}
	ts, err := catalog.Tenants(rdb, *f.app, app)
	if err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("tenant %s: %w", cmd, err)
	}
	return ts, func() { rdb.Close() }, nil
}

func runTenantAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newTenantFlags("add", stdout)
	corp := f.fs.String("corp", "", "the tenant's corp id (auth_corpid) (required)")
	agentID := f.fs.Int64("agent-id", 0, "the app's agentid in the tenant's corp (required)")
	code := f.fs.String("permanent-code", "", `the permanent code; "-" reads it from stdin (prefer this or --permanent-code-env)`)
	codeEnv := f.fs.String("permanent-code-env", "", "read the permanent code from this environment variable")
	name := f.fs.String("corp-name", "", "the tenant's name")
	userMax := f.fs.Int("corp-user-max", 0, "the tenant's seat count (corp_user_max); 0 = unknown")
	// Check the flags before touching Redis: errors name the flag.
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case *corp == "":
		return errors.New("tenant add: --corp is required")
	case *agentID <= 0:
		return errors.New("tenant add: --agent-id is required and must be greater than 0")
	case *userMax < 0:
		return errors.New("tenant add: --corp-user-max must not be negative")
	case *code != "" && *codeEnv != "":
		return errors.New("tenant add: give --permanent-code or --permanent-code-env, not both")
	case *code == "" && *codeEnv == "":
		return errors.New("tenant add: --permanent-code is required (--permanent-code - reads it from stdin; --permanent-code-env NAME from the environment)")
	}
	if err := tenant.CheckCorpID(*corp); err != nil {
		return fmt.Errorf("tenant add: --corp: %w", err)
	}
	secret, err := readPermanentCode(ctx, *code, *codeEnv)
	if err != nil {
		return err
	}
	ts, done, err := f.open(ctx, "add", args)
	if err != nil {
		return err
	}
	defer done()
	t := tenant.Tenant{ID: *corp, Name: *name, AgentID: *agentID, Seats: *userMax, Secret: secret}
	if err := ts.Add(ctx, t); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tenant %s of app %s added: agent %d, corp_user_max %d, active\n", *corp, ts.App(), *agentID, *userMax)
	return nil
}

// readPermanentCode reads the code from the flag value, stdin ("-") or the
// environment. Errors never contain it.
func readPermanentCode(ctx context.Context, value, env string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("tenant add: --permanent-code-env: environment variable %s is not set or empty", env)
		}
		return strings.TrimSpace(v), nil
	case value == "-":
		line, err := bufio.NewReader(io.LimitReader(stdinFrom(ctx), 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("tenant add: --permanent-code -: reading stdin: %w", err)
		}
		if line = strings.TrimSpace(line); line == "" {
			return "", errors.New("tenant add: --permanent-code -: stdin is empty")
		}
		return line, nil
	default:
		return strings.TrimSpace(value), nil
	}
}

func runTenantList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newTenantFlags("list", stdout)
	ts, done, err := f.open(ctx, "list", args)
	if err != nil {
		return err
	}
	defer done()
	list, err := ts.List(ctx) // no permanent code is decrypted
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CORP ID\tNAME\tAGENT ID\tUSER MAX\tSTATE\tSINCE\tREASON")
	for _, t := range list {
		since := t.AuthorizedAt
		if t.State == tenant.Disabled {
			since = t.DisabledAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", t.ID, dash(t.Name), t.AgentID, t.Seats, t.State, stamp(since), dash(t.DisabledReason))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(stderr, "app %s has no tenants yet\n", ts.App())
	}
	return nil
}

func runTenantRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newTenantFlags("remove", stdout)
	corp := f.fs.String("corp", "", "the tenant's corp id (required)")
	purge := f.fs.Bool("purge", false, "delete the tenant instead of disabling it")
	if err := f.parse(args); err != nil {
		return err
	}
	if *corp == "" {
		return errors.New("tenant remove: --corp is required")
	}
	ts, done, err := f.open(ctx, "remove", args)
	if err != nil {
		return err
	}
	defer done()
	if *purge {
		if err := ts.Remove(ctx, *corp); err != nil {
			return fmt.Errorf("tenant remove: --corp: %w", err)
		}
		fmt.Fprintf(stdout, "tenant %s of app %s deleted\n", *corp, ts.App())
		return nil
	}
	if _, err := ts.Disable(ctx, *corp, "removed by an operator (dispatcher tenant remove)", time.Time{}); err != nil {
		return fmt.Errorf("tenant remove: --corp: %w", err)
	}
	fmt.Fprintf(stdout, "tenant %s of app %s disabled: its messages wait until it is added again\n", *corp, ts.App())
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
