package xiezuo

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

func TestCtxID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		id         string
		part, gen  int
		reversible bool
	}{
		{desc: "dispatcher id form", id: "hr-bot.01jd8x7c3k9f2m4q6r8t0v2w4y", part: 2, gen: 1, reversible: true},
		{desc: "no app prefix: hashed", id: "msg-1", part: 0, gen: 0},
		{desc: "too long: hashed", id: "a." + strings.Repeat("x", 40), part: 0, gen: 0},
		{desc: "odd characters: hashed", id: "a.b~c", part: 1, gen: 0},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		got := CtxID(tc.id, tc.part, tc.gen)
		if len(got) > MaxCtxIDLen || got != CtxID(tc.id, tc.part, tc.gen) || seen[got] {
			t.Fatalf("%s: CtxID = %q: too long, unstable or repeated", tc.desc, got)
		}
		seen[got] = true
		app, _, _ := strings.Cut(tc.id, ".")
		id, p, g, ok := ParseCtxID(app, got)
		if ok != tc.reversible || (ok && (id != tc.id || p != tc.part || g != tc.gen)) {
			t.Fatalf("%s: ParseCtxID(%q) = %q %d %d %v", tc.desc, got, id, p, g, ok)
		}
		if CtxID(tc.id, tc.part+1, tc.gen) == got || CtxID(tc.id, tc.part, tc.gen+1) == got {
			t.Fatalf("%s: part or generation does not change the ctx_id", tc.desc)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	many := make([]string, 21)
	for i := range many {
		many[i] = `{"tag":"text","content":{"type":"plainText","text":"x"}}`
	}
	tests := []struct {
		desc  string
		msg   providers.Message
		field string // "" for valid
	}{
		{desc: "text ok", msg: providers.Message{To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindText, Text: "hi"}},
		{desc: "5000 characters ok", msg: providers.Message{To: providers.Recipients{All: true}, Kind: providers.KindText, Text: strings.Repeat("字", 5000)}},
		{desc: "5001 characters", msg: providers.Message{To: providers.Recipients{All: true}, Kind: providers.KindText, Text: strings.Repeat("字", 5001)}, field: "text"},
		{desc: "tags unsupported", msg: providers.Message{To: providers.Recipients{Tags: []string{"1"}}, Kind: providers.KindText, Text: "x"}, field: "to.tags"},
		{desc: "empty user id", msg: providers.Message{To: providers.Recipients{Users: []string{"u", ""}}, Kind: providers.KindText, Text: "x"}, field: "to.users[1]"},
		{desc: "21 card components", msg: providers.Message{To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindCard,
			Body: json.RawMessage(`{"elements":[` + strings.Join(many, ",") + `]}`)}, field: "body.elements"},
		{desc: "card component without tag", msg: providers.Message{To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindCard,
			Body: json.RawMessage(`{"elements":[{"content":{}}]}`)}, field: "body.elements[0].tag"},
		{desc: "raw type mismatch", msg: providers.Message{To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindRaw,
			Body: json.RawMessage(`{"msg_type":1,"content":{"type":23,"body":"x"}}`)}, field: "body.content.type"},
		{desc: "raw with recipients", msg: providers.Message{To: providers.Recipients{Users: []string{"u"}}, Kind: providers.KindRaw,
			Body: json.RawMessage(`{"msg_type":1,"content":{"type":1,"body":"x"},"to_users":{}}`)}, field: "body.to_users"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			err := Validate(&tc.msg)
			var ve *providers.ValidationError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tc.field != "" && (!asValidation(err, &ve) || ve.Field != tc.field):
				t.Fatalf("Validate = %v, want a ValidationError on %s", err, tc.field)
			}
		})
	}
}

func asValidation(err error, ve **providers.ValidationError) bool {
	v, ok := err.(*providers.ValidationError)
	*ve = v
	return ok
}
