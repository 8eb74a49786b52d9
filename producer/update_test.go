package producer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

const (
	buttonCard = `{"card_type":"button_interaction","main_title":{"title":"v0"},"task_id":"%s","button_list":[{"text":"OK","style":1,"key":"ok"}]}`
	noticeCard = `{"card_type":"text_notice","main_title":{"title":"v0"},"card_action":{"type":1,"url":"https://example.com"}}`
)

func cardTo(body string, users ...string) providers.Message {
	return providers.Message{App: "hr", To: providers.Recipients{Users: users}, Kind: providers.KindCard, Body: json.RawMessage(body)}
}

// Content that cannot apply to the message — a kind other than card or
// button, or any update of a message that is not an updatable card — is
// refused at enqueue on "kind", and nothing is written: no sequence number
// is taken.
func TestUpdateRefusesContentThatCannotApply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cardID, err := b.client.Send(b.ctx, cardTo(strings.Replace(buttonCard, `"task_id":"%s",`, "", 1), "u1"))
	if err != nil {
		t.Fatal(err)
	}
	textID, err := b.client.Send(b.ctx, textTo("hello", "u1"))
	if err != nil {
		t.Fatal(err)
	}
	noticeID, err := b.client.Send(b.ctx, cardTo(noticeCard, "u1"))
	if err != nil {
		t.Fatal(err)
	}
	newCard := json.RawMessage(`{"card_type":"button_interaction","main_title":{"title":"v1"},"button_list":[{"text":"OK","style":1,"key":"ok"}]}`)
	tests := []struct {
		desc    string
		id      string
		content Content
		field   string
	}{
		{desc: "text for a card", id: cardID, content: Content{Kind: providers.KindText, Text: "now plain text"}, field: "kind"},
		{desc: "markdown for a card", id: cardID, content: Content{Kind: providers.KindMarkdown, Text: "**now**"}, field: "kind"},
		{desc: "text for a text message", id: textID, content: Content{Kind: providers.KindText, Text: "changed"}, field: "kind"},
		{desc: "card for a text message", id: textID, content: Content{Kind: providers.KindCard, Body: newCard}, field: "kind"},
		{desc: "button for a text message", id: textID, content: Content{Kind: wecom.KindButton, Text: "done"}, field: "kind"},
		{desc: "card for a card that returns no response_code", id: noticeID, content: Content{Kind: providers.KindCard, Body: newCard}, field: "kind"},
	}
	for _, tc := range tests {
		_, err := b.client.Update(b.ctx, tc.id, tc.content)
		var ve *providers.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field {
			t.Errorf("%s: err = %v, want a validation error on %q", tc.desc, err, tc.field)
		}
		d, err := b.client.records.UpdateData(b.ctx, "hr", tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Seq != 0 || d.Newest != nil {
			t.Errorf("%s: update state written: seq %d", tc.desc, d.Seq)
		}
	}
	if seq, err := b.client.Update(b.ctx, cardID, Content{Kind: providers.KindCard, Body: newCard}); err != nil || seq != 1 {
		t.Errorf("a card for a card: seq %d, err %v; want 1", seq, err)
	}
}

// A card's task_id is refused when an earlier message of the app gave it
// (WeCom would answer 42014); a retry with the same idempotency key keeps it.
func TestSendRefusesAReusedTaskID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := strings.Replace(buttonCard, "%s", "approval-4711", 1)
	first, err := b.client.Send(b.ctx, cardTo(body, "u1"))
	if err != nil {
		t.Fatal(err)
	}
	tasks := b.tasks(t)
	_, err = b.client.Send(b.ctx, cardTo(body, "u2"))
	var ve *providers.ValidationError
	if !errors.As(err, &ve) || ve.Field != "body.task_id" || !strings.Contains(err.Error(), first) {
		t.Errorf("second card with task_id approval-4711: %v, want it refused on body.task_id naming %s", err, first)
	}
	if n := b.tasks(t); n != tasks {
		t.Errorf("%d tasks, want %d", n, tasks)
	}
	other := strings.Replace(buttonCard, "%s", "approval-4712", 1)
	id1, err := b.client.Send(b.ctx, cardTo(other, "u1"), IdempotencyKey("k1"))
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := b.client.Send(b.ctx, cardTo(other, "u1"), IdempotencyKey("k1")); err != nil || id2 != id1 {
		t.Errorf("retry with the same key: %s, %v; want %s", id2, err, id1)
	}
	if _, err := b.client.Send(b.ctx, cardTo(other, "u1"), IdempotencyKey("k2")); !errors.As(err, &ve) || ve.Field != "body.task_id" {
		t.Errorf("another key, same task_id: %v, want it refused on body.task_id", err)
	}
}
