package worker_test

// The outage and token drills for the WPS providers (xiezuo, wps365): each
// runs the core on a private Redis against the provider's simulator.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	"github.com/msgdispatch/msgdispatch/providers"
	_ "github.com/msgdispatch/msgdispatch/providers/wps365" // registers wps365
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo/xiezuosim"
)

const (
	wpsDrillApp     = "drill"
	xzDrillKey      = "AK20240101DRILL"
	xzDrillSecret   = "sk-drill-xiezuo"
	xzDrillCompany  = "c-100"
	w365DrillID     = "AK20240001DRILL"
	w365DrillSecret = "sk-drill-wps365"
	w365DrillComp   = "comp1"
)

// addXiezuoDrillApp registers the drills' WPS 协作 app on sim.
func addXiezuoDrillApp(t testing.TB, sim *xiezuosim.Sim) {
	t.Helper()
	if err := sim.AddApp(xiezuosim.App{Key: xzDrillKey, Secret: xzDrillSecret, Signature: "wps4",
		HeaderStyle: xiezuo.HeaderStyleWPSDocs, UnsignedPrefix: "/o/woa", CompanyID: xzDrillCompany}); err != nil {
		t.Fatal(err)
	}
}

// xiezuoDrillYAML is the config of the drills' WPS 协作 app on the simulator
// at base (the lines under the app's name, without a trailing newline).
func xiezuoDrillYAML(base string) string {
	return fmt.Sprintf(`    provider: xiezuo
    xiezuo:
      base_url: %q
      app_key: %s
      app_secret: %s
      signature: wps4
      header_style: wps_docs
      company_token_path: /o/woa/oauthapi/v3/inner/company/token
      biz_type: approval
      company_id: %s
      company_uid: bot-1`, base, xzDrillKey, xzDrillSecret, xzDrillCompany)
}

// wps365DrillYAML is the config of the drills' WPS 365 app on the simulator
// at base (as xiezuoDrillYAML).
func wps365DrillYAML(base string) string {
	return fmt.Sprintf("    provider: wps365\n    wps365: {base_url: %q, app_id: %s, app_secret: %s, company_id: %s}",
		base, w365DrillID, w365DrillSecret, w365DrillComp)
}

// wpsDrill is the core on a private Redis, one app of a WPS provider, and
// the provider's simulator behind small hooks.
type wpsDrill struct {
	name       string
	ctx        context.Context
	rdb        redis.UniversalClient
	producer   *producer.Client
	records    *record.Store
	calls      *countingTransport
	bundle     *testBundle // for startChild: t and the config YAML
	xz         *xiezuosim.Sim
	w365       *wps365sim.Sim
	setDown    func(bool)
	expire     func()
	addUser    func(string)
	deliveries func(user string) int
	archived   func() int
}

// wpsDrillOpts change what setupWPSDrill builds.
type wpsDrillOpts struct {
	// timeout bounds the drill. Default 25 s plus drillFaultDuration.
	timeout time.Duration
	// noWorker starts no in-process worker (the drill starts worker
	// processes with d.bundle.startChild).
	noWorker bool
	// appYAML are extra lines of the app block (limits, on_unknown).
	appYAML string
	// xiezuo and wps365 are the simulator's options.
	xiezuo xiezuosim.Options
	wps365 wps365sim.Options
}

func setupWPSDrill(t *testing.T, provider string, opts ...func(*wpsDrillOpts)) *wpsDrill {
	t.Helper()
	o := wpsDrillOpts{timeout: 25*time.Second + drillFaultDuration()}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	t.Cleanup(cancel)
	d := &wpsDrill{name: provider, ctx: ctx, calls: &countingTransport{next: http.DefaultTransport}}
	var appYAML string
	switch provider {
	case "xiezuo":
		sim := xiezuosim.New(o.xiezuo)
		d.xz = sim
		base, err := sim.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		addXiezuoDrillApp(t, sim)
		d.setDown, d.expire = sim.SetDown, sim.ExpireTokens
		d.addUser = func(u string) { sim.AddUsers(xzDrillCompany, u) }
		d.deliveries = func(u string) int { return len(sim.Deliveries(u)) }
		appYAML = xiezuoDrillYAML(base)
	case "wps365":
		sim := wps365sim.New(o.wps365)
		d.w365 = sim
		base, err := sim.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		sim.AddApp(w365DrillID, w365DrillSecret, w365DrillComp)
		d.setDown, d.expire = sim.SetDown, sim.ExpireTokens
		d.addUser = func(u string) { sim.AddUsers(u) }
		d.deliveries = func(u string) int { return len(sim.Deliveries(u)) }
		appYAML = wps365DrillYAML(base)
	default:
		t.Fatalf("no drill setup for provider %q", provider)
	}
	srv := redistest.Start(t)
	rdb := srv.Client()
	d.rdb = rdb
	cfgYAML := fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
worker:
  concurrency: 10
  task_check_interval: 10ms
  delayed_task_check_interval: 100ms
  breaker: {failures: 3, timeout: 1s}
apps:
  %s:
%s
%s
`, srv.Addr, wpsDrillApp, appYAML, o.appYAML)
	cfg, err := config.Parse([]byte(cfgYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBundle{t: t, ctx: ctx, cfg: cfg, cfgYAML: cfgYAML}
	d.bundle = b
	if !o.noWorker {
		startDrillWorker(t, b, rdb, d.calls)
	}
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	d.archived = func() int {
		n := 0
		for q := range cfg.Worker.Queues {
			tasks, err := inspector.ListArchivedTasks(q)
			if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				t.Fatal(err)
			}
			n += len(tasks)
		}
		return n
	}
	d.producer = producer.New(cfg, rdb)
	d.records = record.NewStore(rdb)
	return d
}

// send enqueues a text message to a new member of its own.
func (d *wpsDrill) send(t *testing.T, i int) (id, user string) {
	t.Helper()
	user = fmt.Sprintf("drill%03d", i)
	d.addUser(user)
	id, err := d.producer.Send(d.ctx, providers.Message{App: wpsDrillApp, To: providers.Recipients{Users: []string{user}},
		Kind: providers.KindText, Text: fmt.Sprintf("%s drill %d", d.name, i)})
	if err != nil {
		t.Fatal(err)
	}
	return id, user
}

// waitFinished polls message id's record until it is terminal (the drill's
// simulators signal nothing the core can wait on).
func (d *wpsDrill) waitFinished(t *testing.T, id string) *record.Record {
	t.Helper()
	for {
		rec, err := d.records.Get(d.ctx, wpsDrillApp, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if d.ctx.Err() == nil && time.Until(deadlineOf(d.ctx)) < time.Second {
			t.Fatalf("%s still %s (failures %d, wait %+v, last error %s)", id, rec.State, rec.Failures, rec.Wait, rec.LastError)
		}
		if rec.State.Terminal() {
			return rec
		}
		select {
		case <-d.ctx.Done():
			t.Fatalf("%s still %s (failures %d, wait %+v, last error %s)", id, rec.State, rec.Failures, rec.Wait, rec.LastError)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

func TestDrillProviderOutageWPS(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	for _, provider := range []string{"xiezuo", "wps365"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			const n = 20
			outage := drillFaultDuration()
			d := setupWPSDrill(t, provider)
			d.setDown(true)
			ids, users := make([]string, n), make([]string, n)
			for i := range ids {
				ids[i], users[i] = d.send(t, i)
			}
			time.Sleep(outage) // the outage itself: the condition under test
			during := int(d.calls.n.Load())
			breakerWaits := 0
			for _, id := range ids {
				if rec, err := d.records.Get(d.ctx, wpsDrillApp, id); err == nil && rec.Wait != nil && containsFold(rec.Wait.Reason, "breaker") {
					breakerWaits++
				}
			}
			d.setDown(false)
			maxFailures, delivered := 0, 0
			for i, id := range ids {
				rec := d.waitFinished(t, id)
				if rec.State != record.Accepted {
					t.Errorf("%s: state %s failures %d (%s)", id, rec.State, rec.Failures, rec.LastError)
				}
				maxFailures = max(maxFailures, rec.Failures)
				if got := d.deliveries(users[i]); got != 1 {
					t.Errorf("%s got %d messages, want 1", users[i], got)
				} else {
					delivered++
				}
			}
			if breakerWaits == 0 {
				t.Errorf("no message waits on the breaker at the end of the outage")
			}
			if a := d.archived(); a != 0 {
				t.Errorf("%d archived", a)
			}
			if limit := 10 + int(outage/time.Second) + 2; during > limit {
				t.Errorf("%d calls during a %s outage, want at most %d", during, outage, limit)
			}
			t.Logf("%s: %d API calls during the %s outage for %d messages (%d waiting on the breaker at its end); %d/%d delivered after, max failures %d, 0 archived",
				provider, during, outage, n, breakerWaits, delivered, n, maxFailures)
		})
	}
}

func TestDrillTokenRevokedWPS(t *testing.T) {
	skipDrillShort(t)
	t.Parallel()
	for _, provider := range []string{"xiezuo", "wps365"} {
		t.Run(provider, func(t *testing.T) {
			t.Parallel()
			const n = 30
			d := setupWPSDrill(t, provider)
			ids, users := make([]string, n), make([]string, n)
			for i := range ids {
				if i%10 == 5 {
					d.waitFinished(t, ids[i-1])
					d.expire()
				}
				ids[i], users[i] = d.send(t, i)
			}
			failures, delivered := 0, 0
			for i, id := range ids {
				rec := d.waitFinished(t, id)
				if rec.State != record.Accepted {
					t.Errorf("%s: state %s failures %d (%s)", id, rec.State, rec.Failures, rec.LastError)
				}
				failures += rec.Failures
				delivered += d.deliveries(users[i])
			}
			if failures != 0 {
				t.Errorf("%d failures recorded, want 0", failures)
			}
			if delivered != n {
				t.Errorf("%d delivered, want %d", delivered, n)
			}
			t.Logf("%s: %d/%d accepted across 3 token revocations, %d failures", provider, delivered, n, failures)
		})
	}
}
