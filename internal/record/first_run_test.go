package record_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

type firstRunBundle struct {
	ctx     context.Context
	rdb     redis.UniversalClient
	store   *record.Store
	sem     *ratelimit.Semaphore
	j       *job.Send
	payload []byte
}

// setupFirstRun creates a message's record as the producer does and returns
// its job and task payload.
func setupFirstRun(t *testing.T) *firstRunBundle {
	t.Helper()
	rdb := redistest.Start(t).Client()
	b := &firstRunBundle{ctx: context.Background(), rdb: rdb, store: record.NewStore(rdb), sem: ratelimit.NewSemaphore(rdb)}
	now := time.Now().UTC()
	b.j = &job.Send{ID: job.NewID("hr-bot", now), Message: providers.Message{App: "hr-bot", Kind: providers.KindText, Text: "hi",
		To: providers.Recipients{Users: []string{"u1"}}}, ExpiresAt: now.Add(time.Hour), CreatedAt: now, IdempotencyKey: "k-1"}
	rec := record.New(b.j)
	if _, created, err := b.store.Create(b.ctx, rec, "h", time.Hour); err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	b.payload = []byte(rec.JobJSON())
	return b
}

// assumed is the record the worker's first run builds from the task, with
// its one part marked sending.
func (b *firstRunBundle) assumed(t *testing.T) *record.Record {
	t.Helper()
	j, err := job.DecodeSend(b.payload)
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := record.Assumed(j, b.payload)
	if !ok {
		t.Fatal("a producer's job must be assumable")
	}
	rec.Runs++
	rec.State = record.Sending
	rec.Parts = []record.Part{{Part: providers.Part{Index: 0, Body: []byte(`{"x":1}`), To: j.Message.To}, State: record.PartSending, Attempts: 1}}
	return rec
}

func (b *firstRunBundle) hash(t *testing.T) map[string]string {
	t.Helper()
	m, err := b.rdb.HGetAll(b.ctx, record.Key("hr-bot", b.j.ID)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// BeginFirst writes only when the record is as its producer wrote it, nothing
// the first read would have found is there and a slot is free; otherwise it
// writes nothing (neither the record nor the semaphore) and says why.
func TestBeginFirst(t *testing.T) {
	t.Parallel()
	const semKey = "msgd:sem:{wecom:corp}"
	updKey := func(b *firstRunBundle) string { return record.UpdateKey("hr-bot", b.j.ID) }
	tests := []struct {
		desc   string
		before func(t *testing.T, b *firstRunBundle)
		want   error // nil: written
	}{
		{desc: "as the producer wrote it: written", before: func(*testing.T, *firstRunBundle) {}},
		{desc: "written since (version 2)", want: record.ErrAssumed, before: func(t *testing.T, b *firstRunBundle) {
			b.rdb.HIncrBy(b.ctx, record.Key("hr-bot", b.j.ID), "v", 1)
		}},
		{desc: "an update enqueued before the send", want: record.ErrAssumed, before: func(t *testing.T, b *firstRunBundle) {
			b.rdb.HSet(b.ctx, updKey(b), "newest_seq", 1)
		}},
		{desc: "record gone", want: record.ErrAssumed, before: func(t *testing.T, b *firstRunBundle) {
			b.rdb.Del(b.ctx, record.Key("hr-bot", b.j.ID))
		}},
		{desc: "cancelled", want: record.ErrCancelled, before: func(t *testing.T, b *firstRunBundle) {
			b.rdb.Set(b.ctx, record.TombKey("hr-bot", b.j.ID), "{}", time.Hour)
		}},
		{desc: "the app paused", want: record.ErrAssumed, before: func(t *testing.T, b *firstRunBundle) {
			b.rdb.Set(b.ctx, "msgd:{hr-bot}:pause", "1", time.Hour)
		}},
		{desc: "cancelled and an update enqueued: read it first", want: record.ErrAssumed, before: func(t *testing.T, b *firstRunBundle) {
			b.rdb.Set(b.ctx, record.TombKey("hr-bot", b.j.ID), "{}", time.Hour)
			b.rdb.HSet(b.ctx, updKey(b), "newest_seq", 1)
		}},
		{desc: "semaphore full", want: record.ErrSemaphoreFull, before: func(t *testing.T, b *firstRunBundle) {
			b.rdb.ZAdd(b.ctx, semKey, redis.Z{Score: float64(time.Now().Add(time.Hour).UnixMilli()), Member: "other"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setupFirstRun(t)
			tc.before(t, b)
			was := b.hash(t)
			slot, err := b.sem.Candidate(semKey)
			if err != nil {
				t.Fatal(err)
			}
			rec := b.assumed(t)
			if err := b.store.Save(b.ctx, rec, "waiting", "", time.Hour, time.Hour); !errors.Is(err, record.ErrAssumed) {
				t.Fatalf("Save of an assumed record: %v, want ErrAssumed", err)
			}
			_, err = b.store.BeginFirst(b.ctx, rec, 0, nil, record.FirstRun{
				Absent: []string{"msgd:{hr-bot}:pause", updKey(b)}, Slot: slot, Limit: 1, Lease: time.Minute})
			held, _ := b.rdb.ZScore(b.ctx, semKey, slot.ID()).Result()
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("BeginFirst: %v, want %v", err, tc.want)
				}
				if now := b.hash(t); !maps.Equal(now, was) {
					t.Errorf("refused, yet the record changed:\n%v\nwas\n%v", now, was)
				}
				if held != 0 {
					t.Error("refused, yet the slot was taken")
				}
				if !rec.IsAssumed() {
					t.Error("refused, yet the record is no longer assumed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if held == 0 {
				t.Error("written without taking the slot")
			}
			if rec.IsAssumed() {
				t.Error("written, yet still assumed")
			}
			got, err := b.store.Get(b.ctx, "hr-bot", b.j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != record.Sending || len(got.Parts) != 1 || got.Parts[0].State != record.PartSending ||
				got.IdempotencyKey != "k-1" || !got.CreatedAt.Equal(b.j.CreatedAt) || got.Runs != 1 {
				t.Errorf("record after BeginFirst: %+v", got)
			}
			if v := b.hash(t)["v"]; v != "2" {
				t.Errorf("version %s, want 2", v)
			}
			if ttl := b.rdb.PTTL(b.ctx, record.Key("hr-bot", b.j.ID)).Val(); ttl <= 0 {
				t.Errorf("record TTL %v after BeginFirst, want the producer's", ttl)
			}
			// Confirmed, the record is written as any other.
			if err := b.store.Save(b.ctx, rec, "waiting", "", time.Hour, time.Hour); err != nil {
				t.Errorf("Save after BeginFirst: %v", err)
			}
		})
	}
}

// A job of a producer before CreatedAt, or a follow-up, is never assumed.
func TestAssumedNeedsAFirstGenerationJobThatSaysWhen(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		desc string
		j    job.Send
		ok   bool
	}{
		{desc: "producer's job", j: job.Send{ID: "a.1", CreatedAt: now}, ok: true},
		{desc: "older producer's job", j: job.Send{ID: "a.1"}},
		{desc: "follow-up", j: job.Send{ID: "a.1", CreatedAt: now, Generation: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if _, ok := record.Assumed(&tc.j, []byte("{}")); ok != tc.ok {
				t.Errorf("Assumed: %v, want %v", ok, tc.ok)
			}
		})
	}
}
