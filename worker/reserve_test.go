package worker_test

import (
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/record"
)

// An outside sender's reservations share the app's windows with the worker:
// three reservations fill zhangsan's 3 per 1s, so a message sent through
// msgdispatch right after is booked behind them; a reservation released is
// refunded at once.
func TestReserveSharesWindowsWithWorker(t *testing.T) {
	t.Parallel()
	b := setup(t, withStormQuota)
	var ids []string
	for i := range 3 {
		r, err := b.producer.Reserve(b.ctx, testApp, "", []string{"zhangsan"}, time.Time{}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Now) != 1 {
			t.Fatalf("reservation %d: %+v, want now", i, r)
		}
		ids = append(ids, r.ID)
	}
	r, err := b.producer.Reserve(b.ctx, testApp, "", []string{"zhangsan"}, time.Time{}, false)
	if err != nil || len(r.Slots) != 1 {
		t.Fatalf("fourth reservation: %+v %v, want a later slot", r, err)
	}
	if done, err := b.producer.Release(b.ctx, testApp, r.ID); err != nil || len(done) != 1 {
		t.Fatalf("release: %v %v", done, err)
	}
	id := b.send("after the outside sender", "zhangsan")
	ev := b.waitEvent(id, func(e record.Event) bool { return e.Type == "waiting" || e.State.Terminal() })
	if ev.Type != "waiting" {
		t.Errorf("the message went at once (%s) although outside reservations filled the window", ev.Type)
	}
	if rec := b.waitFinished(id); rec.State != record.Accepted {
		t.Errorf("state %s", rec.State)
	}
	if _, err := b.producer.Release(b.ctx, "other", ids[0]); err == nil {
		t.Error("release of another app's reservation: no error")
	}
}
