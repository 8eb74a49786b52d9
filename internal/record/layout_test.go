package record

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// TestEncodeMatchesEncodingJSON: encode writes the meta and parts with the
// appenders of json_append.go; the fields it writes must hold encoding/json's
// bytes, so that a record written by one build compares equal (no rewrite)
// when another encodes it, and readers of either kind agree.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 10, 10, 15, 0, 123456789, time.FixedZone("CST", 8*3600))
	accepted := Part{Part: providers.Part{Index: 1, Tenant: "t1", To: providers.Recipients{Users: []string{"u2", "U<3>"}, Depts: []string{"7"}},
		Body: []byte(`{"touser":"u2|U<3>","text":{"content":"a & b \u2028 é"}}`), Ref: "task-1"},
		Generation: 2, State: PartAccepted, Attempts: 3, FirstSentAt: at, SentAt: at.Add(time.Second), MayHaveLeft: true,
		Result: &providers.Result{ProviderMessageID: "msg<1>", State: json.RawMessage(`{"response_code":"rc&1"}`), Invalid: providers.Recipients{Users: []string{"gone"}}, Unlicensed: []string{"nolicence"}},
		Error:  "wecom: errcode 45009 <api freq out of limit>", ContentSeq: 4}
	tests := []struct {
		desc string
		rec  Record
	}{
		{desc: "a new record", rec: Record{ID: "a.1", App: "a", State: Queued, CreatedAt: at, UpdatedAt: at, Enqueued: true}},
		{desc: "every field set", rec: Record{ID: "a.2", App: "a", State: PartiallyAccepted, IdempotencyKey: "k<&>",
			Parts: []Part{{State: PartSending, SentAt: at}, accepted}, Runs: 4, Failures: 1, Deferrals: 2,
			Wait:        &Wait{Reason: "peak minute", Until: at.Add(time.Minute)},
			Booked:      []Booking{{Recipient: "u9", At: at.Add(time.Hour), Reason: "window", Generation: 1}},
			Late:        []Booking{{Recipient: "*", At: at.Add(48 * time.Hour), Reason: "daily"}},
			Superseded:  []Supersession{{Recipient: "u8", SupersededBy: "a.3", At: at}},
			Generations: 2, LastError: "timeout \"quoted\"", Reason: "1 of 3 recipients invalid", EventSeq: 7,
			CreatedAt: at, UpdatedAt: at.Add(2 * time.Second), FinishedAt: at.Add(3 * time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			e, err := tc.rec.encode()
			if err != nil {
				t.Fatal(err)
			}
			m := tc.rec
			m.Job, m.Parts = nil, nil
			want := map[string]any{fieldMeta: m}
			for i := range tc.rec.Parts {
				want[partField(i)] = &tc.rec.Parts[i]
			}
			if len(e.fields) != 2*len(want) {
				t.Fatalf("encode wrote %d fields, want %d", len(e.fields)/2, len(want))
			}
			for i := 0; i < len(e.fields); i += 2 {
				f := e.fields[i].(string)
				b, err := json.Marshal(want[f])
				if err != nil {
					t.Fatal(err)
				}
				if got := string(e.fields[i+1].([]byte)); got != string(b) {
					t.Errorf("field %s:\n got %s\nwant %s", f, got, b)
				}
			}
		})
	}
}
