package record_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

type partsBundle struct {
	ctx   context.Context
	rdb   *redis.Client
	store *record.Store
	log   *writeLog
	rec   *record.Record
}

// writeLog sums the bytes of the arguments of every command sent.
type writeLog struct{ bytes int }

func (l *writeLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *writeLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { l.add(cmd); return next(ctx, cmd) }
}
func (l *writeLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			l.add(c)
		}
		return next(ctx, cmds)
	}
}
func (l *writeLog) add(cmd redis.Cmder) {
	for _, a := range cmd.Args() {
		switch v := a.(type) {
		case string:
			l.bytes += len(v)
		case []byte:
			l.bytes += len(v)
		}
	}
}

// setupParts creates a record of n parts, each with a body of 1000 bytes.
func setupParts(t *testing.T, n int) *partsBundle {
	t.Helper()
	srv := redistest.Start(t)
	b := &partsBundle{ctx: context.Background(), rdb: srv.Client(), log: &writeLog{}}
	b.store = record.NewStore(b.rdb)
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := job.NewID("hr-bot", now)
	b.rec = &record.Record{ID: id, App: "hr-bot", State: record.Sending, CreatedAt: now, UpdatedAt: now,
		Job: &job.Send{ID: id, Message: providers.Message{App: "hr-bot", Kind: providers.KindText, Text: "hi"}, ExpiresAt: now.Add(time.Hour)}}
	for i := range n {
		b.rec.Parts = append(b.rec.Parts, record.Part{Part: providers.Part{Index: i, Body: []byte(`"` + strings.Repeat("x", 998) + `"`)}, State: record.PartPending})
	}
	if _, _, err := b.store.Create(b.ctx, b.rec, "", time.Hour); err != nil {
		t.Fatal(err)
	}
	b.rdb.AddHook(b.log)
	return b
}

// A part's state change rewrites that part and the meta, not the whole message.
func TestSettlingAPartRewritesOnlyThatPart(t *testing.T) {
	t.Parallel()
	b := setupParts(t, 200)
	for i := range b.rec.Parts {
		p := &b.rec.Parts[i]
		p.State, p.Attempts = record.PartSending, 1
		if _, err := b.store.Begin(b.ctx, b.rec, i, nil, time.Hour); err != nil {
			t.Fatal(err)
		}
		p.State = record.PartAccepted
		st, err := b.store.PrepareSettle(b.rec, i, nil, "", "", time.Hour, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		st.Queue(b.ctx, b.rdb)
		if _, err := st.Result(); err != nil {
			t.Fatal(err)
		}
	}
	// 400 writes of one ~1.1 kB part and a small meta; a whole-record rewrite
	// would be 400 × 200 kB.
	if perWrite := b.log.bytes / 400; perWrite > 4000 {
		t.Errorf("%d bytes sent per part write, want < 4000 (one part and the meta)", perWrite)
	}
	got, err := b.store.Get(b.ctx, "hr-bot", b.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Parts) != 200 || got.Job == nil || got.Job.Message.Text != "hi" {
		t.Fatalf("Get = %d parts, job %+v", len(got.Parts), got.Job)
	}
	for i, p := range got.Parts {
		if p.State != record.PartAccepted || p.Index != i || p.Attempts != 1 {
			t.Fatalf("part %d = %s, index %d, attempts %d", i, p.State, p.Index, p.Attempts)
		}
	}
}

func TestBeginRefusedByTombstoneWritesNothing(t *testing.T) {
	t.Parallel()
	b := setupParts(t, 1)
	lim, err := ratelimit.New(b.rdb, ratelimit.Options{Policies: map[string]ratelimit.Policy{"hr-bot": {}}})
	if err != nil {
		t.Fatal(err)
	}
	ref := ratelimit.Ref{App: "hr-bot", Tenant: "ww1", MessageID: b.rec.ID, Recipients: []string{"u1"}}
	if _, err := lim.Admit(b.ctx, ratelimit.Request{App: ref.App, Tenant: ref.Tenant, MessageID: ref.MessageID, Recipients: ref.Recipients}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.store.PutTombstone(b.ctx, "hr-bot", b.rec.ID, record.Tombstone{Reason: "test"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	call, err := lim.PrepareMarkSending(ref)
	if err != nil {
		t.Fatal(err)
	}
	b.rec.Parts[0].State = record.PartSending
	if _, err := b.store.Begin(b.ctx, b.rec, 0, call, time.Hour); !errors.Is(err, record.ErrCancelled) {
		t.Fatalf("Begin after the tombstone = %v, want ErrCancelled", err)
	}
	got, _ := b.store.Get(b.ctx, "hr-bot", b.rec.ID)
	if got.Parts[0].State != record.PartPending {
		t.Errorf("part written anyway: %s", got.Parts[0].State)
	}
	led, err := lim.Ledger(b.ctx, "hr-bot", b.rec.ID)
	if err != nil || led["u1"].State != ratelimit.StateAdmitted {
		t.Errorf("ledger entry after a refused Begin = %v, %v; want admitted", led["u1"], err)
	}
}

func TestBeginAndSettleMoveTheLedger(t *testing.T) {
	t.Parallel()
	b := setupParts(t, 1)
	lim, err := ratelimit.New(b.rdb, ratelimit.Options{Policies: map[string]ratelimit.Policy{"hr-bot": {}}})
	if err != nil {
		t.Fatal(err)
	}
	ref := ratelimit.Ref{App: "hr-bot", Tenant: "ww1", MessageID: b.rec.ID, Recipients: []string{"u1", "u2"}}
	if _, err := lim.Admit(b.ctx, ratelimit.Request{App: ref.App, Tenant: ref.Tenant, MessageID: ref.MessageID, Recipients: []string{"u1"}}); err != nil {
		t.Fatal(err)
	}
	// u2 was never admitted: all or nothing, u1 stays admitted.
	call, _ := lim.PrepareMarkSending(ref)
	reply, err := b.store.Begin(b.ctx, b.rec, 0, call, time.Hour)
	if !errors.Is(err, record.ErrLedgerRefused) {
		t.Fatalf("Begin with an unadmitted recipient = %v, want ErrLedgerRefused", err)
	}
	if tr, err := call.Transition(reply); err != nil || len(tr.Done) != 0 || len(tr.Refused) != 1 || tr.Refused[0].Recipient != "u2" {
		t.Fatalf("transition = %+v, %v", tr, err)
	}
	if led, _ := lim.Ledger(b.ctx, "hr-bot", b.rec.ID); led["u1"].State != ratelimit.StateAdmitted {
		t.Fatalf("u1 = %v after a refused Begin, want admitted", led["u1"])
	}

	ref.Recipients = []string{"u1"}
	call, _ = lim.PrepareMarkSending(ref)
	b.rec.Parts[0].State = record.PartSending
	if _, err := b.store.Begin(b.ctx, b.rec, 0, call, time.Hour); err != nil {
		t.Fatal(err)
	}
	if led, _ := lim.Ledger(b.ctx, "hr-bot", b.rec.ID); led["u1"].State != ratelimit.StateSending {
		t.Fatalf("u1 = %v after Begin, want sending", led["u1"])
	}
	sent, _ := lim.PrepareMarkSent(ref)
	b.rec.Parts[0].State, b.rec.State, b.rec.UpdatedAt = record.PartAccepted, record.Accepted, time.Now()
	st, err := b.store.PrepareSettle(b.rec, 0, sent, string(record.Accepted), "", time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.LoadScripts(b.ctx); err != nil { // a pipeline needs the script loaded
		t.Fatal(err)
	}
	if _, err := b.rdb.Pipelined(b.ctx, func(p redis.Pipeliner) error { st.Queue(b.ctx, p); return nil }); err != nil {
		t.Fatal(err)
	}
	reply, err = st.Result()
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := sent.Transition(reply); err != nil || len(tr.Done) != 1 {
		t.Fatalf("settle transition = %+v, %v", tr, err)
	}
	if led, _ := lim.Ledger(b.ctx, "hr-bot", b.rec.ID); led["u1"].State != ratelimit.StateSent {
		t.Errorf("u1 = %v after Settle, want sent", led["u1"])
	}
	evs, err := b.store.Events(b.ctx, "hr-bot", 10)
	if err != nil || len(evs) != 1 || evs[0].State != record.Accepted || evs[0].ID != b.rec.ID+"/1" {
		t.Errorf("events = %+v, %v; want one accepted", evs, err)
	}
	if ttl := b.rdb.PTTL(b.ctx, record.Key("hr-bot", b.rec.ID)).Val(); ttl > time.Minute {
		t.Errorf("terminal record TTL %v, want the retention (1m)", ttl)
	}
}

func TestCompareAndSaveComparesTheVersion(t *testing.T) {
	t.Parallel()
	b := setupParts(t, 2)
	rec, ver, err := b.store.GetRaw(b.ctx, "hr-bot", b.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.rec.Parts[1].State = record.PartSending // another writer's change of one part
	if _, err := b.store.Begin(b.ctx, b.rec, 1, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	rec.State = record.Cancelled
	if err := b.store.CompareAndSave(b.ctx, rec, ver, "cancelled", "", time.Hour); !errors.Is(err, record.ErrChanged) {
		t.Fatalf("CompareAndSave after a part changed = %v, want ErrChanged", err)
	}
	rec, ver, _ = b.store.GetRaw(b.ctx, "hr-bot", b.rec.ID)
	rec.State = record.Cancelled
	if err := b.store.CompareAndSave(b.ctx, rec, ver, "cancelled", "", time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.store.Get(b.ctx, "hr-bot", b.rec.ID); got.State != record.Cancelled || got.Parts[1].State != record.PartSending {
		t.Errorf("after CompareAndSave: %s, part 1 %s", got.State, got.Parts[1].State)
	}
}

// A record written whole (the layout before parts had fields of their own) is
// read as it is and rewritten in the new layout by its next save.
func TestLegacyRecordReadAndMigrated(t *testing.T) {
	t.Parallel()
	b := setupParts(t, 0)
	key := record.Key("hr-bot", "hr-bot.legacy")
	legacy := `{"id":"hr-bot.legacy","app":"hr-bot","state":"sending","job":{"id":"hr-bot.legacy"},"parts":[{"index":0,"state":"sending"}],"runs":1,"failures":0,"deferrals":0,"event_seq":0,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","enqueued":false}`
	b.rdb.HSet(b.ctx, key, "rec", legacy, "enq", "1")
	got, err := b.store.Get(b.ctx, "hr-bot", "hr-bot.legacy")
	if err != nil || len(got.Parts) != 1 || got.Parts[0].State != record.PartSending || !got.Enqueued || got.Job == nil {
		t.Fatalf("Get legacy = %+v, %v", got, err)
	}
	got.Parts[0].State = record.PartUnknown
	if err := b.store.Save(b.ctx, got, "", "", time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	if b.rdb.HExists(b.ctx, key, "rec").Val() {
		t.Error("the whole-record field survived the save")
	}
	again, err := b.store.Get(b.ctx, "hr-bot", "hr-bot.legacy")
	if err != nil || again.Parts[0].State != record.PartUnknown || again.Job == nil || again.Runs != 1 {
		t.Errorf("Get after migration = %+v, %v", again, err)
	}
}

// A settle queued in a pipeline runs as one MULTI — its ledger step, when it
// has one, as the MULTI's first command (an EVAL of a small script: a Redis
// that lost its scripts still runs it) — and on a client as the script: both
// leave the same record, version, event and ledger entry; a write Redis
// refuses inside the MULTI fails the settle.
func TestSettleInPipelineMatchesScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		pipeline bool
		ledger   bool
		flush    bool // SCRIPT FLUSH before the settle
	}{
		{desc: "script, on the client"},
		{desc: "MULTI, in a pipeline", pipeline: true},
		{desc: "script with the ledger step, on the client", ledger: true},
		{desc: "MULTI with the ledger step, in a pipeline", pipeline: true, ledger: true},
		{desc: "MULTI with the ledger step, scripts flushed", pipeline: true, ledger: true, flush: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setupParts(t, 1)
			// queue runs st as the case says; its outcome is read through Result
			queue := func(st *record.Settle) {
				if !tc.pipeline {
					st.Queue(b.ctx, b.rdb)
					return
				}
				pl := b.rdb.Pipeline()
				st.Queue(b.ctx, pl)
				_, _ = pl.Exec(b.ctx)
			}
			var lim *ratelimit.Limiter
			var sent *ratelimit.LedgerCall
			if tc.ledger {
				var err error
				if lim, err = ratelimit.New(b.rdb, ratelimit.Options{Policies: map[string]ratelimit.Policy{"hr-bot": {}}}); err != nil {
					t.Fatal(err)
				}
				ref := ratelimit.Ref{App: "hr-bot", Tenant: "ww1", MessageID: b.rec.ID, Recipients: []string{"u1"}}
				if _, err := lim.Admit(b.ctx, ratelimit.Request{App: ref.App, Tenant: ref.Tenant, MessageID: ref.MessageID, Recipients: ref.Recipients}); err != nil {
					t.Fatal(err)
				}
				if tr, err := lim.MarkSending(b.ctx, ref); err != nil || len(tr.Done) != 1 {
					t.Fatalf("MarkSending = %+v, %v", tr, err)
				}
				if sent, err = lim.PrepareMarkSent(ref); err != nil {
					t.Fatal(err)
				}
			}
			p := &b.rec.Parts[0]
			p.State, p.Attempts = record.PartSending, 1
			if _, err := b.store.Begin(b.ctx, b.rec, 0, nil, time.Hour); err != nil {
				t.Fatal(err)
			}
			p.State = record.PartAccepted
			b.rec.State = record.Accepted
			st, err := b.store.PrepareSettle(b.rec, 0, sent, string(record.Accepted), "done", time.Hour, 2*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if tc.flush {
				if err := b.rdb.ScriptFlush(b.ctx).Err(); err != nil {
					t.Fatal(err)
				}
			}
			queue(st)
			reply, err := st.Result()
			if err != nil {
				t.Fatal(err)
			}
			if tc.ledger {
				if tr, err := sent.Transition(reply); err != nil || len(tr.Done) != 1 || len(tr.Refused) != 0 {
					t.Errorf("ledger transition = %+v, %v; want u1 done", tr, err)
				}
				if led, err := lim.Ledger(b.ctx, "hr-bot", b.rec.ID); err != nil || led["u1"].State != ratelimit.StateSent {
					t.Errorf("u1 = %+v, %v after the settle; want sent", led["u1"], err)
				}
			} else if reply != nil {
				t.Errorf("ledger reply %v without a ledger step", reply)
			}
			key := record.Key("hr-bot", b.rec.ID)
			got, err := b.store.Get(b.ctx, "hr-bot", b.rec.ID)
			if err != nil || got.State != record.Accepted || got.Parts[0].State != record.PartAccepted {
				t.Fatalf("Get = %+v, %v; want accepted", got, err)
			}
			if v, _ := b.rdb.HGet(b.ctx, key, "v").Result(); v != "3" { // create, begin, settle
				t.Errorf("version %q, want 3", v)
			}
			if ttl := b.rdb.PTTL(b.ctx, key).Val(); ttl <= time.Hour || ttl > 2*time.Hour {
				t.Errorf("TTL %v, want the retention (2h) of a finished record", ttl)
			}
			evs, err := b.rdb.XRange(b.ctx, record.EventsKey("hr-bot"), "-", "+").Result()
			if err != nil || len(evs) != 1 || evs[0].Values["type"] != string(record.Accepted) || evs[0].Values["detail"] != "done" {
				t.Errorf("events %+v, %v; want one accepted event", evs, err)
			}

			// The record's key replaced by a string: HSET fails when run.
			if err := b.rdb.Set(b.ctx, key, "not a hash", 0).Err(); err != nil {
				t.Fatal(err)
			}
			st, err = b.store.PrepareSettle(b.rec, 0, sent, "", "", time.Hour, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			queue(st)
			if _, err := st.Result(); err == nil || !strings.Contains(err.Error(), "record: settle") || !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Errorf("settle over a string = %v, want WRONGTYPE naming the settle", err)
			}
		})
	}
}
