package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers/wecom/msgcrypt"
	"github.com/msgdispatch/msgdispatch/providers/wps365"
	"github.com/msgdispatch/msgdispatch/providers/xiezuo"
)

const (
	hcToken  = "hcT0ken"
	hcAESKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
)

// Replayed and forged callbacks for every provider, through the handlers the
// dispatcher serves (internal/catalog.CallbackHandler on real Redis): an
// authentic callback is published once; its replay publishes nothing more;
// a forged signature, a body changed after signing, a stale date and
// another app's signature are refused (4xx) and publish nothing.
func TestForgedAndReplayedCallbacksPublishNothing(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client()
	cfg, err := config.Parse(fmt.Appendf(nil, `
redis: {addr: %q}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s, callback_token: %s, encoding_aes_key: %s}
  xz:
    provider: xiezuo
    xiezuo: {base_url: "http://127.0.0.1:1", app_key: AK, app_secret: xs, company_id: co1, company_uid: p1}
  w365:
    provider: wps365
    wps365: {base_url: "http://127.0.0.1:1", app_id: AK365, app_secret: ws, company_id: c-1}
`, srv.Addr, hcToken, hcAESKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	handler := func(app string) http.Handler {
		h, err := catalog.CallbackHandler(app, cfg.Apps[app], catalog.Deps{Redis: rdb})
		if err != nil || h == nil {
			t.Fatalf("callback handler of %s: %v", app, err)
		}
		return h
	}
	events := func(app string) int64 {
		n, err := rdb.XLen(ctx, record.EventsKey(app)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	cr, err := msgcrypt.New(hcToken, hcAESKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	// wecom: a card click, sealed and signed as WeCom does.
	wecomReq := func(at time.Time, nonce string, mutate func(q url.Values, body *string)) *http.Request {
		msg := "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>" +
			strconv.FormatInt(at.Unix(), 10) + "</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>" +
			"<EventKey><![CDATA[approve]]></EventKey><TaskId><![CDATA[task-1]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>" +
			"<ResponseCode><![CDATA[rc-1]]></ResponseCode><AgentID>1000002</AgentID></xml>"
		enc, err := cr.Seal([]byte(msg), "ww1")
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(at.Unix(), 10)
		q := url.Values{"msg_signature": {cr.Signature(ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}}
		body := "<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
		if mutate != nil {
			mutate(q, &body)
		}
		return httptest.NewRequest(http.MethodPost, "/callbacks/wecom/hr?"+q.Encode(), strings.NewReader(body))
	}
	// xiezuo: a card click signed with WPS-4.
	xzBody := []byte(`{"data":{"company_id":"co1","app_ctx_id":"ctx-1","company_uid":"u1","content":{"action":"approve"}}}`)
	xzReq := func(secret, app string, at time.Time, body []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/callbacks/xiezuo/xz", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		xiezuo.Signer{Scheme: xiezuo.SignatureWPS4, HeaderStyle: xiezuo.HeaderStyleWPSDocs, AppID: app, Secret: secret}.Sign(r, xzBody, at)
		return r
	}
	// wps365: a card action signed with KSO-1.
	wBody := []byte(`{"callback_name":"xz_card","app_id":"AK365","data":{"company_id":"c-1","app_ctx_id":"ctx-1","content":{"action":"ok"}}}`)
	wReq := func(secret, app string, at time.Time, body []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/callbacks/wps365/w365", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		wps365.SignRequest(r, app, secret, "", wBody, at)
		return r
	}

	tests := []struct {
		desc   string
		app    string
		req    func() *http.Request
		status int // 0: any refusal (4xx)
		delta  int64
	}{
		{desc: "wecom: authentic click", app: "hr", req: func() *http.Request { return wecomReq(now, "n1", nil) }, status: 200, delta: 1},
		{desc: "wecom: the same click replayed", app: "hr", req: func() *http.Request { return wecomReq(now, "n1", nil) }, status: 200},
		{desc: "wecom: forged signature", app: "hr", req: func() *http.Request {
			return wecomReq(now, "n2", func(q url.Values, _ *string) { q.Set("msg_signature", strings.Repeat("0", 40)) })
		}},
		{desc: "wecom: ciphertext swapped after signing", app: "hr", req: func() *http.Request {
			other, _ := cr.Seal([]byte("<xml><ToUserName>ww1</ToUserName><MsgType>event</MsgType></xml>"), "ww1")
			return wecomReq(now, "n3", func(_ url.Values, body *string) {
				*body = "<xml><Encrypt><![CDATA[" + other + "]]></Encrypt></xml>"
			})
		}},
		{desc: "wecom: stale timestamp", app: "hr", req: func() *http.Request { return wecomReq(now.Add(-10*time.Minute), "n4", nil) }},
		{desc: "xiezuo: authentic click", app: "xz", req: func() *http.Request { return xzReq("xs", "AK", now, xzBody) }, status: 200, delta: 1},
		{desc: "xiezuo: the same click replayed", app: "xz", req: func() *http.Request { return xzReq("xs", "AK", now, xzBody) }, status: 200},
		{desc: "xiezuo: signed with another secret", app: "xz", req: func() *http.Request { return xzReq("forged", "AK", now, xzBody) }},
		{desc: "xiezuo: signed for another app", app: "xz", req: func() *http.Request { return xzReq("xs", "AK-OTHER", now, xzBody) }},
		{desc: "xiezuo: body changed after signing", app: "xz", req: func() *http.Request {
			return xzReq("xs", "AK", now, bytes.Replace(xzBody, []byte("approve"), []byte("reject!"), 1))
		}},
		{desc: "xiezuo: stale date", app: "xz", req: func() *http.Request { return xzReq("xs", "AK", now.Add(-10*time.Minute), xzBody) }},
		{desc: "wps365: authentic card action", app: "w365", req: func() *http.Request { return wReq("ws", "AK365", now, wBody) }, status: 200, delta: 1},
		{desc: "wps365: the same action replayed", app: "w365", req: func() *http.Request { return wReq("ws", "AK365", now, wBody) }, status: 200},
		{desc: "wps365: signed with another secret", app: "w365", req: func() *http.Request { return wReq("forged", "AK365", now, wBody) }},
		{desc: "wps365: signed for another app", app: "w365", req: func() *http.Request { return wReq("ws", "AK-OTHER", now, wBody) }},
		{desc: "wps365: body changed after signing", app: "w365", req: func() *http.Request {
			return wReq("ws", "AK365", now, bytes.Replace(wBody, []byte(`"ok"`), []byte(`"no"`), 1))
		}},
		{desc: "wps365: stale date", app: "w365", req: func() *http.Request { return wReq("ws", "AK365", now.Add(-10*time.Minute), wBody) }},
		{desc: "wps365: forged encrypted event", app: "w365", req: func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/callbacks/wps365/w365", strings.NewReader(
				fmt.Sprintf(`{"topic":"t","operation":"create","time":%d,"nonce":"0123456789abcdef0123","signature":"forged","encrypted_data":"AAAAAAAAAAAAAAAAAAAAAA=="}`, now.Unix())))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
	}
	handlers := map[string]http.Handler{"hr": handler("hr"), "xz": handler("xz"), "w365": handler("w365")}
	for _, tc := range tests { // in order: the replays follow the authentic callbacks
		before := events(tc.app)
		w := httptest.NewRecorder()
		handlers[tc.app].ServeHTTP(w, tc.req())
		switch {
		case tc.status != 0 && w.Code != tc.status:
			t.Errorf("%s: status %d (%q), want %d", tc.desc, w.Code, w.Body, tc.status)
		case tc.status == 0 && (w.Code < 400 || w.Code >= 500):
			t.Errorf("%s: status %d (%q), want a refusal", tc.desc, w.Code, w.Body)
		}
		if got := events(tc.app) - before; got != tc.delta {
			t.Errorf("%s: %d events published, want %d", tc.desc, got, tc.delta)
		}
	}
}
