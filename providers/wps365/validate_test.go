package wps365_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wps365"
)

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	u1 := providers.Recipients{Users: []string{"u1"}}
	mentions := func(n int) string {
		var ms []string
		for i := range n {
			ms = append(ms, fmt.Sprintf(`{"id":"%d","type":"all"}`, i))
		}
		return `{"mentions":[` + strings.Join(ms, ",") + `]}`
	}
	tests := []struct {
		desc  string
		msg   providers.Message
		field string // "" means valid
	}{
		{desc: "5000 characters", msg: providers.Message{Kind: providers.KindText, Text: strings.Repeat("字", 5000), To: u1}},
		{desc: "5001 characters", msg: providers.Message{Kind: providers.KindText, Text: strings.Repeat("字", 5001), To: u1}, field: "text"},
		{desc: "100 mentions", msg: providers.Message{Kind: providers.KindText, Text: "x", Body: []byte(mentions(100)), To: u1}},
		{desc: "101 mentions", msg: providers.Message{Kind: providers.KindText, Text: "x", Body: []byte(mentions(101)), To: u1}, field: "body.mentions"},
		{desc: "at without mention", msg: providers.Message{Kind: providers.KindMarkdown, Text: `<at id="2">x</at>`, To: u1}, field: "body.mentions"},
		{desc: "user mention without identity", msg: providers.Message{Kind: providers.KindText, Text: "x", Body: []byte(`{"mentions":[{"id":"0","type":"user"}]}`), To: u1}, field: "body.mentions[0].identity.id"},
		{desc: "card with 20 components", msg: providers.Message{Kind: providers.KindCard, Body: testCard("t", 20), To: u1}},
		{desc: "card with 21 components", msg: providers.Message{Kind: providers.KindCard, Body: testCard("t", 21), To: u1}, field: "body.i18n_items[0].value.elements"},
		{desc: "card over 15000 characters", msg: providers.Message{Kind: providers.KindCard, Body: testCard(strings.Repeat("长", 15000), 1), To: u1}, field: "body"},
		{desc: "card without i18n_items", msg: providers.Message{Kind: providers.KindCard, Body: []byte(`{"config":{}}`), To: u1}, field: "body.i18n_items"},
		{desc: "image without storage key", msg: providers.Message{Kind: wps365.KindImage, Body: []byte(`{"name":"a.png"}`), To: u1}, field: "body.storage_key"},
		{desc: "image", msg: providers.Message{Kind: wps365.KindImage, Body: []byte(`{"storage_key":"k"}`), To: u1}},
		{desc: "file", msg: providers.Message{Kind: wps365.KindFile, Body: []byte(`{"type":"local","local":{"name":"a","size":1,"storage_key":"k"}}`), To: u1}},
		{desc: "rich text", msg: providers.Message{Kind: wps365.KindRichText, Body: []byte(`{"elements":[{"type":"text","text_content":{"content":"x"}}]}`), To: u1}},
		{desc: "tags", msg: providers.Message{Kind: providers.KindText, Text: "x", To: providers.Recipients{Tags: []string{"t"}}}, field: "to.tags"},
		{desc: "no recipient", msg: providers.Message{Kind: providers.KindText, Text: "x"}, field: "to"},
		{desc: "bad partner user", msg: providers.Message{Kind: providers.KindText, Text: "x", To: providers.Recipients{Users: []string{"partner:p1"}}}, field: "to.users[0]"},
		{desc: "unknown kind", msg: providers.Message{Kind: "video", To: u1}, field: "kind"},
	}
	c := wps365.New(wps365.Config{AppID: "a", AppSecret: "s"}, nil, nil)
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			err := c.Validate(&tc.msg)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ve *providers.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("Validate = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
}

func TestAllNeedsCompanyID(t *testing.T) {
	t.Parallel()
	msg := providers.Message{Kind: providers.KindText, Text: "x", To: providers.Recipients{All: true}}
	var ve *providers.ValidationError
	if err := wps365.New(wps365.Config{AppID: "a", AppSecret: "s"}, nil, nil).Validate(&msg); !errors.As(err, &ve) || ve.Field != "to.all" {
		t.Fatalf("Validate = %v, want to.all", err)
	}
	parts, err := wps365.New(wps365.Config{AppID: "a", AppSecret: "s", CompanyID: "c9"}, nil, nil).Prepare(context.Background(), &msg, providers.PrepareOptions{})
	if err != nil || len(parts) != 1 || !strings.Contains(string(parts[0].Body), `{"type":"company","receiver_ids":["c9"]}`) {
		t.Fatalf("Prepare = %v, %v; want one batch to company c9", parts, err)
	}
}

func TestPreparePacksBatches(t *testing.T) {
	t.Parallel()
	users := make([]string, 450)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	depts := make([]string, 60)
	for i := range depts {
		depts[i] = fmt.Sprintf("d%d", i)
	}
	c := wps365.New(wps365.Config{AppID: "a", AppSecret: "s"}, nil, nil)
	tests := []struct {
		desc  string
		kind  providers.Kind
		body  []byte
		parts int
	}{
		{desc: "text: batches of 200 users and 50 depts", kind: providers.KindText, parts: 3},
		{desc: "card: one create per user, depts in batches", kind: providers.KindCard, body: testCard("c", 1), parts: 450 + 2},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			parts, err := c.Prepare(context.Background(), &providers.Message{Kind: tc.kind, Text: "x", Body: tc.body,
				To: providers.Recipients{Users: users, Depts: depts}}, providers.PrepareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != tc.parts {
				t.Fatalf("%d parts, want %d", len(parts), tc.parts)
			}
			nUsers, nDepts := 0, 0
			for i, p := range parts {
				if p.Index != i || len(p.To.Users) > wps365.MaxBatchUsers || len(p.To.Depts) > wps365.MaxBatchDepts {
					t.Fatalf("part %d: index %d, %d users, %d depts", i, p.Index, len(p.To.Users), len(p.To.Depts))
				}
				nUsers += len(p.To.Users)
				nDepts += len(p.To.Depts)
			}
			if nUsers != len(users) || nDepts != len(depts) {
				t.Fatalf("parts cover %d users and %d depts, want %d and %d", nUsers, nDepts, len(users), len(depts))
			}
		})
	}
}

// BenchmarkPrepareCardPerPart shows that Prepare's cost per part is flat
// from 10 to 1000 users: compare the ns/part metric across sub-benchmarks.
func BenchmarkPrepareCardPerPart(b *testing.B) {
	c := wps365.New(wps365.Config{AppID: "a", AppSecret: "s"}, nil, nil)
	card := testCard("bench", 10)
	for _, n := range []int{10, 100, 1000} {
		users := make([]string, n)
		for i := range users {
			users[i] = fmt.Sprintf("user-%06d", i)
		}
		msg := &providers.Message{Kind: providers.KindCard, Body: card, To: providers.Recipients{Users: users}}
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				parts, err := c.Prepare(context.Background(), msg, providers.PrepareOptions{})
				if err != nil || len(parts) != n {
					b.Fatalf("%d parts, %v", len(parts), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/part")
		})
	}
}
