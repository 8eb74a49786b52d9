package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// WeCom returns s as the [wecom.TenantStore] a WeCom client and its callback
// handler use.
func (s *Store) WeCom() wecom.TenantStore { return weComStore{s} }

type weComStore struct{ s *Store }

var _ wecom.TenantStore = weComStore{}

// Tenant returns the tenant; ErrNotFound is also wecom.ErrUnknownTenant.
func (w weComStore) Tenant(ctx context.Context, corpID string) (*wecom.Tenant, error) {
	t, err := w.s.Get(ctx, corpID)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", wecom.ErrUnknownTenant, err)
	}
	if err != nil {
		return nil, err
	}
	return &wecom.Tenant{
		CorpID: t.CorpID, CorpName: t.CorpName, AgentID: t.AgentID, CorpUserMax: t.CorpUserMax,
		PermanentCode: t.PermanentCode, Disabled: t.State == Disabled, DisabledReason: t.DisabledReason,
		DisabledAt: t.DisabledAt, AuthorizedAt: t.AuthorizedAt,
	}, nil
}

// PutTenant adds or replaces the tenant (Add).
func (w weComStore) PutTenant(ctx context.Context, t *wecom.Tenant) error {
	st := Active
	if t.Disabled {
		st = Disabled
	}
	return w.s.Add(ctx, Tenant{
		CorpID: t.CorpID, CorpName: t.CorpName, AgentID: t.AgentID, CorpUserMax: t.CorpUserMax,
		PermanentCode: t.PermanentCode, State: st, DisabledReason: t.DisabledReason, DisabledAt: t.DisabledAt,
		AuthorizedAt: t.AuthorizedAt,
	})
}

// DisableTenant disables the tenant (Disable); an unknown tenant is not an
// error: there is nothing to stop.
func (w weComStore) DisableTenant(ctx context.Context, corpID, reason string, at time.Time) error {
	if at.IsZero() {
		at = w.s.opts.Now() // a callback's time: keep the staleness check
	}
	_, err := w.s.Disable(ctx, corpID, reason, at)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// RekeyTenant replaces the permanent code (Rekey); ErrNotFound is also
// wecom.ErrUnknownTenant.
func (w weComStore) RekeyTenant(ctx context.Context, corpID, permanentCode string) error {
	err := w.s.Rekey(ctx, corpID, permanentCode)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %w", wecom.ErrUnknownTenant, err)
	}
	return err
}
