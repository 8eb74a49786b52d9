package record_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

type publishBundle struct {
	ctx   context.Context
	rdb   *redis.Client
	store *record.Store
	now   time.Time
}

func setupPublish(t *testing.T) *publishBundle {
	t.Helper()
	rdb := redistest.Start(t).Client()
	return &publishBundle{ctx: context.Background(), rdb: rdb, store: record.NewStore(rdb), now: time.Now().UTC().Truncate(time.Millisecond)}
}

// PublishOnce appends an event once per dedupe key, atomically with marking
// the key; Publish appends unconditionally. Events carry their data fields.
func TestPublishOnce(t *testing.T) {
	t.Parallel()
	b := setupPublish(t)
	ev := &record.ProviderEvent{ID: "wecom-cb-1", App: "crm", Type: "wecom.card_click", At: b.now, Tenant: "wpT",
		Data: map[string]string{"user": "wmU", "task_id": "task-7"}}
	for i, want := range []bool{true, false, false} {
		ok, err := b.store.PublishOnce(b.ctx, "k1", time.Hour, ev)
		if err != nil || ok != want {
			t.Fatalf("PublishOnce #%d = %v, %v; want %v", i, ok, err, want)
		}
	}
	if ok, _ := b.store.PublishOnce(b.ctx, "k2", time.Hour, ev); !ok {
		t.Error("another key was deduplicated")
	}
	if err := b.store.Publish(b.ctx, &record.ProviderEvent{ID: "tenant.added/wpT/1", App: "crm", Type: "tenant.added", At: b.now, Tenant: "wpT"}); err != nil {
		t.Fatal(err)
	}
	evs, err := b.store.Events(b.ctx, "crm", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Type != "wecom.card_click" || evs[0].ID != "wecom-cb-1" || !evs[0].At.Equal(b.now) || evs[2].Type != "tenant.added" {
		t.Fatalf("events %+v", evs)
	}
	msgs, err := b.rdb.XRange(b.ctx, record.EventsKey("crm"), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	if v := msgs[0].Values; v["tenant"] != "wpT" || v["user"] != "wmU" || v["task_id"] != "task-7" {
		t.Errorf("stream fields %v", v)
	}
}

func TestPublishRefusesReservedFields(t *testing.T) {
	t.Parallel()
	b := setupPublish(t)
	for _, ev := range []*record.ProviderEvent{
		{ID: "x", App: "crm", Type: "t", Data: map[string]string{"state": "accepted"}},
		{ID: "x", App: "crm", Type: "t", Data: map[string]string{"message_id": "m"}},
		{App: "crm", Type: "t"},
	} {
		if err := b.store.Publish(b.ctx, ev); err == nil || !strings.Contains(err.Error(), "record: publish") {
			t.Errorf("Publish(%+v) = %v, want an error", ev, err)
		}
	}
}
