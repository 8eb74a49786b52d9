package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/quota"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

const quotaUsage = `usage:
  dispatcher quota audit --config F --app A --from T [--to T] [--tenant T] [--json]

audit reads the app's quota windows and ledgers and reports, per recipient,
the peak use of each per-recipient window in [from, to] (the most messages
within any interval of the window's length) and whether a limit was reached.
`

var quotaAuditCommand = &command{
	name:     "quota audit",
	synopsis: "--config F --app A --from T [--to T] [--tenant T] [--json]",
	notes: "Times: RFC 3339 (2026-03-10T10:00:00+08:00), now, or a duration ago (-2h). No positional arguments.\n" +
		"The windows keep arrivals for the longest window plus the margin; a single-tenant app's ledgers\n" +
		"keep them for the ledger TTL (48h by default). A --from older than that is reported as such.",
	example: "dispatcher quota audit --config config.yaml --app hr-bot --from -1h",
}

// runQuota is `dispatcher quota audit`.
func runQuota(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, quotaUsage)
		return errors.New("quota: give a subcommand: audit")
	}
	switch args[0] {
	case "audit":
		return runQuotaAudit(ctx, args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, quotaUsage)
		return nil
	default:
		fmt.Fprint(stderr, quotaUsage)
		return fmt.Errorf("quota: unknown subcommand %q: want audit", args[0])
	}
}

func runQuotaAudit(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("quota audit", flag.ContinueOnError)
	path := fs.String("config", "", "config file (required)")
	app := fs.String("app", "", "the app (required)")
	fromS := fs.String("from", "", "start of the span (required): RFC 3339, now, or -DURATION")
	toS := fs.String("to", "now", "end of the span: RFC 3339, now, or -DURATION")
	tenantS := fs.String("tenant", "", "audit one tenant only (a multi-tenant app's corp id)")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if _, err := quotaAuditCommand.parse(fs, args, stdout); err != nil {
		return err
	}
	now := time.Now()
	switch {
	case *path == "":
		return errors.New("quota audit: --config is required")
	case *app == "":
		return errors.New("quota audit: --app is required")
	case *fromS == "":
		return errors.New("quota audit: --from is required")
	}
	from, err := parseAuditTime(*fromS, now)
	if err != nil {
		return fmt.Errorf("quota audit: --from: %w", err)
	}
	to, err := parseAuditTime(*toS, now)
	if err != nil {
		return fmt.Errorf("quota audit: --to: %w", err)
	}
	if to.Before(from) {
		return fmt.Errorf("quota audit: --to %s is before --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	var tenant *string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "tenant" {
			tenant = tenantS
		}
	})
	cfg, err := config.LoadApps(*path, *app)
	if err != nil {
		return err
	}
	if _, err := cfg.App(*app); err != nil {
		return fmt.Errorf("quota audit: --app: %w", err)
	}
	rdb, err := openRedis(ctx, cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	rep, err := quota.Audit(ctx, rdb, cfg, *app, from, to, tenant)
	if err != nil {
		return fmt.Errorf("quota audit: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(auditJSONOf(rep))
	}
	return writeAuditTable(stdout, rep)
}

// parseAuditTime parses RFC 3339, "now", or "-DURATION" (before now).
func parseAuditTime(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "-"):
		d, err := time.ParseDuration(s[1:])
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%q: want a duration ago such as -2h", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-03-10T10:00:00+08:00), now, or -DURATION", s)
	}
	return t, nil
}

// auditNote says what the audit could not see, or "".
func auditNote(rep *ratelimit.AuditReport) string {
	if !rep.Partial {
		return ""
	}
	longest := time.Duration(0)
	for _, w := range rep.Windows {
		longest = max(longest, w.Window)
	}
	if !rep.LedgerReach.IsZero() {
		return fmt.Sprintf("--from %s is older than the ledgers reach (%s, the ledger TTL): peaks before that are lower bounds",
			rep.From.Format(time.RFC3339), rep.LedgerReach.Format(time.RFC3339))
	}
	return fmt.Sprintf("--from %s is older than the windows reach (%s: the longest window %s + margin %s; arrivals older are trimmed): peaks before that are lower bounds",
		rep.From.Format(time.RFC3339), rep.Reach.Format(time.RFC3339Nano), longest, rep.Margin)
}

func writeAuditTable(w io.Writer, rep *ratelimit.AuditReport) error {
	var ws []string
	for _, x := range rep.Windows {
		ws = append(ws, fmt.Sprintf("%d/%s", x.Count, x.Window))
	}
	fmt.Fprintf(w, "app %s: windows %s (+%s margin), %s → %s\n", rep.App, strings.Join(ws, ", "), rep.Margin,
		rep.From.Format(time.RFC3339Nano), rep.To.Format(time.RFC3339Nano))
	if n := auditNote(rep); n != "" {
		fmt.Fprintln(w, "note:", n)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TENANT\tRECIPIENT\tARRIVALS\t%s\tSTATES\tLIMIT\n", strings.Join(ws, "\t"))
	reached, exceeded := 0, 0
	for _, r := range rep.Recipients {
		var peaks []string
		for _, p := range r.Peaks {
			peaks = append(peaks, fmt.Sprint(p.Peak))
		}
		limit := "-"
		switch {
		case r.Exceeded:
			limit, exceeded = "EXCEEDED", exceeded+1
		case r.Reached:
			limit = "reached"
		}
		if r.Reached {
			reached++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.Tenant, r.Recipient, r.Arrivals, strings.Join(peaks, "\t"), statesText(r.States), limit)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d recipients, %d reached a limit, %d exceeded one\n", len(rep.Recipients), reached, exceeded)
	return err
}

// statesText renders the ledger states in a fixed order: "sent 3, booked 2".
func statesText(m map[string]int) string {
	var out []string
	for _, s := range []string{"sent", "sending", "failed", "admitted", "booked", "unknown"} {
		if m[s] > 0 {
			out = append(out, fmt.Sprintf("%s %d", s, m[s]))
		}
	}
	return strings.Join(out, ", ")
}

// auditJSON is the --json form of an audit.
type auditJSON struct {
	App         string          `json:"app"`
	From        time.Time       `json:"from"`
	To          time.Time       `json:"to"`
	Now         time.Time       `json:"now"`
	Windows     []windowJSON    `json:"windows"`
	Margin      string          `json:"margin"`
	Reach       time.Time       `json:"reach"`
	LedgerReach *time.Time      `json:"ledger_reach,omitempty"`
	Partial     bool            `json:"partial"`
	Note        string          `json:"note,omitempty"`
	Recipients  []recipientJSON `json:"recipients"`
}

type windowJSON struct {
	Count    int        `json:"count"`
	Window   string     `json:"window"`
	Peak     *int       `json:"peak,omitempty"`
	At       *time.Time `json:"at,omitempty"`
	Reached  *bool      `json:"reached,omitempty"`
	Exceeded *bool      `json:"exceeded,omitempty"`
}

type recipientJSON struct {
	Tenant    string         `json:"tenant"`
	Recipient string         `json:"recipient"`
	Arrivals  int            `json:"arrivals"`
	States    map[string]int `json:"states"`
	Peaks     []windowJSON   `json:"peaks"`
	Reached   bool           `json:"reached"`
	Exceeded  bool           `json:"exceeded"`
}

func auditJSONOf(rep *ratelimit.AuditReport) auditJSON {
	out := auditJSON{App: rep.App, From: rep.From, To: rep.To, Now: rep.Now, Margin: rep.Margin.String(), Reach: rep.Reach,
		Partial: rep.Partial, Note: auditNote(rep), Windows: []windowJSON{}, Recipients: []recipientJSON{}}
	if !rep.LedgerReach.IsZero() {
		out.LedgerReach = &rep.LedgerReach
	}
	for _, w := range rep.Windows {
		out.Windows = append(out.Windows, windowJSON{Count: w.Count, Window: w.Window.String()})
	}
	for _, r := range rep.Recipients {
		rj := recipientJSON{Tenant: r.Tenant, Recipient: r.Recipient, Arrivals: r.Arrivals, States: r.States, Reached: r.Reached, Exceeded: r.Exceeded}
		for _, p := range r.Peaks {
			peak, reached, exceeded := p.Peak, p.Reached(), p.Exceeded()
			wj := windowJSON{Count: p.Window.Count, Window: p.Window.Window.String(), Peak: &peak, Reached: &reached, Exceeded: &exceeded}
			if !p.At.IsZero() {
				at := p.At
				wj.At = &at
			}
			rj.Peaks = append(rj.Peaks, wj)
		}
		out.Recipients = append(out.Recipients, rj)
	}
	return out
}
