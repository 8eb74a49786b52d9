package record_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
)

// The job is encoded once, by Create, into the very bytes the producer
// enqueues as the task payload; a run that decoded that payload shares it as
// the record's Job, and no later write sends the job field again.
func TestJobEncodedOnceDecodedOnce(t *testing.T) {
	t.Parallel()
	b := setupParts(t, 1)
	payload := b.rec.JobJSON()
	want, err := b.rec.Job.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if payload != string(want) {
		t.Fatalf("JobJSON after Create = %s, want the task payload %s", payload, want)
	}
	tests := []struct {
		desc    string
		payload string
		shared  bool
	}{
		{desc: "the task's own payload", payload: payload, shared: true},
		{desc: "a follow-up's payload (other recipients)", payload: strings.Replace(payload, `"id"`, `"generation":1,"id"`, 1), shared: false},
	}
	for _, tc := range tests {
		j, err := job.DecodeSend([]byte(tc.payload))
		if err != nil {
			t.Fatalf("%s: %v", tc.desc, err)
		}
		get := b.store.QueueGetKnown(b.ctx, b.rdb, "hr-bot", b.rec.ID, j, []byte(tc.payload))
		rec, err := get()
		if err != nil {
			t.Fatalf("%s: %v", tc.desc, err)
		}
		if shared := rec.Job == j; shared != tc.shared {
			t.Errorf("%s: record's Job shared with the payload's = %v, want %v", tc.desc, shared, tc.shared)
		}
		if rec.Job.Generation != 0 || rec.Job.Message.Text != "hi" {
			t.Errorf("%s: record's Job = %+v, want the record's own", tc.desc, rec.Job)
		}
	}

	// Begin and settle of the part read back: neither sends the job field.
	rec, err := b.store.Get(b.ctx, "hr-bot", b.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	b.rdb.AddHook(argsHook(func(args []any) {
		for _, a := range args {
			if s, ok := a.(string); ok {
				sent = append(sent, s)
			}
		}
	}))
	rec.Parts[0].State = record.PartSending
	if _, err := b.store.Begin(b.ctx, rec, 0, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	rec.Parts[0].State, rec.State = record.PartAccepted, record.Accepted
	st, err := b.store.PrepareSettle(rec, 0, nil, "accepted", "", time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	st.Queue(b.ctx, b.rdb)
	if _, err := st.Result(); err != nil {
		t.Fatal(err)
	}
	for _, s := range sent {
		if s == "job" {
			t.Errorf("a write after Create sent the job field again: %q", sent)
			break
		}
	}
	got, err := b.store.Get(b.ctx, "hr-bot", b.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != record.Accepted || got.Job == nil || got.JobJSON() != payload {
		t.Errorf("after begin and settle: state %s, job %s; want accepted, %s", got.State, got.JobJSON(), payload)
	}
}

// argsHook calls fn with the arguments of every command sent.
type argsHook func(args []any)

func (h argsHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h argsHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h(cmd.Args())
		return next(ctx, cmd)
	}
}

func (h argsHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h(c.Args())
		}
		return next(ctx, cmds)
	}
}
