package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

// typedMsg is a message of kind to one user with body.
func typedMsg(kind providers.Kind, body string) providers.Message {
	return providers.Message{App: "app", To: providers.Recipients{Users: []string{"a"}}, Kind: kind, Body: json.RawMessage(body)}
}

// checkValidation asserts that Validate, Client.Validate and Prepare all accept
// msg (field "") or all refuse it on field.
func checkValidation(t *testing.T, msg providers.Message, field string) {
	t.Helper()
	err := Validate(&msg)
	if field == "" {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		b := setup(t)
		if _, err := b.client.Prepare(context.Background(), &msg, providers.PrepareOptions{MessageID: "m1"}); err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		return
	}
	assertField(t, err, field)
	b := setup(t)
	assertField(t, b.client.Validate(&msg), field)
	_, err = b.client.Prepare(context.Background(), &msg, providers.PrepareOptions{MessageID: "m1"})
	assertField(t, err, field)
}

// articles is a news or mpnews body of n copies of the article object a.
func articles(n int, a string) string {
	return `{"articles":[` + strings.TrimSuffix(strings.Repeat(a+",", n), ",") + `]}`
}

func TestValidateMediaKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		kind  providers.Kind
		body  string
		field string // "" means valid
	}{
		{desc: "image", kind: KindImage, body: `{"media_id":"MEDIA_ID"}`},
		{desc: "voice", kind: KindVoice, body: `{"media_id":"MEDIA_ID"}`},
		{desc: "file", kind: KindFile, body: `{"media_id":"1Yv-zXfHjSjU-7LH-GwtYqDGS-zz6w22KmWAT5COgP7o"}`},
		{desc: "video with title and description", kind: KindVideo, body: `{"media_id":"MEDIA_ID","title":"Title","description":"Description"}`},
		{desc: "video title of 128 bytes", kind: KindVideo, body: fmt.Sprintf(`{"media_id":"m","title":%q}`, strings.Repeat("视", 42)+"ab")},

		{desc: "image without media_id", kind: KindImage, body: `{}`, field: "body.media_id"},
		{desc: "voice with empty media_id", kind: KindVoice, body: `{"media_id":""}`, field: "body.media_id"},
		{desc: "file media_id not a string", kind: KindFile, body: `{"media_id":7}`, field: "body.media_id"},
		{desc: "image with an unknown field", kind: KindImage, body: `{"media_id":"m","title":"t"}`, field: "body.title"},
		{desc: "image with a key in another case", kind: KindImage, body: `{"Media_ID":"m"}`, field: "body.Media_ID"},
		{desc: "image with a repeated key", kind: KindImage, body: `{"media_id":"m","media_id":""}`, field: "body.media_id"},
		{desc: "video without media_id", kind: KindVideo, body: `{"title":"t"}`, field: "body.media_id"},
		{desc: "video title of 129 bytes", kind: KindVideo, body: fmt.Sprintf(`{"media_id":"m","title":%q}`, strings.Repeat("视", 43)), field: "body.title"},
		{desc: "video description of 513 bytes", kind: KindVideo, body: fmt.Sprintf(`{"media_id":"m","description":%q}`, strings.Repeat("d", 513)), field: "body.description"},
		{desc: "video title with a control character", kind: KindVideo, body: `{"media_id":"m","title":"a\u0001b"}`, field: "body.title"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, typedMsg(tt.kind, tt.body), tt.field)
		})
	}
}

func TestValidateTextCard(t *testing.T) {
	t.Parallel()
	card := func(fields string) string { return `{` + fields + `}` }
	const ok = `"title":"领奖通知","description":"<div class=\"gray\">2016年9月26日</div>","url":"https://work.weixin.qq.com"`
	tests := []struct {
		desc  string
		body  string
		field string
	}{
		{desc: "valid", body: card(ok)},
		{desc: "valid with btntxt of 4 characters", body: card(ok + `,"btntxt":"查看详情"`)},
		{desc: "valid http url", body: card(`"title":"t","description":"d","url":"http://x.example/a?b=1&c=2"`)},
		{desc: "title of 128 bytes", body: card(fmt.Sprintf(`"title":%q,"description":"d","url":"https://x"`, strings.Repeat("t", 128)))},

		{desc: "no title", body: card(`"description":"d","url":"https://x"`), field: "body.title"},
		{desc: "blank title", body: card(`"title":"  ","description":"d","url":"https://x"`), field: "body.title"},
		{desc: "title of 129 bytes", body: card(fmt.Sprintf(`"title":%q,"description":"d","url":"https://x"`, strings.Repeat("t", 129))), field: "body.title"},
		{desc: "no description", body: card(`"title":"t","url":"https://x"`), field: "body.description"},
		{desc: "description of 513 bytes", body: card(fmt.Sprintf(`"title":"t","description":%q,"url":"https://x"`, strings.Repeat("d", 513))), field: "body.description"},
		{desc: "no url", body: card(`"title":"t","description":"d"`), field: "body.url"},
		{desc: "url without protocol", body: card(`"title":"t","description":"d","url":"work.weixin.qq.com"`), field: "body.url"},
		{desc: "url of another protocol", body: card(`"title":"t","description":"d","url":"ftp://x.example"`), field: "body.url"},
		{desc: "url of 2049 bytes", body: card(fmt.Sprintf(`"title":"t","description":"d","url":"https://x.example/%s"`, strings.Repeat("a", 2049-len("https://x.example/")))), field: "body.url"},
		{desc: "btntxt of 5 characters", body: card(ok + `,"btntxt":"查看更多详"`), field: "body.btntxt"},
		{desc: "unknown field", body: card(ok + `,"button":"x"`), field: "body.button"},
		{desc: "title not a string", body: card(`"title":["t"],"description":"d","url":"https://x"`), field: "body.title"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, typedMsg(KindTextCard, tt.body), tt.field)
		})
	}
}

func TestValidateNews(t *testing.T) {
	t.Parallel()
	const a = `{"title":"中秋节礼品领取","description":"今年中秋节公司有豪礼相送","url":"https://work.weixin.qq.com","picurl":"https://res.mail.qq.com/node/ww/wwopenmng/images/independent/doc/test_pic_msg1.png"}`
	tests := []struct {
		desc  string
		body  string
		field string
	}{
		{desc: "one article", body: articles(1, a)},
		{desc: "eight articles", body: articles(8, a)},
		{desc: "mini-program article without url", body: `{"articles":[{"title":"t","appid":"wx123123123123123","pagepath":"pages/index?userid=zhangsan&orderid=123123123"}]}`},

		{desc: "nine articles", body: articles(9, a), field: "body.articles"},
		{desc: "no articles", body: `{"articles":[]}`, field: "body.articles"},
		{desc: "articles missing", body: `{}`, field: "body.articles"},
		{desc: "articles not an array", body: `{"articles":{"title":"t"}}`, field: "body.articles"},
		{desc: "article not an object", body: `{"articles":["t"]}`, field: "body.articles[0]"},
		{desc: "third article without title", body: `{"articles":[` + a + `,` + a + `,{"url":"https://x"}]}`, field: "body.articles[2].title"},
		{desc: "title of 129 bytes", body: fmt.Sprintf(`{"articles":[{"title":%q,"url":"https://x"}]}`, strings.Repeat("t", 129)), field: "body.articles[0].title"},
		{desc: "description of 513 bytes", body: fmt.Sprintf(`{"articles":[{"title":"t","description":%q,"url":"https://x"}]}`, strings.Repeat("d", 513)), field: "body.articles[0].description"},
		{desc: "neither url nor mini-program", body: `{"articles":[{"title":"t","picurl":"https://x/p.png"}]}`, field: "body.articles[0].url"},
		{desc: "url without protocol", body: `{"articles":[{"title":"t","url":"x.example"}]}`, field: "body.articles[0].url"},
		{desc: "picurl without protocol", body: `{"articles":[{"title":"t","url":"https://x","picurl":"//x/p.png"}]}`, field: "body.articles[0].picurl"},
		{desc: "appid without pagepath", body: `{"articles":[{"title":"t","appid":"wx1"}]}`, field: "body.articles[0].pagepath"},
		{desc: "pagepath without appid", body: `{"articles":[{"title":"t","url":"https://x","pagepath":"pages/index"}]}`, field: "body.articles[0].appid"},
		{desc: "pagepath of 129 bytes", body: fmt.Sprintf(`{"articles":[{"title":"t","appid":"wx1","pagepath":%q}]}`, strings.Repeat("p", 129)), field: "body.articles[0].pagepath"},
		{desc: "unknown article field", body: `{"articles":[{"title":"t","url":"https://x","thumb_media_id":"m"}]}`, field: "body.articles[0].thumb_media_id"},
		{desc: "unknown top-level field", body: `{"articles":[` + a + `],"safe":1}`, field: "body.safe"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, typedMsg(KindNews, tt.body), tt.field)
		})
	}
}

func TestValidateMPNews(t *testing.T) {
	t.Parallel()
	const a = `{"title":"Title","thumb_media_id":"MEDIA_ID","author":"Author","content_source_url":"https://work.weixin.qq.com","content":"<p>Content</p>","digest":"Digest description"}`
	tests := []struct {
		desc  string
		body  string
		field string
	}{
		{desc: "one article", body: articles(1, a)},
		{desc: "eight articles", body: articles(8, a)},
		{desc: "only the required fields", body: `{"articles":[{"title":"t","thumb_media_id":"m","content":"c"}]}`},
		{desc: "author of 64 bytes", body: fmt.Sprintf(`{"articles":[{"title":"t","thumb_media_id":"m","content":"c","author":%q}]}`, strings.Repeat("a", 64))},

		{desc: "nine articles", body: articles(9, a), field: "body.articles"},
		{desc: "no articles", body: `{"articles":[]}`, field: "body.articles"},
		{desc: "second article without title", body: `{"articles":[` + a + `,{"thumb_media_id":"m","content":"c"}]}`, field: "body.articles[1].title"},
		{desc: "no thumb_media_id", body: `{"articles":[{"title":"t","content":"c"}]}`, field: "body.articles[0].thumb_media_id"},
		{desc: "no content", body: `{"articles":[{"title":"t","thumb_media_id":"m"}]}`, field: "body.articles[0].content"},
		{desc: "author of 65 bytes", body: fmt.Sprintf(`{"articles":[{"title":"t","thumb_media_id":"m","content":"c","author":%q}]}`, strings.Repeat("a", 65)), field: "body.articles[0].author"},
		{desc: "digest of 513 bytes", body: fmt.Sprintf(`{"articles":[{"title":"t","thumb_media_id":"m","content":"c","digest":%q}]}`, strings.Repeat("d", 513)), field: "body.articles[0].digest"},
		{desc: "content_source_url without protocol", body: `{"articles":[{"title":"t","thumb_media_id":"m","content":"c","content_source_url":"x.example"}]}`, field: "body.articles[0].content_source_url"},
		{desc: "news url field", body: `{"articles":[{"title":"t","thumb_media_id":"m","content":"c","url":"https://x"}]}`, field: "body.articles[0].url"},
		{desc: "content over 666 K bytes", body: fmt.Sprintf(`{"articles":[{"title":"t","thumb_media_id":"m","content":%q}]}`, strings.Repeat("c", maxMPNewsContentBytes+1)), field: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, typedMsg(KindMPNews, tt.body), tt.field)
		})
	}
}

func TestValidateMiniprogramNotice(t *testing.T) {
	t.Parallel()
	item := func(k, v string) string { return fmt.Sprintf(`{"key":%q,"value":%q}`, k, v) }
	items := func(n int) string {
		var s []string
		for i := range n {
			s = append(s, item(fmt.Sprintf("会议室%d", i), "402"))
		}
		return strings.Join(s, ",")
	}
	notice := func(extra string) string {
		return `{"appid":"wx123123123123123","page":"pages/index?userid=zhangsan&orderid=123123123","title":"会议室预订成功通知"` + extra + `}`
	}
	tests := []struct {
		desc  string
		body  string
		field string
	}{
		{desc: "the doc's example", body: notice(`,"description":"4月27日 16:16","emphasis_first_item":true,"content_item":[` + item("会议室", "402") + `,` + item("会议地点", "广州TIT-402会议室") + `]`)},
		{desc: "minimal", body: `{"appid":"wx1","title":"会议通知"}`},
		{desc: "ten items", body: notice(`,"content_item":[` + items(10) + `]`)},
		{desc: "title of 12 characters", body: `{"appid":"wx1","title":"一二三四五六七八九十十一"}`},

		{desc: "no appid", body: `{"title":"会议室预订成功通知"}`, field: "body.appid"},
		{desc: "no title", body: `{"appid":"wx1"}`, field: "body.title"},
		{desc: "title of 3 characters", body: `{"appid":"wx1","title":"预订了"}`, field: "body.title"},
		{desc: "title of 13 characters", body: `{"appid":"wx1","title":"一二三四五六七八九十十一二"}`, field: "body.title"},
		{desc: "description of 3 characters", body: notice(`,"description":"4月1"`), field: "body.description"},
		{desc: "description of 13 characters", body: notice(`,"description":"2025年4月27日16时"`), field: "body.description"},
		{desc: "page of 1025 bytes", body: fmt.Sprintf(`{"appid":"wx1","title":"会议通知","page":%q}`, strings.Repeat("p", 1025)), field: "body.page"},
		{desc: "emphasis_first_item not a boolean", body: notice(`,"emphasis_first_item":1`), field: "body.emphasis_first_item"},
		{desc: "eleven items", body: notice(`,"content_item":[` + items(11) + `]`), field: "body.content_item"},
		{desc: "item key of 11 characters", body: notice(`,"content_item":[` + item("一二三四五六七八九十壹", "v") + `]`), field: "body.content_item[0].key"},
		{desc: "item value of 31 characters", body: notice(`,"content_item":[` + item("k", strings.Repeat("值", 31)) + `]`), field: "body.content_item[0].value"},
		{desc: "item without value", body: notice(`,"content_item":[` + item("k", "v") + `,{"key":"k2"}]`), field: "body.content_item[1].value"},
		{desc: "unknown item field", body: notice(`,"content_item":[{"key":"k","value":"v","color":"red"}]`), field: "body.content_item[0].color"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, typedMsg(KindMiniprogramNotice, tt.body), tt.field)
		})
	}
}
