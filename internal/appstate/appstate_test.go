package appstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

func TestPauseScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := appstate.New(redistest.Start(t).Client())
	now := time.Now()
	if p, err := s.Paused(ctx, "hr", "corpA"); err != nil || p != nil {
		t.Fatalf("fresh app paused: %+v, %v", p, err)
	}
	if err := s.Pause(ctx, "hr", "corpA", "cancel_auth", now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Paused(ctx, "hr", "corpA"); p == nil || p.Reason != "cancel_auth" || !p.Until.Equal(now.Add(time.Hour)) {
		t.Errorf("tenant pause = %+v", p)
	}
	if p, _ := s.Paused(ctx, "hr", "corpB"); p != nil {
		t.Errorf("another tenant is paused too: %+v", p)
	}
	if err := s.Pause(ctx, "hr", "", "40001", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Paused(ctx, "hr", "corpB"); p == nil || p.Reason != "40001" {
		t.Errorf("an app pause must stop every tenant: %+v", p)
	}
	if err := s.Resume(ctx, "hr", ""); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Paused(ctx, "hr", "corpB"); p != nil {
		t.Errorf("still paused after Resume: %+v", p)
	}
}
