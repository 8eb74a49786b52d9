package quota

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// Audit reports the peak use of app's windows per recipient in [from, to]
// (see ratelimit.Limiter.Audit), with the policy the worker enforces.
// tenant, when not nil, restricts it to one tenant (the provider tenant as
// producers give it: "" for a single-tenant app's own). For a single-tenant
// app the ledgers fill in what the windows trimmed, so the audit sees back
// to the ledger TTL; a multi-tenant app's audit sees back to the longest
// window plus the margin.
func Audit(ctx context.Context, rdb redis.UniversalClient, cfg *config.Config, app string, from, to time.Time, tenant *string) (*ratelimit.AuditReport, error) {
	a, ok := cfg.Apps[app]
	if !ok {
		return nil, fmt.Errorf("quota: audit: app %q is not configured", app)
	}
	l, err := ratelimit.New(rdb, ratelimit.Options{Policies: map[string]ratelimit.Policy{app: Policy(a, cfg.Peak, cfg.Worker.MessageTTL)}})
	if err != nil {
		return nil, fmt.Errorf("quota: audit %s: %w", app, err)
	}
	q := ratelimit.AuditQuery{From: from, To: to}
	if tenant != nil {
		q.Tenant, q.OneTenant = *tenant, true
		if a.Block != nil {
			q.Tenant = a.Block.Company(*tenant)
		}
	}
	if a.Block != nil && !a.MultiTenant() {
		own := a.Block.Company("")
		q.LedgerTenant = &own
	}
	return l.Audit(ctx, app, q)
}
