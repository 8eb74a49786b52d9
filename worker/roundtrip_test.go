package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
)

// The dispatcher's own Redis round trips (asynq's aside) for one accepted
// single-recipient message, producer and worker together: 3 with quotas or
// without (create, with asynq's enqueue in the same round trip; [admission +] begin with the first-run checks and the
// company slot; settle + slot back, with asynq's completion of the task in
// the same round trip). The first run reads nothing (first_run.go).
func TestRoundTripsPerAcceptedMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		quotas bool
		max    int64
	}{
		{desc: "quotas on", quotas: true, max: 3},
		{desc: "quotas off", quotas: false, max: 3},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setupRoundTrips(t, tc.quotas, "")
			watch := b.newClient() // not counted
			// The first message loads the scripts and fetches the token.
			b.waitFinishedOn(watch, b.send("warm-up", "lisi"))

			b.hook.Reset()
			id := b.send("counted", "zhangsan")
			rec := b.waitFinishedOn(watch, id)
			if rec.State != record.Accepted {
				t.Fatalf("state %s, want accepted", rec.State)
			}
			all, asynq := b.hook.Counts()
			log := strings.Join(b.hook.Log(), "\n")
			if n := all - asynq; n > tc.max {
				t.Errorf("%d dispatcher round trips for one accepted message, want ≤ %d:\n%s", n, tc.max, log)
			} else {
				t.Logf("%d dispatcher round trips:\n%s", n, log)
			}
			// The settle leaves with asynq's completion of the task
			// (complete_redis.go), whose first key is the queue's active list.
			if !strings.Contains(log, "}:active") {
				t.Errorf("no dispatcher round trip carries asynq's completion of the task:\n%s", log)
			}
		})
	}
}

// waitFinishedOn waits, reading with rdb, for message id's terminal event, and
// returns its record.
func (b *testBundle) waitFinishedOn(rdb redis.UniversalClient, id string) *record.Record {
	b.t.Helper()
	last := "0"
	for {
		streams, err := rdb.XRead(b.ctx, &redis.XReadArgs{Streams: []string{record.EventsKey(testApp), last}, Block: 2 * time.Second, Count: 100}).Result()
		if err != nil && err != redis.Nil {
			b.t.Fatalf("waiting for an event of %s: %v", id, err)
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				last = m.ID
				if m.Values["message_id"] == id && record.State(m.Values["state"].(string)).Terminal() {
					rec, err := record.NewStore(rdb).Get(b.ctx, testApp, id)
					if err != nil {
						b.t.Fatal(err)
					}
					return rec
				}
			}
		}
	}
}
