package wps365sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wps365"
	"github.com/msgdispatch/msgdispatch/providers/wps365/wps365sim"
)

type testBundle struct {
	sim   *wps365sim.Sim
	clock *wps365sim.ManualClock
	base  string
	tok   string
}

// setup starts a simulator on a manual clock with app AK1 and user u1, and
// fetches a token; opts change the simulator's options.
func setup(t *testing.T, opts ...func(*wps365sim.Options)) *testBundle {
	t.Helper()
	clock := wps365sim.NewManualClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	o := wps365sim.Options{Clock: clock.Now}
	for _, f := range opts {
		f(&o)
	}
	s := wps365sim.New(o)
	s.AddApp("AK1", "sk1", "comp1")
	s.AddUsers("u1")
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"AK1"}, "client_secret": {"sk1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" || tr.ExpiresIn != 7200 {
		t.Fatalf("token: %+v %v", tr, err)
	}
	return &testBundle{sim: s, clock: clock, base: base, tok: tr.AccessToken}
}

// post sends body to path, signed over signedBody (normally body itself).
func (b *testBundle) post(t *testing.T, path string, body, signedBody []byte, sign bool) (int, map[string]any) {
	t.Helper()
	status, m, err := b.try(path, body, signedBody, sign)
	if err != nil {
		t.Fatal(err)
	}
	return status, m
}

// try is post returning a transport error (e.g. a lost answer) instead of
// failing the test.
func (b *testBundle) try(path string, body, signedBody []byte, sign bool) (int, map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, b.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.tok)
	if sign {
		wps365.SignRequest(req, "AK1", "sk1", "", signedBody, b.clock.Now())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, nil
}

func TestSimChecks(t *testing.T) {
	t.Parallel()
	text := []byte(`{"type":"text","receiver":{"receiver_id":"u1","type":"user"},"content":{"text":{"content":"hi","type":"plain"}}}`)
	users := make([]string, 201)
	for i := range users {
		users[i] = fmt.Sprintf("%q", fmt.Sprint("x", i))
	}
	batch := []byte(`{"type":"text","receivers":[{"type":"user","receiver_ids":[` + strings.Join(users, ",") + `]}],"content":{"text":{"content":"hi","type":"plain"}}}`)
	tests := []struct {
		desc     string
		path     string
		body     []byte
		signed   []byte
		sign     bool
		expire   bool
		status   int
		wantCode float64
		wantMsg  string
	}{
		{desc: "signed create", path: "/v7/messages/create", body: text, signed: text, sign: true, status: 200},
		{desc: "unsigned", path: "/v7/messages/create", body: text, status: 401, wantCode: wps365sim.CodeSignatureInvalid},
		{desc: "one changed byte", path: "/v7/messages/create", body: bytes.Replace(text, []byte("hi"), []byte("hj"), 1), signed: text, sign: true,
			status: 401, wantCode: wps365sim.CodeSignatureInvalid, wantMsg: "mismatch"},
		{desc: "expired token", path: "/v7/messages/create", body: text, signed: text, sign: true, expire: true, status: 401, wantCode: wps365sim.CodeTokenInvalid},
		{desc: "outer markdown", path: "/v7/messages/create", body: []byte(`{"type":"markdown","receiver":{"receiver_id":"u1","type":"user"},"content":{"markdown":{}}}`),
			sign: true, status: 400, wantCode: wps365sim.CodeInvalidParam, wantMsg: `invalid open_v7_message_type: "markdown"`},
		{desc: "batch over 200 users", path: "/v7/messages/batch_create", body: batch, signed: batch, sign: true, status: 400, wantCode: wps365sim.CodeInvalidParam, wantMsg: "exceed 200"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if tc.expire {
				b.sim.ExpireTokens()
			}
			signed := tc.signed
			if signed == nil {
				signed = tc.body
			}
			status, m := b.post(t, tc.path, tc.body, signed, tc.sign)
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, m, tc.status)
			}
			if tc.wantCode != 0 && m["code"] != tc.wantCode {
				t.Fatalf("code %v, want %v", m["code"], tc.wantCode)
			}
			if msg, _ := m["msg"].(string); !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("msg %q, want %q", msg, tc.wantMsg)
			}
			applied := len(b.sim.Deliveries("u1")) == 1
			if applied != (tc.status == 200) {
				t.Fatalf("applied = %v with status %d", applied, status)
			}
		})
	}
}
