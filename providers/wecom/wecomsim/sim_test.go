package wecomsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Test fixture: corp ww1 with apps 1000002 and 1000003, corp ww2 with app
// 1000002 (same agentid, other corp).
//
//	users:  alice bob carol (touser), dave erin (dept 2), frank (dept 3, child of 2),
//	        grace (tag 7, which also holds dept 3)
const (
	corp1   = "ww1"
	corp2   = "ww2"
	agent   = int64(1000002)
	agentB  = int64(1000003)
	secret  = "s3cret-app-2"
	secretB = "s3cret-app-3"
	secret2 = "s3cret-corp2"
)

var t0 = time.Date(2025, 1, 6, 10, 0, 5, 0, time.UTC)

type testBundle struct {
	t      *testing.T
	sim    *Sim
	clock  *ManualClock
	base   string
	client *http.Client
}

// setup starts a simulator with the fixture directory on a real listener and a
// manual clock at t0. mods adjust the options.
func setup(t *testing.T, mods ...func(*Options)) *testBundle {
	t.Helper()
	clk := NewManualClock(t0)
	opts := Options{Clock: clk.Now, Seed: 42}
	for _, m := range mods {
		m(&opts)
	}
	sim := New(opts)
	for _, a := range []App{
		{CorpID: corp1, AgentID: agent, Secret: secret},
		{CorpID: corp1, AgentID: agentB, Secret: secretB},
		{CorpID: corp2, AgentID: agent, Secret: secret2},
	} {
		if err := sim.AddApp(a); err != nil {
			t.Fatal(err)
		}
	}
	sim.AddUsers(corp1, "alice", "Bob", "carol")
	sim.AddDept(corp1, "2", "dave", "erin")
	sim.AddDept(corp1, "3", "frank")
	sim.AddSubDept(corp1, "2", "3")
	sim.AddTag(corp1, "7", "grace")
	sim.AddTagDepts(corp1, "7", "3")
	sim.AddUsers(corp2, "zed")
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := sim.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testBundle{t: t, sim: sim, clock: clk, base: base, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// apiResp holds every field any endpoint answers.
type apiResp struct {
	ErrCode      int             `json:"errcode"`
	ErrMsg       string          `json:"errmsg"`
	AccessToken  string          `json:"access_token"`
	ExpiresIn    int64           `json:"expires_in"`
	InvalidUser  json.RawMessage `json:"invaliduser"`
	InvalidParty json.RawMessage `json:"invalidparty"`
	InvalidTag   json.RawMessage `json:"invalidtag"`
	MsgID        string          `json:"msgid"`
	ResponseCode string          `json:"response_code"`
}

// do performs a request and decodes a JSON answer of the WeCom API; HTTP status
// and raw body are returned too. Errors are returned, not fatal, so do is safe
// in subtests and goroutines.
func (b *testBundle) do(ctx context.Context, method, path string, body []byte) (apiResp, int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, rd)
	if err != nil {
		return apiResp{}, 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.client.Do(req)
	if err != nil {
		return apiResp{}, 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return apiResp{}, res.StatusCode, nil, err
	}
	var r apiResp
	if strings.HasPrefix(path, "/cgi-bin/") && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r); err != nil {
			return r, res.StatusCode, raw, fmt.Errorf("decode %s: %w", raw, err)
		}
	}
	return r, res.StatusCode, raw, nil
}

// getToken calls gettoken.
func (b *testBundle) getToken(corpID, corpSecret string) apiResp {
	b.t.Helper()
	q := url.Values{}
	if corpID != "" {
		q.Set("corpid", corpID)
	}
	if corpSecret != "" {
		q.Set("corpsecret", corpSecret)
	}
	r, status, raw, err := b.do(context.Background(), http.MethodGet, "/cgi-bin/gettoken?"+q.Encode(), nil)
	if err != nil || status != http.StatusOK {
		b.t.Fatalf("gettoken: status %d, %s, %v", status, raw, err)
	}
	return r
}

// token returns a valid token of (corp1, agent).
func (b *testBundle) token() string {
	b.t.Helper()
	return b.tokenOf(corp1, secret)
}

func (b *testBundle) tokenOf(corpID, corpSecret string) string {
	b.t.Helper()
	r := b.getToken(corpID, corpSecret)
	if r.ErrCode != 0 || r.AccessToken == "" {
		b.t.Fatalf("gettoken: %+v", r)
	}
	return r.AccessToken
}

// post sends body to path with the token, expecting HTTP 200 JSON.
func (b *testBundle) post(path, tok, body string) apiResp {
	b.t.Helper()
	r, status, raw, err := b.do(context.Background(), http.MethodPost, path+"?access_token="+url.QueryEscape(tok), []byte(body))
	if err != nil || status != http.StatusOK {
		b.t.Fatalf("POST %s: status %d, %s, %v", path, status, raw, err)
	}
	return r
}

func (b *testBundle) send(tok, body string) apiResp {
	b.t.Helper()
	return b.post("/cgi-bin/message/send", tok, body)
}

// sendText sends a text message from (corp1, agent) to touser.
func (b *testBundle) sendText(tok, touser, content string) apiResp {
	b.t.Helper()
	return b.send(tok, textBody(touser, content))
}

// textBody renders a text message the way a correct client must: without
// encoding/json's default HTML escaping, which WeCom refuses (40033).
func textBody(touser, content string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(content); err != nil {
		panic(err)
	}
	c := strings.TrimSuffix(buf.String(), "\n")
	return fmt.Sprintf(`{"touser":%q,"msgtype":"text","agentid":%d,"text":{"content":%s}}`, touser, agent, c)
}

// wantCode fails unless r has errcode want.
func wantCode(t *testing.T, r apiResp, want int) {
	t.Helper()
	if r.ErrCode != want {
		t.Fatalf("errcode = %d (%s), want %d", r.ErrCode, r.ErrMsg, want)
	}
}

func users(ds []Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.User)
	}
	return out
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
