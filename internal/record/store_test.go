package record_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
)

type testBundle struct {
	ctx   context.Context
	store *record.Store
	now   time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	srv := redistest.Start(t)
	return &testBundle{ctx: context.Background(), store: record.NewStore(srv.Client()), now: time.Now().UTC().Truncate(time.Millisecond)}
}

func (b *testBundle) newRecord(key string) *record.Record {
	id := job.NewID("hr-bot", b.now)
	return &record.Record{ID: id, App: "hr-bot", State: record.Queued, IdempotencyKey: key, CreatedAt: b.now, UpdatedAt: b.now,
		Job: &job.Send{ID: id, Message: providers.Message{App: "hr-bot", Kind: providers.KindText, Text: "hi"}, ExpiresAt: b.now.Add(time.Hour)}}
}

func TestCreateIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.newRecord("k1")
	id, created, err := b.store.Create(b.ctx, first, "hash-a", time.Hour)
	if err != nil || !created || id != first.ID {
		t.Fatalf("first Create = %q, %v, %v", id, created, err)
	}
	again := b.newRecord("k1")
	id2, created, err := b.store.Create(b.ctx, again, "hash-a", time.Hour)
	if err != nil || created || id2 != first.ID {
		t.Fatalf("same key and body: Create = %q, %v, %v; want %q, false, nil", id2, created, err, first.ID)
	}
	if _, err := b.store.Get(b.ctx, "hr-bot", again.ID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("a refused Create wrote its record anyway: %v", err)
	}
	_, _, err = b.store.Create(b.ctx, b.newRecord("k1"), "hash-b", time.Hour)
	var conflict *record.ConflictError
	if !errors.As(err, &conflict) || conflict.Key != "k1" || conflict.MessageID != first.ID {
		t.Errorf("different body: err = %v, want ConflictError naming k1 and %s", err, first.ID)
	}
}

func TestMarkEnqueuedAndGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.newRecord("")
	if _, _, err := b.store.Create(b.ctx, rec, "", time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := b.store.Get(b.ctx, "hr-bot", rec.ID)
	if err != nil || got.Enqueued || got.State != record.Queued || got.Job.Message.Text != "hi" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if err := b.store.MarkEnqueued(b.ctx, "hr-bot", rec.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.store.Get(b.ctx, "hr-bot", rec.ID); !got.Enqueued {
		t.Error("MarkEnqueued did not stick")
	}
	if err := b.store.MarkEnqueued(b.ctx, "hr-bot", "hr-bot.missing"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("MarkEnqueued of a missing record = %v, want ErrNotFound (and no key created)", err)
	}
}

func TestSaveWritesRecordAndEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.newRecord("k")
	if _, _, err := b.store.Create(b.ctx, rec, "h", time.Hour); err != nil {
		t.Fatal(err)
	}
	rec.State, rec.Reason = record.Failed, "81013: all recipients invalid"
	if err := b.store.Save(b.ctx, rec, string(rec.State), rec.Reason, time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.store.Save(b.ctx, rec, "", "", time.Hour, time.Minute); err != nil { // a save without event
		t.Fatal(err)
	}
	evs, err := b.store.Events(b.ctx, "hr-bot", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("events = %+v, want exactly one", evs)
	}
	if e := evs[0]; e.ID != rec.ID+"/1" || e.Type != "failed" || e.State != record.Failed || e.Detail != rec.Reason {
		t.Errorf("event = %+v", e)
	}
	got, err := b.store.Get(b.ctx, "hr-bot", rec.ID)
	if err != nil || got.State != record.Failed || got.EventSeq != 1 {
		t.Errorf("Get after Save = %+v, %v", got, err)
	}
}
