package dashboard_test

import (
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/internal/dashboard"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/webhook"
)

// TestPayloadFormatter: each task type shows what identifies it and nothing
// of its content.
func TestPayloadFormatter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		desc, typ, payload string
		want, never        []string
	}{
		{"send", job.TypeSend, `{"id":"hr.1","message":{"app":"hr","to":{"users":["a","b"],"depts":["9"]},"kind":"card","body":{"secret":"BODY"}},"generation":2}`,
			[]string{"message hr.1", "app hr", "kind card", "3 recipients", "follow-up 2"}, []string{"BODY", `"a"`}},
		{"cancel", job.TypeCancel, `{"id":"hr.1","app":"hr"}`, []string{"message hr.1", "app hr"}, nil},
		{"webhook", webhook.TypeDeliver, `{"event_id":"hr.1/3","app":"hr","url":"https://u:pw@hooks.example.com/x?token=T","body":{"detail":"D"}}`,
			[]string{"event hr.1/3", "hooks.example.com"}, []string{"pw", "token=T", "detail"}},
		{"provider task", "msgd:wecom:auth", `{"sealed":"PERMANENT-CODE"}`, []string{"msgd:wecom:auth", "not shown"}, []string{"PERMANENT-CODE"}},
		{"undecodable send", job.TypeSend, `{{`, []string{"undecodable"}, []string{"{{"}},
	}
	for _, tc := range cases {
		got := dashboard.PayloadFormatter.FormatPayload(tc.typ, []byte(tc.payload))
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.desc, got, w)
			}
		}
		for _, n := range tc.never {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q shows %q", tc.desc, got, n)
			}
		}
	}
}
