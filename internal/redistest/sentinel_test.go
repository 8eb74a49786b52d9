package redistest

import (
	"context"
	"testing"
	"time"
)

func TestStartSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a master, a replica and three sentinels")
	}
	t.Parallel()
	s := StartSentinel(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := s.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Errorf("master still %s after the failover", before)
	}
}
