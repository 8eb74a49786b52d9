package wecom

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Tenant is one company (authorising corp, 授权方企业) that installed a
// third-party or custom app: ID is its auth_corpid (for a third-party app an
// encrypted, case-sensitive id), AgentID the app's agentid there, Seats its
// corp_user_max (账号上限数; the daily cap is Seats × 200 person-times) and
// Secret its permanent code (永久授权码; for a custom app, the app secret).
type Tenant = providers.Tenant

// ErrUnknownTenant is wrapped by TenantStore.Tenant (and RekeyTenant) when
// the app has no such tenant. It is providers.ErrNotFound.
var ErrUnknownTenant = providers.ErrNotFound

// TenantStore keeps the tenants of one third-party or custom app, secrets
// sealed at rest; the core implements it on Redis.
type TenantStore = providers.TenantStore

// ValidateApp is [Validate] plus the rules that depend on the app's config: an
// app of mode third_party or custom sends for one tenant, so msg.Tenant is
// required; a self-built app has no tenants, so msg.Tenant must be empty.
// Whether the tenant exists is checked by Prepare (it needs the tenant store).
func ValidateApp(cfg Config, msg *providers.Message) error {
	if msg == nil {
		return providers.Invalid("message", "is nil")
	}
	switch {
	case cfg.MultiTenant() && msg.Tenant == "":
		return providers.Invalid("tenant", "required: an app of mode %s sends for one tenant (the authorising corp id)", cfg.EffectiveMode())
	case !cfg.MultiTenant() && msg.Tenant != "":
		return providers.Invalid("tenant", "must be empty: a self-built app has no tenants")
	}
	return Validate(msg)
}

// forTenant returns the client that renders msg's parts: c itself for a
// self-built app; for a multi-tenant app a copy of c whose agentid is the
// tenant's. A missing or unknown tenant is a *providers.ValidationError on
// "tenant"; a disabled one a ClassAppDisabled *providers.Error with Tenant
// set, so that only that tenant is paused; a store failure is ClassRetryable.
func (c *Client) forTenant(ctx context.Context, msg *providers.Message) (*Client, error) {
	if !c.cfg.MultiTenant() {
		if msg.Tenant != "" {
			return nil, providers.Invalid("tenant", "must be empty: a self-built app has no tenants")
		}
		return c, nil
	}
	return c.tenantClient(ctx, opPrepare, msg.Tenant)
}

// tenantClient returns a copy of the multi-tenant client c whose AgentID is
// that of tenant, read from the tenant store, for op. An empty or unknown
// tenant is a *providers.ValidationError on "tenant"; a disabled tenant, or
// one without agentid, is ClassAppDisabled with Tenant set.
func (c *Client) tenantClient(ctx context.Context, op, tenant string) (*Client, error) {
	if tenant == "" {
		return nil, providers.Invalid("tenant", "required: an app of mode %s sends for one tenant (the authorising corp id)", c.cfg.EffectiveMode())
	}
	t, err := c.lookupTenant(ctx, op, tenant)
	if err != nil {
		if errors.Is(err, ErrUnknownTenant) {
			return nil, providers.Invalid("tenant", "unknown tenant %q: the corp has not installed the app (or was removed); add it with `dispatcher tenant add`", tenant)
		}
		return nil, err
	}
	if t.Disabled {
		return nil, disabledError(op, t)
	}
	if t.AgentID <= 0 {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Tenant: t.ID,
			Message: fmt.Sprintf("tenant %s has no agentid", t.ID)}
	}
	cp := *c
	cp.cfg.AgentID = t.AgentID
	return &cp, nil
}

// lookupTenant reads tenant corpID from the store. ErrUnknownTenant is
// returned wrapped as it came; other failures are ClassRetryable for op.
func (c *Client) lookupTenant(ctx context.Context, op, corpID string) (*Tenant, error) {
	if c.tenants == nil {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Message: "no tenant store configured"}
	}
	t, err := c.tenants.Tenant(ctx, corpID)
	if errors.Is(err, ErrUnknownTenant) {
		return nil, err
	}
	if err != nil {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "reading tenant " + corpID, Err: err}
	}
	return t, nil
}

// disabledError is the error of an operation for a disabled tenant.
func disabledError(op string, t *Tenant) *providers.Error {
	msg := fmt.Sprintf("tenant %s is disabled", t.ID)
	if t.DisabledReason != "" {
		msg += ": " + t.DisabledReason
	}
	if !t.DisabledAt.IsZero() {
		msg += " (since " + t.DisabledAt.UTC().Format(time.RFC3339) + ")"
	}
	return &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Tenant: t.ID, Message: msg}
}

// appWideCodes are errcodes that stop the whole app even when a tenant's call
// returned them: the egress IP is not allowed (60020), or the suite itself is
// broken (suite secret, suite id, suite_ticket, suite token).
var appWideCodes = map[int]bool{60020: true, 40080: true, 40082: true, 40083: true, 40085: true, 42009: true}

// scope sets Tenant on the *providers.Error in err when the failure concerns
// only tenant of a multi-tenant app, so that the worker pauses that tenant and
// not the app: a ClassAppDisabled errcode from a call made for the tenant
// (message/send, get_corp_token, a custom app's gettoken) — authorisation
// cancelled (40084, 48004), corp unusable (301007, 2000002), service expired
// (40136–40138), app disabled in that corp (50003), permanent code wrong
// (40001) and the like — unless the code is app-wide (appWideCodes) or the
// error comes from the suite token. HTTP-level failures (no errcode) are
// app-wide. err is returned.
func (c *Client) scope(tenant string, err error) error {
	var pe *providers.Error
	if tenant == "" || !c.cfg.MultiTenant() || !errors.As(err, &pe) || pe.Tenant != "" {
		return err
	}
	if pe.Class == providers.ClassAppDisabled && pe.Code != 0 && pe.Op != opSuiteToken && !appWideCodes[pe.Code] {
		pe.Tenant = tenant
	}
	return err
}
