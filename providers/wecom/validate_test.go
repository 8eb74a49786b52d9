package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

// assertField fails unless err is a *providers.ValidationError on field.
func assertField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *providers.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T), want a *providers.ValidationError on %s", err, err, field)
	}
	if ve.Field != field {
		t.Errorf("field %q (%v), want %q", ve.Field, ve, field)
	}
	if providers.ClassOf(err) != providers.ClassPermanent {
		t.Errorf("class %v, want permanent", providers.ClassOf(err))
	}
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	users := providers.Recipients{Users: []string{"a"}}
	text := func(s string) providers.Message {
		return providers.Message{To: users, Kind: providers.KindText, Text: s}
	}
	raw := func(s string) providers.Message {
		return providers.Message{To: users, Kind: providers.KindRaw, Body: json.RawMessage(s)}
	}
	card := func(s string) providers.Message {
		return providers.Message{To: users, Kind: providers.KindCard, Body: json.RawMessage(s)}
	}
	tests := []struct {
		desc  string
		msg   providers.Message
		field string // "" means valid
	}{
		{desc: "valid text", msg: text("hello")},
		{desc: "valid text of exactly 2048 bytes", msg: text(strings.Repeat("字", 682) + "ab")},
		{desc: "valid markdown", msg: providers.Message{To: users, Kind: providers.KindMarkdown, Text: "**b**"}},
		{desc: "valid card", msg: card(`{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://x"}}`)},
		{desc: "valid textcard", msg: providers.Message{To: users, Kind: KindTextCard, Body: json.RawMessage(`{"title":"t","description":"d","url":"https://x"}`)}},
		{desc: "valid raw news", msg: raw(`{"msgtype":"news","news":{"articles":[{"title":"t","url":"https://x"}]}}`)},
		{desc: "valid to all", msg: providers.Message{To: providers.Recipients{All: true}, Kind: providers.KindText, Text: "x"}},

		{desc: "no recipients", msg: providers.Message{Kind: providers.KindText, Text: "x"}, field: "to"},
		{desc: "chats", msg: providers.Message{To: providers.Recipients{Users: []string{"a"}, Chats: []string{"c"}}, Kind: providers.KindText, Text: "x"}, field: "to.chats"},
		{desc: "all with users", msg: providers.Message{To: providers.Recipients{All: true, Users: []string{"a"}}, Kind: providers.KindText, Text: "x"}, field: "to"},
		{desc: "all with tags", msg: providers.Message{To: providers.Recipients{All: true, Tags: []string{"1"}}, Kind: providers.KindText, Text: "x"}, field: "to"},
		{desc: "empty user id", msg: providers.Message{To: providers.Recipients{Users: []string{"a", "b", "c", ""}}, Kind: providers.KindText, Text: "x"}, field: "to.users[3]"},
		{desc: "pipe in user id", msg: providers.Message{To: providers.Recipients{Users: []string{"a|b"}}, Kind: providers.KindText, Text: "x"}, field: "to.users[0]"},
		{desc: "@all as a user id", msg: providers.Message{To: providers.Recipients{Users: []string{"a", "@ALL"}}, Kind: providers.KindText, Text: "x"}, field: "to.users[1]"},
		{desc: "user id of 64 bytes", msg: providers.Message{To: providers.Recipients{Users: []string{strings.Repeat("u", 64)}}, Kind: providers.KindText, Text: "x"}},
		{desc: "user id over 64 bytes", msg: providers.Message{To: providers.Recipients{Users: []string{"a", "b", "c", strings.Repeat("u", 65)}}, Kind: providers.KindText, Text: "x"}, field: "to.users[3]"},
		{desc: "space in user id", msg: providers.Message{To: providers.Recipients{Users: []string{"a", "zhang san"}}, Kind: providers.KindText, Text: "x"}, field: "to.users[1]"},
		{desc: "tab in user id", msg: providers.Message{To: providers.Recipients{Users: []string{"zhang\tsan"}}, Kind: providers.KindText, Text: "x"}, field: "to.users[0]"},
		{desc: "control character in user id", msg: providers.Message{To: providers.Recipients{Users: []string{"zhang\x00san"}}, Kind: providers.KindText, Text: "x"}, field: "to.users[0]"},
		{desc: "user id not UTF-8", msg: providers.Message{To: providers.Recipients{Users: []string{"zhang\xffsan"}}, Kind: providers.KindText, Text: "x"}, field: "to.users[0]"},
		{desc: "pipe in dept id", msg: providers.Message{To: providers.Recipients{Depts: []string{"1", "2|3"}}, Kind: providers.KindText, Text: "x"}, field: "to.depts[1]"},
		{desc: "non-numeric tag id", msg: providers.Message{To: providers.Recipients{Tags: []string{"TagID1"}}, Kind: providers.KindText, Text: "x"}, field: "to.tags[0]"},
		{desc: "empty dept id", msg: providers.Message{To: providers.Recipients{Depts: []string{""}}, Kind: providers.KindText, Text: "x"}, field: "to.depts[0]"},

		{desc: "no kind", msg: providers.Message{To: users, Text: "x"}, field: "kind"},
		{desc: "unknown kind", msg: providers.Message{To: users, Kind: "sms", Text: "x"}, field: "kind"},
		{desc: "kind template_card", msg: providers.Message{To: users, Kind: "template_card", Body: json.RawMessage(`{"card_type":"text_notice"}`)}, field: "kind"},
		{desc: "typed kind with text", msg: providers.Message{To: users, Kind: KindVoice, Text: "x", Body: json.RawMessage(`{"media_id":"m"}`)}, field: "text"},
		{desc: "typed kind without body", msg: providers.Message{To: users, Kind: KindImage}, field: "body"},
		{desc: "typed kind body an array", msg: providers.Message{To: users, Kind: KindImage, Body: json.RawMessage(`[]`)}, field: "body"},
		{desc: "empty text", msg: text(""), field: "text"},
		{desc: "blank text", msg: text(" \n\t"), field: "text"},
		{desc: "text of 2049 bytes", msg: text(strings.Repeat("字", 682) + "abc"), field: "text"},
		{desc: "text with a control character", msg: text("a\x01b"), field: "text"},
		{desc: "text with a body", msg: providers.Message{To: users, Kind: providers.KindText, Text: "x", Body: json.RawMessage(`{}`)}, field: "body"},
		{desc: "markdown not UTF-8", msg: providers.Message{To: users, Kind: providers.KindMarkdown, Text: "a\xffb"}, field: "text"},
		{desc: "markdown too long", msg: providers.Message{To: users, Kind: providers.KindMarkdown, Text: strings.Repeat("a", 2049)}, field: "text"},

		{desc: "card without body", msg: card(``), field: "body"},
		{desc: "card body an array", msg: card(`[]`), field: "body"},
		{desc: "card body null", msg: card(`null`), field: "body"},
		{desc: "card body broken", msg: card(`{"card_type":`), field: "body"},
		{desc: "card without card_type", msg: card(`{"main_title":{}}`), field: "body.card_type"},
		{desc: "card with unknown card_type", msg: card(`{"card_type":"poster"}`), field: "body.card_type"},
		{desc: "card_type not a string", msg: card(`{"card_type":1}`), field: "body.card_type"},
		{desc: "card with text", msg: providers.Message{To: users, Kind: providers.KindCard, Text: "x", Body: json.RawMessage(`{"card_type":"text_notice"}`)}, field: "text"},

		{desc: "raw without msgtype", msg: raw(`{"text":{"content":"x"}}`), field: "body.msgtype"},
		{desc: "raw msgtype not a string", msg: raw(`{"msgtype":1}`), field: "body.msgtype"},
		{desc: "raw unsupported msgtype", msg: raw(`{"msgtype":"poster","poster":{}}`), field: "body.msgtype"},
		{desc: "raw without content object", msg: raw(`{"msgtype":"image"}`), field: "body.image"},
		{desc: "raw content not an object", msg: raw(`{"msgtype":"image","image":"m"}`), field: "body.image"},
		{desc: "raw text empty", msg: raw(`{"msgtype":"text","text":{"content":""}}`), field: "body.text.content"},
		{desc: "raw text content not a string", msg: raw(`{"msgtype":"text","text":{"content":5}}`), field: "body.text.content"},
		{desc: "raw markdown too long", msg: raw(`{"msgtype":"markdown","markdown":{"content":"` + strings.Repeat("a", 2049) + `"}}`), field: "body.markdown.content"},
		{desc: "raw template_card without card_type", msg: raw(`{"msgtype":"template_card","template_card":{}}`), field: "body.template_card.card_type"},
		{desc: "raw safe out of range", msg: raw(`{"msgtype":"image","image":{"media_id":"m"},"safe":3}`), field: "body.safe"},
		{desc: "raw safe 2 on text", msg: raw(`{"msgtype":"text","text":{"content":"x"},"safe":2}`), field: "body.safe"},
		{desc: "raw safe on news", msg: raw(`{"msgtype":"news","news":{"articles":[]},"safe":1}`), field: "body.safe"},
		{desc: "raw enable_id_trans 2", msg: raw(`{"msgtype":"image","image":{"media_id":"m"},"enable_id_trans":2}`), field: "body.enable_id_trans"},
		{desc: "raw unknown top-level key", msg: raw(`{"msgtype":"image","image":{"media_id":"m"},"markdown":{"content":"x"}}`), field: "body.markdown"},
		{desc: "raw with a control character", msg: raw(`{"msgtype":"image","image":{"media_id":"a\u0007b"}}`), field: "body.image"},
		{desc: "raw not UTF-8", msg: raw("{\"msgtype\":\"image\",\"image\":{\"media_id\":\"\xff\"}}"), field: "body"},
		{desc: "raw too large", msg: raw(`{"msgtype":"image","image":{"media_id":"` + strings.Repeat("m", MaxBodyBytes) + `"}}`), field: "body"},
		{desc: "raw with text", msg: providers.Message{To: users, Kind: providers.KindRaw, Text: "x", Body: json.RawMessage(`{"msgtype":"image","image":{"media_id":"m"}}`)}, field: "text"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			err := Validate(&tt.msg)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			assertField(t, err, tt.field)
			// Prepare and the method apply the same rules.
			b := setup(t)
			assertField(t, b.client.Validate(&tt.msg), tt.field)
			_, err = b.client.Prepare(context.Background(), &tt.msg, providers.PrepareOptions{})
			assertField(t, err, tt.field)
		})
	}
}

func TestValidateNilMessage(t *testing.T) {
	t.Parallel()
	assertField(t, Validate(nil), "message")
}
