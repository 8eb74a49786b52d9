package tokenstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// A negative entry keeps the tenant of the failure: while it is cached, the
// caller still learns that only that tenant is to be paused.
func TestNegativeEntryKeepsTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.newStore(Options{})
	ctx := context.Background()
	fetches := 0
	fetch := func(context.Context) (string, time.Duration, error) {
		fetches++
		return "", 0, &providers.Error{Provider: "wecom", Op: "service/get_corp_token", Class: providers.ClassAppDisabled, Code: 40084, Tenant: "wpTenant1"}
	}
	for i := range 2 {
		_, err := s.Token(ctx, b.key, fetch)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Tenant != "wpTenant1" || pe.Code != 40084 {
			t.Fatalf("call %d: error %v, want errcode 40084 for tenant wpTenant1", i, err)
		}
		if i == 1 && !errors.Is(err, ErrFailureCached) {
			t.Errorf("second call: %v does not come from the negative entry", err)
		}
	}
	if fetches != 1 {
		t.Errorf("%d fetches, want 1", fetches)
	}
}
