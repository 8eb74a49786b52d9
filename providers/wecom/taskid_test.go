package wecom

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestPartTaskID(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("t", 125)
	tests := []struct {
		desc    string
		given   string
		opts    providers.PrepareOptions
		index   int
		parts   int
		want    string
		wantErr bool
	}{
		{desc: "generated, one part", opts: providers.PrepareOptions{MessageID: "msg-42"}, parts: 1, want: "md_msg-42_g0_p0"},
		{desc: "generated, third part", opts: providers.PrepareOptions{MessageID: "msg-42"}, index: 2, parts: 3, want: "md_msg-42_g0_p2"},
		{desc: "generated, follow-up generation", opts: providers.PrepareOptions{MessageID: "msg-42", Generation: 3}, index: 1, parts: 2, want: "md_msg-42_g3_p1"},
		{desc: "generated from a message id with other characters", opts: providers.PrepareOptions{MessageID: "leave:4711/zh"}, parts: 1,
			want: "mdh_" + sha256Hex("leave:4711/zh")[:40] + "_g0_p0"},
		{desc: "generated from a message id of 65 bytes", opts: providers.PrepareOptions{MessageID: strings.Repeat("m", 65)}, parts: 1,
			want: "mdh_" + sha256Hex(strings.Repeat("m", 65))[:40] + "_g0_p0"},
		{desc: "generated from a message id of 64 bytes", opts: providers.PrepareOptions{MessageID: strings.Repeat("m", 64)}, parts: 1,
			want: "md_" + strings.Repeat("m", 64) + "_g0_p0"},
		{desc: "no message id", parts: 1, wantErr: true},
		{desc: "given, one part", given: "approval_7", opts: providers.PrepareOptions{MessageID: "m"}, parts: 1, want: "approval_7"},
		{desc: "given, several parts", given: "approval_7", opts: providers.PrepareOptions{MessageID: "m"}, index: 1, parts: 3, want: "approval_7_p1"},
		{desc: "given, follow-up", given: "approval_7", opts: providers.PrepareOptions{MessageID: "m", Generation: 2}, parts: 1, want: "approval_7_g2_p0"},
		{desc: "given, needs no message id", given: "approval_7", index: 0, parts: 2, want: "approval_7_p0"},
		{desc: "given and long, cut and tagged", given: long, index: 12, parts: 13,
			want: long[:128-len("_p12")-9] + "_" + sha256Hex(long)[:8] + "_p12"},
		{desc: "given of 124 bytes still fits", given: long[:124], index: 1, parts: 2, want: long[:124] + "_p1"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := partTaskID(tt.given, tt.opts, tt.index, tt.parts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("task_id\n got %s\nwant %s", got, tt.want)
			}
			if !tt.wantErr && (len(got) > maxTaskIDBytes || !validTaskIDChars(got)) {
				t.Errorf("task_id %q is not one WeCom takes", got)
			}
		})
	}
}

func TestSetMember(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		obj     string
		want    string
		wantErr bool
	}{
		{desc: "appended", obj: `{"card_type":"vote_interaction","a":[1,{"task_id":"inner"}]}`, want: `{"card_type":"vote_interaction","a":[1,{"task_id":"inner"}],"task_id":"T<&>"}`},
		{desc: "replaced in place", obj: `{"card_type":"x","task_id":"old","z":1}`, want: `{"card_type":"x","task_id":"T<&>","z":1}`},
		{desc: "replaced at the end", obj: `{"card_type":"x","task_id":""}`, want: `{"card_type":"x","task_id":"T<&>"}`},
		{desc: "replaced when not a string", obj: `{"task_id":12}`, want: `{"task_id":"T<&>"}`},
		{desc: "empty object", obj: `{}`, want: `{"task_id":"T<&>"}`},
		{desc: "not an object", obj: `[]`, wantErr: true},
		{desc: "broken", obj: `{"a":`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := setMember([]byte(tt.obj), "task_id", "T<&>")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// cardTaskIDs returns the template_card task_id of each part.
func cardTaskIDs(t *testing.T, parts []providers.Part) []string {
	t.Helper()
	var ids []string
	for _, p := range parts {
		var body struct {
			TemplateCard map[string]json.RawMessage `json:"template_card"`
		}
		if err := json.Unmarshal(p.Body, &body); err != nil {
			t.Fatal(err)
		}
		var id string
		if raw, ok := body.TemplateCard["task_id"]; ok {
			if err := json.Unmarshal(raw, &id); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, id)
	}
	return ids
}

// A card sent in several parts gets a different task_id in each (WeCom refuses
// a task_id its app used before), the same ones every time it is prepared.
func TestPrepareCardTaskIDs(t *testing.T) {
	t.Parallel()
	users := make([]string, 2*MaxUsersPerPart+1)
	for i := range users {
		users[i] = fmt.Sprintf("user%d", i)
	}
	tests := []struct {
		desc string
		card string
		to   providers.Recipients
		opts providers.PrepareOptions
		want []string
	}{
		{desc: "interaction card without task_id, three parts", card: cardWith(t, "vote_interaction", "task_id", ""),
			to: providers.Recipients{Users: users}, opts: providers.PrepareOptions{MessageID: "msg-1"},
			want: []string{"md_msg-1_g0_p0", "md_msg-1_g0_p1", "md_msg-1_g0_p2"}},
		{desc: "interaction card with task_id, three parts", card: cardWith(t, "button_interaction"),
			to: providers.Recipients{Users: users}, opts: providers.PrepareOptions{MessageID: "msg-1"},
			want: []string{"task_id_0001_p0", "task_id_0001_p1", "task_id_0001_p2"}},
		{desc: "interaction card with task_id, one part", card: cardWith(t, "button_interaction"),
			to: providers.Recipients{Users: users[:3]}, opts: providers.PrepareOptions{MessageID: "msg-1"},
			want: []string{"task_id_0001"}},
		{desc: "interaction card without task_id, follow-up", card: cardWith(t, "multiple_interaction", "task_id", ""),
			to: providers.Recipients{Users: users[:3]}, opts: providers.PrepareOptions{MessageID: "msg-1", Generation: 1},
			want: []string{"md_msg-1_g1_p0"}},
		{desc: "notice card with action_menu, to all", card: cardWith(t, "news_notice", "action_menu", `{"action_list":[{"text":"t","key":"k"}]}`),
			to: providers.Recipients{All: true}, opts: providers.PrepareOptions{MessageID: "msg-2"},
			want: []string{"md_msg-2_g0_p0"}},
		{desc: "notice card with task_id, two parts of departments", card: cardWith(t, "text_notice", "task_id", `"notice-9"`),
			to: providers.Recipients{Depts: strings.Split(strings.Repeat("1,", 150)+"1", ",")}, opts: providers.PrepareOptions{},
			want: []string{"notice-9_p0", "notice-9_p1"}},
		{desc: "notice card without task_id gets none", card: cardWith(t, "text_notice"),
			to: providers.Recipients{Users: users}, opts: providers.PrepareOptions{MessageID: "msg-1"},
			want: []string{"", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			msg := &providers.Message{App: "app", To: tt.to, Kind: providers.KindCard, Body: json.RawMessage(tt.card)}
			parts, err := b.client.Prepare(context.Background(), msg, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := cardTaskIDs(t, parts)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("task_ids %q, want %q", got, tt.want)
			}
			again, err := b.client.Prepare(context.Background(), msg, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range parts {
				if !bytes.Equal(parts[i].Body, again[i].Body) {
					t.Errorf("part %d differs when prepared again", i)
				}
			}
		})
	}
}

// A card that needs a generated task_id cannot be prepared without a message
// id; one that has its own can.
func TestPrepareCardWithoutMessageID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	to := providers.Recipients{Users: []string{"a"}}
	_, err := b.client.Prepare(context.Background(), &providers.Message{To: to, Kind: providers.KindCard,
		Body: json.RawMessage(cardWith(t, "vote_interaction", "task_id", ""))}, providers.PrepareOptions{})
	assertField(t, err, "body.task_id")
	if _, err := b.client.Prepare(context.Background(), &providers.Message{To: to, Kind: providers.KindCard,
		Body: json.RawMessage(cardWith(t, "vote_interaction"))}, providers.PrepareOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A raw template_card is sent as written: no task_id is added or changed.
func TestPrepareRawCardKeepsTaskID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	users := make([]string, MaxUsersPerPart+1)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	raw := `{"msgtype":"template_card","template_card":` + cardWith(t, "button_interaction") + `}`
	parts, err := b.client.Prepare(context.Background(), &providers.Message{To: providers.Recipients{Users: users}, Kind: providers.KindRaw,
		Body: json.RawMessage(raw)}, providers.PrepareOptions{MessageID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cardTaskIDs(t, parts); len(got) != 2 || got[0] != "task_id_0001" || got[1] != "task_id_0001" {
		t.Errorf("task_ids %q", got)
	}
}
