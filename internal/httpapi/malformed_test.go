package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestMalformedRequests: each malformed request is refused with an error
// naming its field, and writes nothing to Redis (no record, no task, no key
// at all).
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	id := wecomApp + ".01jd8x7c3k9f2m4q6r8t0v2w4y"
	text := func(extra string) string {
		return `{"app":"hr","to":{"users":["zhangsan"]},"kind":"text","text":"hi"` + extra + `}`
	}
	cases := []struct {
		desc, method, path, body string
		headers                  []string
		status                   int
		field                    string
	}{
		{"empty body", "POST", "/v1/messages", "", nil, 400, "request_body"},
		{"not JSON", "POST", "/v1/messages", "hello", nil, 400, "request_body"},
		{"truncated JSON", "POST", "/v1/messages", `{"app":"hr",`, nil, 400, "request_body"},
		{"JSON array", "POST", "/v1/messages", `[1,2]`, nil, 400, "request_body"},
		{"two objects", "POST", "/v1/messages", text("") + text(""), nil, 400, "request_body"},
		{"unknown field", "POST", "/v1/messages", text(`,"colour":"red"`), nil, 400, "colour"},
		{"unknown recipients field", "POST", "/v1/messages", `{"app":"hr","to":{"userz":["a"]},"kind":"text","text":"x"}`, nil, 400, "userz"},
		{"app missing", "POST", "/v1/messages", `{"to":{"users":["zhangsan"]},"kind":"text","text":"hi"}`, nil, 400, "app"},
		{"app a number", "POST", "/v1/messages", `{"app":7,"to":{"users":["a"]},"kind":"text","text":"x"}`, nil, 400, "app"},
		{"to a string", "POST", "/v1/messages", `{"app":"hr","to":"zhangsan","kind":"text","text":"x"}`, nil, 400, "to"},
		{"users not strings", "POST", "/v1/messages", `{"app":"hr","to":{"users":[1]},"kind":"text","text":"x"}`, nil, 400, "to.users"},
		{"all not bool", "POST", "/v1/messages", `{"app":"hr","to":{"all":"yes"},"kind":"text","text":"x"}`, nil, 400, "to.all"},
		{"no recipient", "POST", "/v1/messages", `{"app":"hr","to":{},"kind":"text","text":"x"}`, nil, 400, "to"},
		{"kind missing", "POST", "/v1/messages", `{"app":"hr","to":{"users":["zhangsan"]},"text":"x"}`, nil, 400, "kind"},
		{"unknown kind", "POST", "/v1/messages", `{"app":"hr","to":{"users":["zhangsan"]},"kind":"hologram","text":"x"}`, nil, 400, "kind"},
		{"text missing", "POST", "/v1/messages", `{"app":"hr","to":{"users":["zhangsan"]},"kind":"text"}`, nil, 400, "text"},
		{"text too long", "POST", "/v1/messages", `{"app":"hr","to":{"users":["zhangsan"]},"kind":"text","text":"` + strings.Repeat("x", 2049) + `"}`, nil, 400, "text"},
		{"user id too long", "POST", "/v1/messages", `{"app":"hr","to":{"users":["zhangsan","` + strings.Repeat("u", 65) + `"]},"kind":"text","text":"x"}`, nil, 400, "to.users[1]"},
		{"card without body", "POST", "/v1/messages", `{"app":"hr","to":{"users":["zhangsan"]},"kind":"card"}`, nil, 400, "body"},
		{"card title too long", "POST", "/v1/messages", `{"app":"hr","to":{"users":["zhangsan"]},"kind":"card","body":` + wecomCard(strings.Repeat("t", 200)) + `}`, nil, 400, "body.main_title.title"},
		{"unknown queue", "POST", "/v1/messages", text(`,"queue":"nope"`), nil, 400, "queue"},
		{"not_before not a time", "POST", "/v1/messages", text(`,"not_before":"tomorrow"`), nil, 400, "not_before"},
		{"not_before too far", "POST", "/v1/messages", text(`,"not_before":"2099-01-01T00:00:00Z"`), nil, 400, "not_before"},
		{"expires_at in the past", "POST", "/v1/messages", text(`,"expires_at":"2001-01-01T00:00:00Z"`), nil, 400, "expires_at"},
		{"urgent not bool", "POST", "/v1/messages", text(`,"urgent":"yes"`), nil, 400, "urgent"},
		{"webhook_url when not allowed", "POST", "/v1/messages", text(`,"webhook_url":"https://x.example.com/h"`), nil, 400, "webhook_url"},
		{"blank idempotency key", "POST", "/v1/messages", text(""), []string{"Idempotency-Key", "   "}, 400, "idempotency_key"},
		{"idempotency key too long", "POST", "/v1/messages", text(""), []string{"Idempotency-Key", strings.Repeat("k", 201)}, 400, "idempotency_key"},
		{"wrong content type", "POST", "/v1/messages", text(""), []string{"Content-Type", "text/plain"}, 415, "content-type"},
		{"body over 1 MiB", "POST", "/v1/messages", `{"app":"hr","to":{"users":["zhangsan"]},"kind":"text","text":"` + strings.Repeat("x", 1<<20) + `"}`, nil, 413, "request_body"},
		{"reply_to on a provider without replies", "POST", "/v1/messages", text(`,"reply_to":{"chat":"c1","message_id":"m1"}`), nil, 400, "reply_to"},
		{"status of a bad id", "GET", "/v1/messages/nodot", "", nil, 400, "id"},
		{"status of a missing message", "GET", "/v1/messages/" + id, "", nil, 404, "id"},
		{"update of a missing message", "POST", "/v1/messages/" + id + "/updates", `{"kind":"card","body":{}}`, nil, 404, "id"},
		{"update without kind", "POST", "/v1/messages/" + id + "/updates", `{"text":"x"}`, nil, 400, "kind"},
		{"update with unknown field", "POST", "/v1/messages/" + id + "/updates", `{"kind":"text","txt":"x"}`, nil, 400, "txt"},
		{"update with empty body", "POST", "/v1/messages/" + id + "/updates", ``, nil, 400, "request_body"},
		{"cancel of a missing message", "DELETE", "/v1/messages/" + id, "", nil, 404, "id"},
		{"pause for a bad duration", "POST", "/v1/apps/hr/pause", `{"for":"forever"}`, nil, 400, "for"},
		{"pause for too long", "POST", "/v1/apps/hr/pause", `{"for":"10000h"}`, nil, 400, "for"},
		{"pause with unknown field", "POST", "/v1/apps/hr/pause", `{"until":"tomorrow"}`, nil, 400, "until"},
		{"pause with a control character", "POST", "/v1/apps/hr/pause", `{"reason":"a\u0007b"}`, nil, 400, "reason"},
		{"quota with tenant of a single-tenant app", "GET", "/v1/apps/hr/quota/zhangsan?tenant=x", "", nil, 400, "tenant"},
		{"events after a bad id", "GET", "/v1/apps/hr/events?after=latest", "", nil, 400, "after"},
		{"events wait too long", "GET", "/v1/apps/hr/events?wait=10m", "", nil, 400, "wait"},
		{"events limit zero", "GET", "/v1/apps/hr/events?limit=0", "", nil, 400, "limit"},
		{"unknown route", "GET", "/v1/nothing", "", nil, 404, "path"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		before := b.keys()
		r := b.do(tc.method, tc.path, tokenAll, tc.body, tc.headers...)
		if r.status != tc.status || r.errField() != tc.field {
			t.Errorf("%s: HTTP %d field %q, want %d naming %q: %s", tc.desc, r.status, r.errField(), tc.status, tc.field, trim(r.raw))
		}
		if r.errCode() == "" || r.json["error"].(map[string]any)["message"] == "" {
			t.Errorf("%s: error without code or message: %s", tc.desc, trim(r.raw))
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", tc.desc, ct)
		}
		if after := b.keys(); !slices.Equal(before, after) {
			t.Errorf("%s: Redis changed: %v → %v", tc.desc, before, after)
		}
	}
	if r := b.do(http.MethodGet, "/v1/apps/hr/events?wait=0s", tokenAll, ""); r.status != 200 {
		t.Errorf("a good request after them: HTTP %d", r.status)
	}
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
