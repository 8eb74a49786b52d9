package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

func TestNormalizeJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		in      string
		want    string
		wantErr bool
	}{
		{desc: "whitespace removed, key order kept", in: "{ \"b\" : 1,\n\t\"a\" : [ 1 , 2 ] }", want: `{"b":1,"a":[1,2]}`},
		{desc: "number literals kept", in: `{"n":1.50,"e":1e3,"big":12345678901234567890,"neg":-0}`, want: `{"n":1.50,"e":1e3,"big":12345678901234567890,"neg":-0}`},
		{desc: "scalars", in: `[true,false,null,"s"]`, want: `[true,false,null,"s"]`},
		{desc: "nested empties", in: `{"o":{},"a":[],"x":[{},[]]}`, want: `{"o":{},"a":[],"x":[{},[]]}`},
		{desc: "escapes undone", in: `{"h":"\u003cb\u003e \u0026 \/ \u00e9 \u2028"}`, want: "{\"h\":\"<b> & / é \\n\"}"},
		{desc: "required escapes kept", in: `{"q":"\"\\\n\t"}`, want: `{"q":"\"\\\n\t"}`},
		{desc: "escaped key", in: `{"\u003ck\u003e":1}`, want: `{"<k>":1}`},
		{desc: "trailing data", in: `{} {}`, wantErr: true},
		{desc: "trailing garbage", in: `{}x`, wantErr: true},
		{desc: "broken", in: `{"a":}`, wantErr: true},
		{desc: "empty", in: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := normalizeJSON([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// Every msgtype message/send takes renders under its own key.
func TestPrepareRawMsgtypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		msgtype string
		content string
	}{
		{desc: "text", msgtype: "text", content: `{"content":"hi"}`},
		{desc: "image", msgtype: "image", content: `{"media_id":"MEDIA_ID"}`},
		{desc: "voice", msgtype: "voice", content: `{"media_id":"MEDIA_ID"}`},
		{desc: "video", msgtype: "video", content: `{"media_id":"MEDIA_ID","title":"Title","description":"Description"}`},
		{desc: "file", msgtype: "file", content: `{"media_id":"1Yv-zXfHjSjU-7LH-GwtYqDGS-zz6w22KmWAT5COgP7o"}`},
		{desc: "textcard", msgtype: "textcard", content: `{"title":"t","description":"d","url":"https://x","btntxt":"更多"}`},
		{desc: "news", msgtype: "news", content: `{"articles":[{"title":"中秋节礼品领取","url":"https://x","picurl":"https://y"}]}`},
		{desc: "mpnews", msgtype: "mpnews", content: `{"articles":[{"title":"t","thumb_media_id":"m","content":"<p>c</p>"}]}`},
		{desc: "markdown", msgtype: "markdown", content: `{"content":"**b**"}`},
		{desc: "miniprogram_notice", msgtype: "miniprogram_notice", content: `{"appid":"wx123123123123123","page":"pages/index?userid=zhangsan&orderid=123123123","title":"会议室预订成功通知"}`},
		{desc: "template_card", msgtype: "template_card", content: `{"card_type":"text_notice","main_title":{"title":"t"}}`},
		{desc: "template_msg", msgtype: "template_msg", content: `{"template_id":"tpl"}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			body := `{"msgtype":"` + tt.msgtype + `","` + tt.msgtype + `":` + tt.content + `}`
			parts, err := b.client.Prepare(context.Background(), &providers.Message{To: providers.Recipients{Users: []string{"a"}}, Kind: providers.KindRaw, Body: json.RawMessage(body)}, providers.PrepareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := `{"touser":"a","msgtype":"` + tt.msgtype + `","agentid":1000002,"` + tt.msgtype + `":` + tt.content + `,"enable_duplicate_check":1,"duplicate_check_interval":1800}`
			if string(parts[0].Body) != want {
				t.Errorf("body\n%s\nwant\n%s", parts[0].Body, want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	c := New(Config{Secret: testSecret}, nil, nil)
	tests := []struct {
		desc string
		err  error
	}{
		{desc: "plain error quoting the secret", err: errors.New("dial failed for " + testSecret)},
		{desc: "wrapped error quoting a token", err: errors.Join(errors.New("x"), errors.New("access_token=tok-9f8e"))},
		{desc: "query-escaped secret", err: errors.New("url has s3cr3t%2Fplus")},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			red := c.redact(tt.err, "tok-9f8e", "s3cr3t/plus")
			assertNoSecret(t, red, "tok-9f8e", "s3cr3t%2Fplus", "s3cr3t/plus")
			if !strings.Contains(red.Error(), "REDACTED") {
				t.Errorf("redacted text %q", red)
			}
		})
	}
	if c.redact(nil) != nil {
		t.Error("redact(nil) != nil")
	}
	plain := errors.New("nothing secret")
	if c.redact(plain) != plain {
		t.Error("an error without secrets should be kept as is")
	}
}
