package worker

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
)

// A tenant's daily cap is its seats × 200 person-times (WeCom's rule); a tenant
// with no known seat count, or an app without tenants, keeps the configured cap.
func TestTenantDailyCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	ts, err := tenant.New(rdb, "crm", bytes.Repeat([]byte{7}, 32), tenant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range []tenant.Tenant{
		{ID: "wpAbC", AgentID: 1, Seats: 3, Secret: "pc1"},
		{ID: "wpUnknownSeats", AgentID: 2, Secret: "pc2"},
	} {
		if err := ts.Add(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	caps := &tenantCaps{stores: map[string]*tenant.Store{"crm": ts}, perSeat: map[string]int{"crm": 200}, cache: map[string]tenantCap{}}
	tests := []struct {
		desc, app, corp string
		want            int
	}{
		{desc: "seats known", app: "crm", corp: "wpAbC", want: 600},
		{desc: "seats unknown", app: "crm", corp: "wpUnknownSeats", want: 0},
		{desc: "no such tenant", app: "crm", corp: "wpNope", want: 0},
		{desc: "self-built app", app: "hr", corp: "ww1", want: 0},
	}
	for _, tc := range tests {
		if got := caps.dailyCap(tc.app, tc.corp); got != tc.want {
			t.Errorf("%s: dailyCap = %d, want %d", tc.desc, got, tc.want)
		}
	}
	// Cached: a change shows after the minute, not at once.
	if err := ts.Add(ctx, tenant.Tenant{ID: "wpAbC", AgentID: 1, Seats: 5, Secret: "pc1"}); err != nil {
		t.Fatal(err)
	}
	if got := caps.dailyCap("crm", "wpAbC"); got != 600 {
		t.Errorf("cached cap = %d, want 600 until the cache ages", got)
	}
	caps.cache["crm\x00wpAbC"] = tenantCap{cap: 600, at: time.Now().Add(-2 * time.Minute)}
	if got := caps.dailyCap("crm", "wpAbC"); got != 1000 {
		t.Errorf("refreshed cap = %d, want 1000", got)
	}
}
