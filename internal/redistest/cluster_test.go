package redistest

import (
	"context"
	"testing"
)

func TestStartCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-master Redis Cluster")
	}
	t.Parallel()
	c := StartCluster(t)
	ctx := context.Background()
	rdb := c.Client()
	// Three apps' tags on three different masters, each key readable back.
	masters := map[string]bool{}
	for _, k := range []string{"msgd:{a}:x", "msgd:{b}:x", "msgd:{c}:x"} {
		if err := rdb.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
		m, err := c.MasterOf(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		masters[m] = true
		if got, err := rdb.Get(ctx, k).Result(); err != nil || got != k {
			t.Errorf("GET %s = %q, %v", k, got, err)
		}
	}
	if len(masters) != 3 {
		t.Errorf("keys of tags a, b, c on %d masters, want 3: %v", len(masters), masters)
	}
	// Keys of two slots in one script: the cluster refuses it.
	err := rdb.Eval(ctx, "return redis.call('MGET', KEYS[1], KEYS[2])", []string{"{a}1", "{b}1"}).Err()
	if err == nil {
		t.Error("a script over two slots succeeded, want CROSSSLOT")
	}
}
