package wps365_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wps365"
)

// fixture is a request checked in under testdata: method and request URI,
// headers, body. The signatures in the fixtures were computed apart from
// this package (the WPS open-platform documentation formula).
type fixture struct {
	method, uri string
	header      http.Header
	body        []byte
}

func readFixture(t *testing.T, name string) fixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := strings.Cut(string(raw), "\n\n")
	if !ok {
		t.Fatalf("%s: no blank line", name)
	}
	lines := strings.Split(head, "\n")
	method, uri, _ := strings.Cut(lines[0], " ")
	f := fixture{method: method, uri: uri, header: http.Header{}, body: []byte(strings.TrimSuffix(body, "\n"))}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		f.header.Set(k, v)
	}
	return f
}

// fixedToken is a TokenStore holding one token.
type fixedToken string

func (f fixedToken) Token(context.Context, string, providers.FetchFunc) (string, error) {
	return string(f), nil
}
func (f fixedToken) Invalidate(context.Context, string, string) error { return nil }

// capture is a server that records one request and answers answer.
type capture struct {
	mu     sync.Mutex
	req    *http.Request
	body   []byte
	answer string
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.req, c.body = r, b
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, c.answer)
}

func TestRequestsEqualFixtures(t *testing.T) {
	t.Parallel()
	fixed, _ := time.Parse(http.TimeFormat, "Wed, 23 Jan 2013 06:43:08 GMT")
	card := []byte(`{"i18n_items":[{"key":"zh-CN","value":{"header":{"title":{"tag":"text","text":{"type":"plain","content":"审批"}}},"elements":[{"text":{"tag":"text","text":{"type":"markdown","content":"**请假** 2 天"}}}]}}]}`)
	send := func(msg providers.Message) func(*wps365.Client) (*providers.Result, error) {
		return func(c *wps365.Client) (*providers.Result, error) {
			parts, err := c.Prepare(context.Background(), &msg, providers.PrepareOptions{})
			if err != nil || len(parts) != 1 {
				t.Fatalf("Prepare: %d parts, %v", len(parts), err)
			}
			return c.Send(context.Background(), &parts[0])
		}
	}
	tests := []struct {
		desc, file, answer, wantID string
		do                         func(*wps365.Client) (*providers.Result, error)
	}{
		{desc: "seed reply", file: "reply_seed.http", wantID: "msg_reply_1",
			answer: `{"data":{"message_id":"msg_reply_1","type":"text","content":{"text":{"content":"<at id=\"0\">张三</at> 已收到","type":"plain"}},"mentions":[{"id":"0","identity":{"company_id":"comp1","id":"u1","type":"user"},"type":"user"}]},"code":0,"msg":"success"}`,
			do: send(providers.Message{ReplyTo: &providers.ReplyTo{Chat: "chat_8d3f", MessageID: "msg_a1b2"}, Kind: providers.KindText,
				Text: `<at id="0">张三</at> 已收到`,
				Body: []byte(`{"mentions":[{"id":"0","type":"user","identity":{"company_id":"comp1","id":"u1","type":"user"}}]}`)})},
		{desc: "create text to a user", file: "create_text_user.http", wantID: "msg_c1",
			answer: `{"code":0,"msg":"success","data":{"message_id":"msg_c1"}}`,
			do:     send(providers.Message{Kind: providers.KindText, Text: "hello", To: providers.Recipients{Users: []string{"u1"}}})},
		{desc: "create card to a user", file: "create_card_user.http", wantID: "msg_c2",
			answer: `{"code":0,"msg":"success","data":{"message_id":"msg_c2"}}`,
			do:     send(providers.Message{Kind: providers.KindCard, Body: card, To: providers.Recipients{Users: []string{"u1"}}})},
		{desc: "update card", file: "update_card.http", wantID: "msg_a1b2",
			answer: `{"code":0,"msg":"success"}`,
			do: func(c *wps365.Client) (*providers.Result, error) {
				part := providers.Part{To: providers.Recipients{Users: []string{"u1"}}}
				out, err := c.Update(context.Background(), &providers.UpdateRequest{Part: &part, Sent: &providers.Result{ProviderMessageID: "msg_a1b2"},
					Users: []string{"u1"}, Content: providers.Content{Kind: providers.KindCard, Body: card}})
				if err != nil {
					return nil, err
				}
				if len(out.Updated) != 1 || out.Updated[0] != "u1" {
					t.Errorf("Update = %+v, want u1 updated", out)
				}
				return &providers.Result{ProviderMessageID: "msg_a1b2"}, nil
			}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			want := readFixture(t, tc.file)
			cp := &capture{answer: tc.answer}
			srv := httptest.NewServer(cp)
			t.Cleanup(srv.Close)
			c := wps365.New(wps365.Config{BaseURL: srv.URL, AppID: appID, AppSecret: appSecret}, fixedToken("tok-fixture"), srv.Client(),
				wps365.WithClock(func() time.Time { return fixed }))
			res, err := tc.do(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if res.ProviderMessageID != tc.wantID {
				t.Fatalf("recorded message id %q, want %q", res.ProviderMessageID, tc.wantID)
			}
			cp.mu.Lock()
			got, gotBody := cp.req, cp.body
			cp.mu.Unlock()
			if got.Method != want.method || got.URL.RequestURI() != want.uri {
				t.Fatalf("request line %s %s, want %s %s", got.Method, got.URL.RequestURI(), want.method, want.uri)
			}
			for k := range want.header {
				if g, w := got.Header.Get(k), want.header.Get(k); g != w {
					t.Errorf("header %s = %q, want %q", k, g, w)
				}
			}
			var gv, wv map[string]any
			if err := json.Unmarshal(gotBody, &gv); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want.body, &wv); err != nil {
				t.Fatal(err)
			}
			for k := range wv {
				if !reflect.DeepEqual(gv[k], wv[k]) {
					t.Errorf("body field %s = %v, want %v", k, gv[k], wv[k])
				}
			}
			if len(gv) != len(wv) {
				t.Errorf("body has fields %v, want %v", gv, wv)
			}
			if !bytes.Equal(gotBody, want.body) {
				t.Errorf("body bytes differ (the signature covers them):\n got %s\nwant %s", gotBody, want.body)
			}
			if err := wps365.Verify(appID, appSecret, want.method, want.uri, want.header.Get("Content-Type"), want.header.Get(wps365.HeaderDate),
				want.header.Get(wps365.HeaderAuthorization), want.body, fixed, 0); err != nil {
				t.Errorf("the fixture's own signature does not verify: %v", err)
			}
		})
	}
}
