package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// appName is the form of an app name: it appears in Redis keys and URLs.
var appName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// standardQueues are the queues producers enqueue to (docs/architecture.md); each needs
// a weight or its tasks would never run.
var standardQueues = []string{"critical", "default", "low"}

// validate checks the decoded config with its defaults filled in.
func (p *parser) validate(c *Config) {
	p.validateRedis(&c.Redis)
	p.validateWorker(&c.Worker)
	p.validatePeak(&c.Peak)
	if len(c.Apps) == 0 && len(p.skipped) == 0 {
		p.add("apps", "at least one app is required")
	}
	for name, a := range c.Apps {
		p.validateApp("apps."+name, name, &a)
	}
	p.validateAPI(c)
}

func (p *parser) validateWorker(w *Worker) {
	p.atLeast1("worker.concurrency", w.Concurrency)
	p.atLeast1("worker.servers", w.Servers)
	p.atLeast1("worker.failure_budget", w.FailureBudget)
	for name, weight := range w.Queues {
		p.atLeast1("worker.queues."+name, weight)
	}
	for _, name := range standardQueues {
		if _, ok := w.Queues[name]; !ok {
			p.add("worker.queues."+name, "required")
		}
	}
	p.positive("worker.task_check_interval", w.TaskCheckInterval)
	if w.DelayedTaskCheckInterval <= 0 || w.DelayedTaskCheckInterval > time.Second {
		p.add("worker.delayed_task_check_interval", "must be greater than 0 and at most 1s")
	}
	p.positive("worker.send_timeout", w.SendTimeout)
	if w.ShutdownTimeout <= w.SendTimeout {
		p.add("worker.shutdown_timeout", "must be longer than worker.send_timeout (%s)", w.SendTimeout)
	}
	p.positive("worker.message_ttl", w.MessageTTL)
	p.positive("worker.retention", w.Retention)
	p.positive("worker.interactive_ttl", w.InteractiveTTL)
	p.positive("worker.pause_for", w.PauseFor)
	p.listenAddr("worker.metrics_listen", w.MetricsListen)
	p.atLeast1("worker.breaker.failures", w.Breaker.Failures)
	p.positive("worker.breaker.timeout", w.Breaker.Timeout)
}

func (p *parser) validatePeak(pk *Peak) {
	for i, m := range pk.Minutes {
		if m < 0 || m > 59 {
			p.add(fmt.Sprintf("peak.minutes[%d]", i), "must be between 0 and 59")
		}
	}
	p.notNegative("peak.guard", pk.Guard)
	p.positive("peak.spread", pk.Spread)
}

func (p *parser) validateApp(path, name string, a *App) {
	if !appName.MatchString(name) {
		p.add(path, "invalid app name: want lowercase letters, digits, '_' and '-', starting with a letter or digit")
	}
	_, known := providers.Lookup(a.Provider)
	switch {
	case a.Provider == "":
		// Reported by the decoder as required.
	case !known:
		p.add(path+".provider", "unknown provider %s: want %s", p.show(path+".provider", a.Provider), strings.Join(providers.Names(), ", "))
	case a.Block != nil:
		p.validateBlock(path+"."+a.Provider, a.Block)
	}
	p.validateTenantKey(path, a)
	p.validateLimits(path+".limits", &a.Limits)
	if o := a.OnUnknown; o != "" && o != OnUnknownResend && o != OnUnknownGiveUp {
		p.add(path+".on_unknown", "want %s or %s, got %s", OnUnknownResend, OnUnknownGiveUp, p.show(path+".on_unknown", o))
	}
}

// validateBlock records the problems a provider block's Validate reports,
// each at its key path. A message never shows a value that came from the
// environment: such a value is replaced by the variables' names.
func (p *parser) validateBlock(path string, b providers.AppConfig) {
	err := b.Validate()
	if err == nil {
		return
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var ve *providers.ValidationError
		if !errors.As(e, &ve) {
			p.add(path, "%s", p.scrub(path, e.Error()))
			continue
		}
		fpath := join(path, ve.Field)
		p.add(fpath, "%s", p.scrub(fpath, ve.Reason))
	}
}

// validateTenantKey checks apps.X.tenant_key: required by, and only allowed
// for, a multi-tenant app; 32 bytes in hex or base64.
func (p *parser) validateTenantKey(path string, a *App) {
	kpath := path + ".tenant_key"
	switch {
	case a.MultiTenant() && a.TenantKey == "":
		p.add(kpath, "required for an app with tenants: the key that encrypts the tenants' secrets at rest (32 bytes as 64 hex digits or base64; use ${ENV})")
	case !a.MultiTenant() && a.TenantKey != "":
		p.add(kpath, "only used by apps with tenants (whose provider block says so)")
	case a.TenantKey != "":
		if _, err := providers.ParseKey(a.TenantKey); err != nil {
			p.add(kpath, "%v", err)
		}
	}
}

func (p *parser) validateLimits(path string, l *Limits) {
	for i, w := range l.PerRecipient {
		wpath := fmt.Sprintf("%s.per_recipient[%d]", path, i)
		p.atLeast1(wpath+".count", w.Count)
		p.positive(wpath+".window", w.Window)
		if l.UrgentHeadroom >= w.Count && w.Count > 0 {
			p.add(path+".urgent_headroom", "must be less than every per_recipient count (%s.count is %d)", wpath, w.Count)
		}
	}
	if l.Daily < 0 {
		p.add(path+".daily", "must not be negative")
	}
	p.notNegative(path+".margin", l.Margin)
	if l.UrgentHeadroom < 0 {
		p.add(path+".urgent_headroom", "must not be negative")
	}
	p.atLeast1(path+".concurrency", l.Concurrency)
	p.atLeast1(path+".rate", l.Rate)
	p.atLeast1(path+".group_size", l.GroupSize)
	p.atLeast1(path+".max_recipients", l.MaxRecipients)
}

func (p *parser) validateAPI(c *Config) {
	names := map[string]int{}
	tokens := map[string]int{}
	for i, t := range c.API.Tokens {
		path := fmt.Sprintf("api.tokens[%d]", i)
		if j, ok := names[t.Name]; ok && t.Name != "" {
			p.add(path+".name", "same name as api.tokens[%d]", j)
		}
		names[t.Name] = i
		p.validateTokenSecret(path, t, tokens, i)
		if len(t.Apps) == 0 {
			p.add(path+".apps", "at least one app is required")
		}
		for k, app := range t.Apps {
			if _, ok := c.Apps[app]; !ok && !p.skipped[app] {
				apath := fmt.Sprintf("%s.apps[%d]", path, k)
				p.add(apath, "unknown app %s (configured: %s)", p.show(apath, app), c.appNames())
			}
		}
		p.validateTokenScope(path, t)
	}
	p.validateWebhooks(c)
}

// httpURL checks that s is an absolute http or https URL.
func (p *parser) httpURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(path, "want an absolute http or https URL, got %s", p.show(path, s))
	}
}

func (p *parser) atLeast1(path string, n int) {
	if n < 1 {
		p.add(path, "must be at least 1")
	}
}

func (p *parser) positive(path string, d time.Duration) {
	if d <= 0 {
		p.add(path, "must be greater than 0")
	}
}

func (p *parser) notNegative(path string, d time.Duration) {
	if d < 0 {
		p.add(path, "must not be negative")
	}
}
