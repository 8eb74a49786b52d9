package wps365_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wps365"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
)

func textOf(t *testing.T, content json.RawMessage) (string, string) {
	t.Helper()
	var c struct {
		Text struct{ Content, Type string } `json:"text"`
	}
	if err := json.Unmarshal(content, &c); err != nil {
		t.Fatalf("content %s: %v", content, err)
	}
	return c.Text.Content, c.Text.Type
}

func TestSendTextAndMarkdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		msg       providers.Message
		wantParts int
		users     []string // who must have received it
		notUser   string   // who must not
		style     string
	}{
		{desc: "text to a user", msg: providers.Message{Kind: providers.KindText, Text: "hello", To: providers.Recipients{Users: []string{"u1"}}},
			wantParts: 1, users: []string{"u1"}, notUser: "u2", style: "plain"},
		{desc: "markdown to a user", msg: providers.Message{Kind: providers.KindMarkdown, Text: "**hi**", To: providers.Recipients{Users: []string{"u2"}}},
			wantParts: 1, users: []string{"u2"}, notUser: "u1", style: "markdown"},
		{desc: "markdown to a chat", msg: providers.Message{Kind: providers.KindMarkdown, Text: "# chat", To: providers.Recipients{Chats: []string{"c1"}}},
			wantParts: 1, users: []string{"u1", "u2"}, notUser: "u3", style: "markdown"},
		{desc: "text to users and a dept is one batch", msg: providers.Message{Kind: providers.KindText, Text: "all hands", To: providers.Recipients{Users: []string{"u3", "nobody"}, Depts: []string{"d1"}}},
			wantParts: 1, users: []string{"u1", "u2", "u3"}, style: "plain"},
		{desc: "text to a partner user", msg: providers.Message{Kind: providers.KindText, Text: "hi partner", To: providers.Recipients{Users: []string{"partner:p1:pu1"}}},
			wantParts: 1, users: []string{"partner:p1:pu1"}, notUser: "u1", style: "plain"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			parts, res := b.sendAll(t, &tc.msg)
			if len(parts) != tc.wantParts {
				t.Fatalf("%d parts, want %d", len(parts), tc.wantParts)
			}
			for _, u := range tc.users {
				ds := b.sim.Deliveries(u)
				if len(ds) != 1 || ds[0].MessageID != res[0].ProviderMessageID || ds[0].Type != "text" {
					t.Fatalf("deliveries of %s = %+v, want the text message %s", u, ds, res[0].ProviderMessageID)
				}
				if got, style := textOf(t, ds[0].Content); got != tc.msg.Text || style != tc.style {
					t.Fatalf("%s got %q (%s), want %q (%s)", u, got, style, tc.msg.Text, tc.style)
				}
			}
			if tc.notUser != "" && len(b.sim.Deliveries(tc.notUser)) != 0 {
				t.Fatalf("%s received a message not meant for them", tc.notUser)
			}
			if wps365.PartUpdatable(&parts[0]) || !parts[0].NotUpdatable {
				t.Fatalf("a text part is marked updatable")
			}
			if parts[0].Ref != "" {
				t.Fatalf("part Ref %q, want none (the v7 card has no app_ctx_id field)", parts[0].Ref)
			}
		})
	}
}

func TestBatchReportsInvalidReceivers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.sendAll(t, &providers.Message{Kind: providers.KindText, Text: "x", To: providers.Recipients{Users: []string{"u1", "ghost"}, Depts: []string{"d404"}}})
	if got := res[0].Invalid; len(got.Users) != 1 || got.Users[0] != "ghost" || len(got.Depts) != 1 || got.Depts[0] != "d404" {
		t.Fatalf("invalid = %+v, want ghost and d404", got)
	}
}

func TestOuterMarkdownTypeRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	raw := []byte(`{"type":"markdown","content":{"markdown":{"content":"x"}}}`)
	err := b.client.Validate(&providers.Message{Kind: providers.KindRaw, Body: raw, To: providers.Recipients{Users: []string{"u1"}}})
	var ve *providers.ValidationError
	if !errors.As(err, &ve) || ve.Field != "body.type" {
		t.Fatalf("Validate = %v, want a ValidationError on body.type", err)
	}
	// The simulator refuses it on its own, as WPS does.
	part := providers.Part{Body: []byte(`{"type":"markdown","receiver":{"receiver_id":"u1","type":"user"},"content":{"markdown":{"content":"x"}}}`)}
	_, err = b.client.Send(context.Background(), &part)
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Class != providers.ClassPermanent || pe.Code != wps365sim.CodeInvalidParam ||
		!strings.Contains(pe.Message, `invalid open_v7_message_type: "markdown"`) {
		t.Fatalf("Send = %v, want permanent 400000002 invalid open_v7_message_type", err)
	}
}

func TestCardToUsersAndChatIsUpdatable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	parts, res := b.sendAll(t, &providers.Message{Kind: providers.KindCard, Body: testCard("v1", 2),
		To: providers.Recipients{Users: []string{"u1", "u3"}, Chats: []string{"c1"}}})
	if len(parts) != 3 {
		t.Fatalf("%d parts, want one create per user and chat (3)", len(parts))
	}
	for i, p := range parts {
		if !wps365.PartUpdatable(&p) || p.NotUpdatable {
			t.Fatalf("part %d not updatable: %s", i, p.Body)
		}
		if !bytes.Contains(p.Body, []byte(`"shared_card":true`)) {
			t.Fatalf("part %d lacks shared_card: true: %s", i, p.Body)
		}
		m, ok := b.sim.MessageOf(res[i].ProviderMessageID)
		if !ok || !m.Updatable || m.Via != wps365sim.EndpointCreate {
			t.Fatalf("simulator view of part %d: %+v", i, m)
		}
	}
	if n := len(b.sim.Deliveries("u1")); n != 2 { // direct and via c1
		t.Fatalf("u1 has %d deliveries, want 2", n)
	}
	// Update the card sent to u3: the whole card is replaced.
	out, err := b.client.Update(context.Background(), &providers.UpdateRequest{MessageID: "m-1", Part: &parts[1], Sent: res[1], Users: []string{"u3"},
		Content: providers.Content{Kind: providers.KindCard, Body: testCard("v2", 3)}})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(out.Updated) != 1 || out.Updated[0] != "u3" || len(out.Unreachable) != 0 {
		t.Fatalf("Update = %+v, want u3 updated", out)
	}
	ds := b.sim.Deliveries("u3")
	if len(ds) != 1 || ds[0].Updates != 1 || !bytes.Contains(ds[0].Content, []byte(`"v2"`)) || bytes.Contains(ds[0].Content, []byte(`"v1"`)) {
		t.Fatalf("u3 sees %+v, want the v2 card", ds)
	}
}

func TestBatchToDeptIsNotUpdatable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	parts, res := b.sendAll(t, &providers.Message{Kind: providers.KindCard, Body: testCard("dept", 1), To: providers.Recipients{Depts: []string{"d1"}}})
	if len(parts) != 1 || wps365.PartUpdatable(&parts[0]) || !parts[0].NotUpdatable {
		t.Fatalf("a batch part must be one part marked not updatable: %d parts", len(parts))
	}
	if m, _ := b.sim.MessageOf(res[0].ProviderMessageID); m.Via != wps365sim.EndpointBatchCreate || len(m.Users) != 2 {
		t.Fatalf("simulator view %+v, want a batch_create to u1, u2", m)
	}
	users := []string{"u1", "u2"}
	req := &providers.UpdateRequest{MessageID: "m-1", Part: &parts[0], Sent: res[0], Users: users, Content: providers.Content{Kind: providers.KindCard, Body: testCard("new", 1)}}
	out, err := b.client.Update(context.Background(), req)
	if err != nil || len(out.Updated) != 0 || len(out.Unreachable) != 2 || !strings.Contains(out.Unreachable["u1"], "batch_create") {
		t.Fatalf("Update of a batch part = %+v, %v; want u1, u2 unreachable (batch_create), no error", out, err)
	}
	if n := len(b.sim.RequestsTo(wps365sim.EndpointUpdate)); n != 0 {
		t.Fatalf("%d update requests for a part marked not updatable", n)
	}
	// Were the part not marked, WPS's own refusal ("msg not updatable") makes the users unreachable too.
	unmarked := parts[0]
	unmarked.NotUpdatable = false
	req.Part = &unmarked
	out, err = b.client.Update(context.Background(), req)
	if err != nil || len(out.Unreachable) != 2 || !strings.Contains(out.Unreachable["u2"], "not updatable") {
		t.Fatalf("Update refused by WPS = %+v, %v; want u1, u2 unreachable, no error", out, err)
	}
	if r := b.sim.RequestsTo(wps365sim.EndpointUpdate); len(r) != 1 || r[0].Status == http.StatusOK {
		t.Fatalf("update requests %+v, want one refused", r)
	}
	if m, _ := b.sim.MessageOf(res[0].ProviderMessageID); m.Updates != 0 {
		t.Fatalf("the batch message was changed")
	}
}

func TestNonSharedCardUpdateRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	card := []byte(`{"config":{"shared_card":false},"i18n_items":[{"key":"zh-CN","value":{"elements":[]}}]}`)
	parts, res := b.sendAll(t, &providers.Message{Kind: providers.KindCard, Body: card, To: providers.Recipients{Users: []string{"u1"}}})
	if wps365.PartUpdatable(&parts[0]) || !parts[0].NotUpdatable {
		t.Fatalf("a non-shared card part is marked updatable")
	}
	req := &providers.UpdateRequest{MessageID: "m-1", Part: &parts[0], Sent: res[0], Users: []string{"u1"}, Content: providers.Content{Kind: providers.KindCard, Body: testCard("x", 1)}}
	out, err := b.client.Update(context.Background(), req)
	if err != nil || !strings.Contains(out.Unreachable["u1"], "shared_card") {
		t.Fatalf("Update = %+v, %v; want u1 unreachable (not a shared card)", out, err)
	}
	// WPS's own answer, for a part not marked: "msg not updatable", wrapping ErrNotUpdatable.
	unmarked := parts[0]
	unmarked.NotUpdatable = false
	req.Part = &unmarked
	out, err = b.client.Update(context.Background(), req)
	if err != nil || !strings.Contains(out.Unreachable["u1"], "msg not updatable") {
		t.Fatalf("Update = %+v, %v; want u1 unreachable with WPS's msg not updatable", out, err)
	}
	if m, _ := b.sim.MessageOf(res[0].ProviderMessageID); m.Updates != 0 {
		t.Fatalf("the non-shared card was changed")
	}
}

func TestRecall(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, res := b.sendAll(t, &providers.Message{Kind: providers.KindText, Text: "oops", To: providers.Recipients{Users: []string{"u1"}}})
	if err := b.client.Recall(context.Background(), &providers.RecallRequest{ProviderMessageID: res[0].ProviderMessageID}); err != nil {
		t.Fatalf("Recall: %v", err)
	}
	if ds := b.sim.Deliveries("u1"); len(ds) != 1 || !ds[0].Recalled {
		t.Fatalf("u1 sees %+v, want it recalled", ds)
	}
	err := b.client.Recall(context.Background(), &providers.RecallRequest{ProviderMessageID: "nope"})
	if !errors.Is(err, wps365.ErrMessageGone) {
		t.Fatalf("Recall of an unknown message = %v, want ErrMessageGone", err)
	}
}

func TestReply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orig, err := b.sim.PostUserMessage("c1", "u1", "who is on call?")
	if err != nil {
		t.Fatal(err)
	}
	parts, res := b.sendAll(t, &providers.Message{Kind: providers.KindText, ReplyTo: &providers.ReplyTo{Chat: "c1", MessageID: orig},
		Text: `<at id="0">u1</at> I am`, Body: []byte(`{"mentions":[{"id":"0","type":"user","identity":{"company_id":"comp1","id":"u1","type":"user"}}]}`)})
	if len(parts) != 1 || !parts[0].NotUpdatable || len(parts[0].To.Chats) != 1 || parts[0].To.Chats[0] != "c1" {
		t.Fatalf("parts %+v, want one not-updatable reply part to c1", parts)
	}
	if want := "c1/" + orig; parts[0].Target != want || !bytes.HasPrefix(parts[0].Body, []byte(`{"type":"text",`)) {
		t.Fatalf("reply part target %q body %s; want target %q and the bare reply request body", parts[0].Target, parts[0].Body, want)
	}
	if r := b.sim.RequestsTo(wps365sim.EndpointReply); len(r) != 1 || !bytes.Equal(r[0].Body, parts[0].Body) ||
		r[0].Path != "/v7/chats/c1/messages/"+orig+"/reply" {
		t.Fatalf("reply requests %+v, want the part body posted to /v7/chats/c1/messages/%s/reply", r, orig)
	}
	m, ok := b.sim.MessageOf(res[0].ProviderMessageID)
	if !ok || m.ReplyTo != orig || m.ChatID != "c1" || m.Via != wps365sim.EndpointReply || !bytes.Contains(m.Mentions, []byte(`"u1"`)) {
		t.Fatalf("reply as the simulator sees it: %+v", m)
	}
	if got := b.sim.ChatMessages("c1"); len(got) != 2 {
		t.Fatalf("chat c1 has %d messages, want the question and the reply", len(got))
	}
	if n := len(b.sim.RequestsTo(wps365sim.EndpointCreate)); n != 0 {
		t.Fatalf("%d create requests for a reply", n)
	}
	// A stored target that names no chat and message is refused without a request.
	bad := parts[0]
	bad.Target = "c1"
	if _, err := b.client.Send(context.Background(), &bad); providers.ClassOf(err) != providers.ClassPermanent {
		t.Fatalf("Send with target %q = %v, want a permanent error", bad.Target, err)
	}
	if n := len(b.sim.RequestsTo(wps365sim.EndpointReply)); n != 1 {
		t.Fatalf("%d reply requests, want still 1", n)
	}
}

func TestReplyRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	rt := &providers.ReplyTo{Chat: "c1", MessageID: "m"}
	tests := []struct {
		desc  string
		msg   providers.Message
		field string
	}{
		{desc: "card", msg: providers.Message{ReplyTo: rt, Kind: providers.KindCard, Body: testCard("x", 1)}, field: "kind"},
		{desc: "raw file", msg: providers.Message{ReplyTo: rt, Kind: providers.KindRaw,
			Body: []byte(`{"type":"file","content":{"file":{"type":"local","local":{"storage_key":"k"}}}}`)}, field: "body.type"},
		{desc: "too long", msg: providers.Message{ReplyTo: rt, Kind: providers.KindText, Text: strings.Repeat("字", 5001)}, field: "text"},
		{desc: "unmatched at", msg: providers.Message{ReplyTo: rt, Kind: providers.KindText, Text: `<at id="3">x</at>`}, field: "body.mentions"},
		{desc: "no chat", msg: providers.Message{ReplyTo: &providers.ReplyTo{MessageID: "m"}, Kind: providers.KindText, Text: "x"}, field: "reply_to.chat"},
		{desc: "no message id", msg: providers.Message{ReplyTo: &providers.ReplyTo{Chat: "c1"}, Kind: providers.KindText, Text: "x"}, field: "reply_to.message_id"},
		{desc: "to another chat", msg: providers.Message{ReplyTo: rt, To: providers.Recipients{Chats: []string{"c2"}}, Kind: providers.KindText, Text: "x"}, field: "to"},
		{desc: "to users", msg: providers.Message{ReplyTo: rt, To: providers.Recipients{Users: []string{"u1"}}, Kind: providers.KindText, Text: "x"}, field: "to"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var ve *providers.ValidationError
			if err := b.cfg.ValidateMessage(&tc.msg); !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("ValidateMessage = %v, want a ValidationError on %s", err, tc.field)
			}
			_, err := b.client.Prepare(context.Background(), &tc.msg, providers.PrepareOptions{MessageID: "m-1"})
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("Prepare = %v, want a ValidationError on %s", err, tc.field)
			}
			if n := len(b.sim.RequestsTo(wps365sim.EndpointReply)); n != 0 {
				t.Fatalf("%d reply requests reached the simulator", n)
			}
		})
	}
}

func TestTokenExpiryAbsorbed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := providers.Message{Kind: providers.KindText, Text: "one", To: providers.Recipients{Users: []string{"u1"}}}
	b.sendAll(t, &msg)
	b.sim.ExpireTokens() // the cached token is now refused with HTTP 401
	b.sendAll(t, &msg)
	if n := b.sim.TokenFetches(appID); n != 2 {
		t.Fatalf("%d token fetches, want 2 (one refresh after the 401)", n)
	}
	reqs := b.sim.RequestsTo(wps365sim.EndpointCreate)
	if len(reqs) != 3 || reqs[1].Status != http.StatusUnauthorized || reqs[2].Status != http.StatusOK {
		t.Fatalf("create requests %+v, want ok, 401, ok", reqs)
	}
	// Past the TTL the store fetches a fresh token by itself.
	b.clock.Advance(2 * time.Hour)
	b.sendAll(t, &msg)
	if n := b.sim.TokenFetches(appID); n != 3 {
		t.Fatalf("%d token fetches, want 3", n)
	}
	if n := len(b.sim.Deliveries("u1")); n != 3 {
		t.Fatalf("u1 has %d messages, want 3", n)
	}
}

func TestFaultsClassified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		fault   wps365sim.Fault
		class   providers.Class
		applied bool
	}{
		{desc: "429", fault: wps365sim.HTTPStatus(http.StatusTooManyRequests, 7*time.Second), class: providers.ClassThrottled},
		{desc: "503", fault: wps365sim.HTTPStatus(http.StatusServiceUnavailable, 0), class: providers.ClassThrottled},
		{desc: "500", fault: wps365sim.HTTPStatus(http.StatusInternalServerError, 0), class: providers.ClassRetryable},
		{desc: "code 400xxxxxx", fault: wps365sim.ErrCode(400000123, "bad"), class: providers.ClassPermanent},
		{desc: "code 403000001", fault: wps365sim.ErrCode(403000001, "ErrPrivileges: interface_x"), class: providers.ClassPermanent},
		{desc: "code 429xxxxxx", fault: wps365sim.ErrCode(429000001, "slow down"), class: providers.ClassThrottled},
		{desc: "lost response after apply", fault: wps365sim.LostResponse(), class: providers.ClassUnknownOutcome, applied: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			parts, err := b.client.Prepare(ctx, &providers.Message{Kind: providers.KindText, Text: "x", To: providers.Recipients{Users: []string{"u1"}}}, providers.PrepareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			b.sim.Inject(tc.fault.On(wps365sim.EndpointCreate))
			_, err = b.client.Send(ctx, &parts[0])
			if got := providers.ClassOf(err); got != tc.class {
				t.Fatalf("class %s (%v), want %s", got, err, tc.class)
			}
			if tc.desc == "429" {
				var pe *providers.Error
				if errors.As(err, &pe); pe.RetryAfter != 7*time.Second {
					t.Fatalf("RetryAfter %s, want 7s", pe.RetryAfter)
				}
			}
			if got := len(b.sim.Deliveries("u1")) == 1; got != tc.applied {
				t.Fatalf("applied = %v, want %v", got, tc.applied)
			}
		})
	}
}

func TestOutageAndTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parts, _ := b.client.Prepare(ctx, &providers.Message{Kind: providers.KindText, Text: "x", To: providers.Recipients{Users: []string{"u1"}}}, providers.PrepareOptions{})
	b.sendAll(t, &providers.Message{Kind: providers.KindText, Text: "warm", To: providers.Recipients{Users: []string{"u2"}}}) // token cached
	b.sim.SetDown(true)
	if _, err := b.client.Send(ctx, &parts[0]); providers.ClassOf(err) != providers.ClassThrottled {
		t.Fatalf("during an outage: %v, want throttled", err)
	}
	b.sim.SetDown(false)
	b.sim.Inject(wps365sim.Latency(2 * time.Second).On(wps365sim.EndpointCreate))
	slow := wps365.New(b.cfg, b.tokens, &http.Client{Timeout: 200 * time.Millisecond}, wps365.WithClock(b.clock.Now))
	if _, err := slow.Send(ctx, &parts[0]); providers.ClassOf(err) != providers.ClassUnknownOutcome {
		t.Fatalf("after a timeout: %v, want unknown outcome", err)
	}
}

// flipBody changes one byte of every request body after it was signed.
type flipBody struct{ rt http.RoundTripper }

func (f flipBody) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.URL.Path == "/oauth2/token" {
		return f.rt.RoundTrip(r)
	}
	b, _ := io.ReadAll(r.Body)
	b = bytes.Replace(b, []byte("hello"), []byte("hellp"), 1)
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	return f.rt.RoundTrip(r2)
}

func TestOneChangedByteFailsVerificationInSimulator(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := wps365.New(b.cfg, b.tokens, &http.Client{Transport: flipBody{http.DefaultTransport}}, wps365.WithClock(b.clock.Now))
	parts, err := c.Prepare(context.Background(), &providers.Message{Kind: providers.KindText, Text: "hello", To: providers.Recipients{Users: []string{"u1"}}}, providers.PrepareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), &parts[0])
	if providers.ClassOf(err) != providers.ClassAppDisabled {
		t.Fatalf("Send with a changed byte = %v, want app disabled after the one refresh", err)
	}
	for _, r := range b.sim.RequestsTo(wps365sim.EndpointCreate) {
		if r.Status != http.StatusUnauthorized || r.Code != wps365sim.CodeSignatureInvalid {
			t.Fatalf("simulator answered %+v, want 401 signature mismatch", r)
		}
	}
	if len(b.sim.Deliveries("u1")) != 0 {
		t.Fatalf("a request with a bad signature was applied")
	}
}

func TestPrivateDeploymentPrefixNotSigned(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) {
		o.sim.PathPrefix = "/openapi"
		o.sim.TokenTTL = 86400 * time.Second
		o.cfg.UnsignedPrefix = "/openapi"
	})
	b.sendAll(t, &providers.Message{Kind: providers.KindCard, Body: testCard("p", 1), To: providers.Recipients{Users: []string{"u1"}}})
	if r := b.sim.RequestsTo(wps365sim.EndpointCreate); len(r) != 1 || r[0].Path != "/openapi/v7/messages/create" {
		t.Fatalf("requests %+v, want one to /openapi/v7/messages/create", r)
	}
	b.clock.Advance(3 * time.Hour) // within the 24 h private token lifetime: no new fetch
	b.sendAll(t, &providers.Message{Kind: providers.KindText, Text: "again", To: providers.Recipients{Users: []string{"u1"}}})
	if n := b.sim.TokenFetches(appID); n != 1 {
		t.Fatalf("%d token fetches, want 1 (expires_in 86400 honoured)", n)
	}
}

func TestUpdateOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	parts, res := b.sendAll(t, &providers.Message{Kind: providers.KindCard, Body: testCard("v1", 1),
		To: providers.Recipients{Users: []string{"u1", "u2"}}})
	content := providers.Content{Kind: providers.KindCard, Body: testCard("v2", 1)}
	req := func(i int) *providers.UpdateRequest {
		return &providers.UpdateRequest{MessageID: "m-1", Part: &parts[i], Sent: res[i], Users: parts[i].To.Users, Content: content}
	}

	// Throttled: an error to retry later, nobody reported, nothing applied.
	b.sim.Inject(wps365sim.HTTPStatus(http.StatusTooManyRequests, 3*time.Second).On(wps365sim.EndpointUpdate))
	out, err := b.client.Update(ctx, req(0))
	if providers.ClassOf(err) != providers.ClassThrottled || out != nil {
		t.Fatalf("throttled Update = %+v, %v; want a throttled error and no outcomes", out, err)
	}
	if m, _ := b.sim.MessageOf(res[0].ProviderMessageID); m.Updates != 0 {
		t.Fatalf("a throttled update was applied")
	}
	out, err = b.client.Update(ctx, req(0))
	if err != nil || len(out.Updated) != 1 || out.Updated[0] != "u1" {
		t.Fatalf("Update after the throttle = %+v, %v; want u1 updated", out, err)
	}

	// Recalled: WPS no longer knows the message, so u2 is unreachable, with no error.
	if err := b.client.Recall(ctx, &providers.RecallRequest{Part: &parts[1], Sent: res[1]}); err != nil {
		t.Fatalf("Recall from Sent: %v", err)
	}
	out, err = b.client.Update(ctx, req(1))
	if err != nil || len(out.Updated) != 0 || !strings.Contains(out.Unreachable["u2"], "deleted or recalled") {
		t.Fatalf("Update of a recalled card = %+v, %v; want u2 unreachable", out, err)
	}

	// Content that is not a card is refused before any request.
	before := len(b.sim.RequestsTo(wps365sim.EndpointUpdate))
	_, err = b.client.Update(ctx, &providers.UpdateRequest{Part: &parts[0], Sent: res[0], Users: []string{"u1"}, Content: providers.Content{Kind: providers.KindText, Text: "x"}})
	var ve *providers.ValidationError
	if !errors.As(err, &ve) || ve.Field != "kind" || len(b.sim.RequestsTo(wps365sim.EndpointUpdate)) != before {
		t.Fatalf("Update with text content = %v, want a ValidationError on kind and no request", err)
	}
}
