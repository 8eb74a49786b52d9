package record

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// TestAppendMatchesEncodingJSON: appendMeta and appendPart write encoding/json's
// bytes for records and parts with random fields, each zero or not, strings
// that need escaping or not.
func TestAppendMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 3000 {
		rec := randomRecord(r)
		got, err := appendMeta(nil, &rec)
		if err != nil {
			t.Fatalf("case %d: appendMeta: %v", i, err)
		}
		m := rec
		m.Job, m.Parts, m.Updates, m.Cancel = nil, nil, nil, nil
		want, err := json.Marshal(&m)
		if err != nil {
			t.Fatalf("case %d: encoding/json: %v", i, err)
		}
		if string(got) != string(want) {
			t.Fatalf("case %d meta:\n got %s\nwant %s", i, got, want)
		}
		for j := range rec.Parts {
			got, err := appendPart(nil, &rec.Parts[j])
			if err != nil {
				t.Fatalf("case %d part %d: appendPart: %v", i, j, err)
			}
			want, err := json.Marshal(&rec.Parts[j])
			if err != nil {
				t.Fatalf("case %d part %d: encoding/json: %v", i, j, err)
			}
			if string(got) != string(want) {
				t.Fatalf("case %d part %d:\n got %s\nwant %s", i, j, got, want)
			}
		}
	}
}

// TestAppendErrors: what encoding/json refuses, the appenders refuse too.
func TestAppendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		part Part
	}{
		{desc: "a year past 9999", part: Part{SentAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{desc: "a result state that is not JSON", part: Part{Result: &providers.Result{State: json.RawMessage(`{"a":`)}}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if _, err := json.Marshal(&tc.part); err == nil {
				t.Fatal("encoding/json accepted it: the case tests nothing")
			}
			if b, err := appendPart(nil, &tc.part); err == nil {
				t.Errorf("appendPart wrote %s, want an error", b)
			}
		})
	}
}

// TestAppendKnowsEveryField: a field added to a struct the appenders write
// must be added to them (and to randomRecord) too; this lists what they know.
func TestAppendKnowsEveryField(t *testing.T) {
	t.Parallel()
	known := map[reflect.Type][]string{
		reflect.TypeFor[Record](): {"ID", "App", "State", "Job", "IdempotencyKey", "Parts", "Runs", "Failures", "Deferrals", "Wait",
			"Booked", "Late", "Superseded", "Generations", "LastError", "Reason", "EventSeq", "CreatedAt", "UpdatedAt", "FinishedAt",
			"Enqueued", "Updates", "Cancel", "stored", "assumed"},
		reflect.TypeFor[Part](): {"Part", "Generation", "State", "Attempts", "FirstSentAt", "SentAt", "MayHaveLeft", "Result",
			"Error", "ContentSeq"},
		reflect.TypeFor[providers.Part]():       {"Index", "Tenant", "To", "Ref", "NotUpdatable", "Target", "Body"},
		reflect.TypeFor[providers.Result]():     {"ProviderMessageID", "State", "Invalid", "Unlicensed"},
		reflect.TypeFor[providers.Recipients](): {"Users", "Depts", "Tags", "Chats", "All"},
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s has fields %v; json_append.go writes %v: update it, randomRecord and this list", typ, got, want)
		}
	}
}

var appendStrs = []string{"", "a", "u000001", "wecom: errcode 45009", `quote " and \ back`, "a<b>&c", "x<y", "p>q", "r&s", "line\nbreak\ttab",
	"é中文", "\u2028\u2029", "bad \xff utf8", "\x7f", "emoji 😀"}

func randomRecord(r *rand.Rand) Record {
	str := func() string { return appendStrs[r.IntN(len(appendStrs))] }
	maybe := func() bool { return r.IntN(2) == 0 }
	zones := []*time.Location{time.UTC, time.FixedZone("CST", 8*3600), time.FixedZone("", -90*60)}
	tm := func() time.Time {
		if maybe() {
			return time.Time{}
		}
		return time.Unix(1_700_000_000+r.Int64N(1e8), r.Int64N(1e9)*int64(r.IntN(2))).In(zones[r.IntN(len(zones))])
	}
	num := func() int {
		if maybe() {
			return 0
		}
		return r.IntN(2000) - 10
	}
	strs := func() []string {
		if maybe() {
			return nil
		}
		s := make([]string, r.IntN(3))
		for i := range s {
			s[i] = str()
		}
		return s
	}
	rcpt := func() providers.Recipients {
		return providers.Recipients{Users: strs(), Depts: strs(), Tags: strs(), Chats: strs(), All: maybe()}
	}
	states := []string{`{"response_code":"rc1"}`, `{"a": 1}`, `{"x":"a&b"}`, `"é"`, `[1,2]`, `null`, ""}
	rec := Record{ID: str(), App: str(), State: State(str()), IdempotencyKey: str(), Runs: num(), Failures: num(), Deferrals: num(),
		Generations: num(), LastError: str(), Reason: str(), EventSeq: num(), CreatedAt: tm(), UpdatedAt: tm(), FinishedAt: tm(),
		Enqueued: maybe()}
	if maybe() {
		rec.Wait = &Wait{Reason: str(), Until: tm()}
	}
	if maybe() {
		rec.Booked = []Booking{{Recipient: str(), At: tm(), Reason: str(), Generation: num()}}
	}
	if maybe() {
		rec.Late = []Booking{{Recipient: str(), At: tm(), Reason: str()}}
	}
	if maybe() {
		rec.Superseded = []Supersession{{Recipient: str(), SupersededBy: str(), At: tm()}}
	}
	for range r.IntN(3) {
		p := Part{Part: providers.Part{Index: num(), Tenant: str(), To: rcpt(), Ref: str(), NotUpdatable: maybe(), Target: str()},
			Generation: num(), State: PartState(str()), Attempts: num(), FirstSentAt: tm(), SentAt: tm(), MayHaveLeft: maybe(),
			Error: str(), ContentSeq: int64(num())}
		switch r.IntN(3) {
		case 1:
			p.Body = []byte{}
		case 2:
			p.Body = []byte(str())
		}
		if maybe() {
			p.Result = &providers.Result{ProviderMessageID: str(), Invalid: rcpt(), Unlicensed: strs()}
			if s := states[r.IntN(len(states))]; s != "" {
				p.Result.State = json.RawMessage(s)
			}
		}
		rec.Parts = append(rec.Parts, p)
	}
	return rec
}

// BenchmarkEncodeMetaAndPart: one settle's encoding of a single-part text
// message, by the appenders and by encoding/json.
func BenchmarkEncodeMetaAndPart(b *testing.B) {
	at := time.Date(2026, 12, 6, 10, 15, 0, 123456789, time.FixedZone("CST", 8*3600))
	rec := Record{ID: "app1.06h4vj26yt9dcdnsyke78zdm5w", App: "app1", State: Accepted, Runs: 1, EventSeq: 2, CreatedAt: at,
		UpdatedAt: at, FinishedAt: at, Enqueued: true,
		Parts: []Part{{Part: providers.Part{To: providers.Recipients{Users: []string{"u000123"}},
			Body: []byte(`{"touser":"u000123","msgtype":"text","agentid":1000002,"text":{"content":"hello"},"safe":0}`)},
			State: PartAccepted, Attempts: 1, FirstSentAt: at, SentAt: at,
			Result: &providers.Result{ProviderMessageID: "msgid-123", Invalid: providers.Recipients{}}}}}
	b.Run("append", func(b *testing.B) {
		for b.Loop() {
			if _, err := appendMeta(make([]byte, 0, 384), &rec); err != nil {
				b.Fatal(err)
			}
			if _, err := appendPart(make([]byte, 0, 512), &rec.Parts[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		m := rec
		m.Parts = nil
		for b.Loop() {
			if _, err := json.Marshal(&m); err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(&rec.Parts[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
