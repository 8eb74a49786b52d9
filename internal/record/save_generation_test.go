package record_test

import (
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/record"
)

// A parent generation's "waiting" save lands only while no later generation
// has written the record: after its follow-up wrote (here: finished the
// message), it writes nothing and adds no event.
func TestSaveUnlessNewer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc        string
		storedGens  int // the generations the record holds
		callerGens  int
		wantSaved   bool
		wantState   record.State
		wantEvents  int
		wantVersion string
	}{
		{desc: "no later generation wrote", storedGens: 1, callerGens: 1, wantSaved: true, wantState: record.Waiting, wantEvents: 2, wantVersion: "3"},
		{desc: "the follow-up wrote first", storedGens: 2, callerGens: 1, wantSaved: false, wantState: record.Accepted, wantEvents: 1, wantVersion: "2"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setupParts(t, 1)
			// What is stored: the record as the last writer left it.
			stored := *b.rec
			stored.State, stored.Generations = record.Accepted, tc.storedGens
			if tc.storedGens == tc.callerGens {
				stored.State = record.Sending
			}
			if err := b.store.Save(b.ctx, &stored, "stored", "", time.Hour, time.Hour); err != nil {
				t.Fatal(err)
			}
			rec := *b.rec
			rec.State, rec.Generations = record.Waiting, tc.callerGens
			saved, err := b.store.SaveUnlessNewer(b.ctx, &rec, "waiting", "booked", time.Hour)
			if err != nil || saved != tc.wantSaved {
				t.Fatalf("SaveUnlessNewer = %v, %v; want %v", saved, err, tc.wantSaved)
			}
			got, err := b.store.Get(b.ctx, "hr-bot", b.rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.wantState {
				t.Errorf("state %s, want %s", got.State, tc.wantState)
			}
			if v := b.rdb.HGet(b.ctx, record.Key("hr-bot", b.rec.ID), "v").Val(); v != tc.wantVersion {
				t.Errorf("version %s, want %s", v, tc.wantVersion)
			}
			if n := b.rdb.XLen(b.ctx, record.EventsKey("hr-bot")).Val(); n != int64(tc.wantEvents) {
				t.Errorf("%d events, want %d", n, tc.wantEvents)
			}
		})
	}
}
