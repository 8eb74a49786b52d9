package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Neutral returns s as the [providers.TenantStore] a provider client and its
// callback handler use.
func (s *Store) Neutral() providers.TenantStore { return neutralStore{s} }

type neutralStore struct{ s *Store }

var _ providers.TenantStore = neutralStore{}

// Tenant returns the tenant; ErrNotFound is also providers.ErrNotFound.
func (n neutralStore) Tenant(ctx context.Context, id string) (*providers.Tenant, error) {
	t, err := n.s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", providers.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	return &providers.Tenant{
		ID: t.ID, Name: t.Name, AgentID: t.AgentID, Seats: t.Seats,
		Secret: t.Secret, Disabled: t.State == Disabled, DisabledReason: t.DisabledReason,
		DisabledAt: t.DisabledAt, AuthorizedAt: t.AuthorizedAt,
	}, nil
}

// PutTenant adds or replaces the tenant (Add).
func (n neutralStore) PutTenant(ctx context.Context, t *providers.Tenant) error {
	st := Active
	if t.Disabled {
		st = Disabled
	}
	return n.s.Add(ctx, Tenant{
		ID: t.ID, Name: t.Name, AgentID: t.AgentID, Seats: t.Seats,
		Secret: t.Secret, State: st, DisabledReason: t.DisabledReason, DisabledAt: t.DisabledAt,
		AuthorizedAt: t.AuthorizedAt,
	})
}

// DisableTenant disables the tenant (Disable); an unknown tenant is not an
// error: there is nothing to stop.
func (n neutralStore) DisableTenant(ctx context.Context, id, reason string, at time.Time) error {
	if at.IsZero() {
		at = n.s.opts.Now() // a callback's time: keep the staleness check
	}
	_, err := n.s.Disable(ctx, id, reason, at)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// RekeyTenant replaces the secret (Rekey); ErrNotFound is also
// providers.ErrNotFound.
func (n neutralStore) RekeyTenant(ctx context.Context, id, secret string) error {
	err := n.s.Rekey(ctx, id, secret)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %w", providers.ErrNotFound, err)
	}
	return err
}
