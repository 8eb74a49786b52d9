package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

// The rendered bodies match the request fixtures written by hand from
// WeCom's API documentation, and Part.To is the message's recipients.
func TestPrepareMatchesRequestFixtures(t *testing.T) {
	t.Parallel()
	const textContent = "你的快递已到，请携带工卡前往邮件中心领取。\n出发前可查看<a href=\"https://work.weixin.qq.com\">邮件中心视频实况</a>，聪明避开排队。"
	const markdownContent = "您的会议室已经预定，稍后会同步到`邮箱`\n>**事项详情**\n>事　项：<font color=\"info\">开会</font>\n>组织者：@miglioguan\n>\n>会议室：<font color=\"info\">广州TIT 1楼 301</font>\n>日　期：<font color=\"warning\">2018年5月18日</font>\n>时　间：<font color=\"comment\">上午9:00-11:00</font>\n>\n>请准时参加会议。\n>\n>如需修改会议信息，请点击：[修改会议信息](https://work.weixin.qq.com)"
	tests := []struct {
		desc    string
		msg     providers.Message
		fixture string
	}{
		{
			desc: "text to users, departments and tags",
			msg: providers.Message{
				To:   providers.Recipients{Users: []string{"UserID1", "UserID2", "UserID3"}, Depts: []string{"2", "3"}, Tags: []string{"44", "55"}},
				Kind: providers.KindText, Text: textContent,
			},
			fixture: "send_text_request.json",
		},
		{
			desc: "markdown",
			msg: providers.Message{
				To:   providers.Recipients{Users: []string{"UserID1", "UserID2"}},
				Kind: providers.KindMarkdown, Text: markdownContent,
			},
			fixture: "send_markdown_request.json",
		},
		{
			desc: "button_interaction card",
			msg: providers.Message{
				To:   providers.Recipients{Users: []string{"UserID1", "UserID2"}, Depts: []string{"2"}},
				Kind: providers.KindCard, Body: fixture(t, "card_button_interaction.json"),
			},
			fixture: "send_card_request.json",
		},
		{
			desc: "vote_interaction card without task_id gets the generated one",
			msg: providers.Message{
				To:   providers.Recipients{Users: []string{"UserID1"}},
				Kind: providers.KindCard, Body: json.RawMessage(cardWith(t, "vote_interaction", "task_id", "")),
			},
			fixture: "send_card_vote_request.json",
		},
		{
			desc: "textcard",
			msg: mustMessage(t, providers.Recipients{Users: []string{"UserID1", "UserID2", "UserID3"}, Depts: []string{"2", "3"}}, TextCard{
				Title:       "领奖通知",
				Description: `<div class="gray">2016年9月26日</div> <div class="normal">恭喜你抽中iPhone 7一台，领奖码：xxxx</div><div class="highlight">请于2016年10月10日前联系行政同事领取</div>`,
				URL:         "https://work.weixin.qq.com/?a=1&b=2",
				BtnTxt:      "更多",
			}),
			fixture: "send_textcard_request.json",
		},
		{
			desc: "news with a link and a mini-program article",
			msg: mustMessage(t, providers.Recipients{Users: []string{"UserID1", "UserID2"}, Tags: []string{"44"}}, News{Articles: []NewsArticle{
				{Title: "中秋节礼品领取", Description: "今年中秋节公司有豪礼相送", URL: "https://work.weixin.qq.com",
					PicURL: "http://res.mail.qq.com/node/ww/wwopenmng/images/independent/doc/test_pic_msg1.png"},
				{Title: "礼品领取小程序", AppID: "wx123123123123123", PagePath: "pages/index?userid=zhangsan&orderid=123123123"},
			}}),
			fixture: "send_news_request.json",
		},
		{
			desc: "miniprogram_notice",
			msg: mustMessage(t, providers.Recipients{Users: []string{"zhangsan", "lisi"}}, MiniprogramNotice{
				AppID: "wx123123123123123", Page: "pages/index?userid=zhangsan&orderid=123123123",
				Title: "会议室预订成功通知", Description: "4月27日 16:16", EmphasisFirstItem: true,
				ContentItem: []MiniprogramItem{
					{Key: "会议室", Value: "402"}, {Key: "会议地点", Value: "广州TIT-402会议室"},
					{Key: "会议时间", Value: "2018年8月1日 09:00-09:30"}, {Key: "参与人员", Value: "周剑轩"},
				},
			}),
			fixture: "send_miniprogram_notice_request.json",
		},
		{
			desc: "raw textcard whose own touser, agentid and duplicate check lose to the client's",
			msg: providers.Message{
				To:   providers.Recipients{Users: []string{"UserID1"}},
				Kind: providers.KindRaw, Body: fixture(t, "raw_textcard_body.json"),
			},
			fixture: "send_raw_textcard_request.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tt.msg.App = "app"
			parts, err := b.client.Prepare(context.Background(), &tt.msg, providers.PrepareOptions{MessageID: "m1"})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if len(parts) != 1 {
				t.Fatalf("%d parts, want 1", len(parts))
			}
			assertSameJSON(t, parts[0].Body, fixture(t, tt.fixture))
			if parts[0].Index != 0 || !reflect.DeepEqual(parts[0].To, tt.msg.To) {
				t.Errorf("part = index %d to %+v, want index 0 to %+v", parts[0].Index, parts[0].To, tt.msg.To)
			}
		})
	}
}

// Every kind renders to byte-identical bodies when prepared twice, so a retry
// re-sends what WeCom's duplicate check saw.
func TestPrepareIsDeterministic(t *testing.T) {
	t.Parallel()
	to := providers.Recipients{Users: []string{"a", "b"}, Depts: []string{"1"}, Tags: []string{"9"}}
	tests := []struct {
		desc string
		msg  providers.Message
	}{
		{desc: "text", msg: providers.Message{To: to, Kind: providers.KindText, Text: "hi <b>&</b>"}},
		{desc: "markdown", msg: providers.Message{To: to, Kind: providers.KindMarkdown, Text: "**hi**"}},
		{desc: "card", msg: providers.Message{To: to, Kind: providers.KindCard, Body: fixture(t, "card_button_interaction.json")}},
		{desc: "raw", msg: providers.Message{To: to, Kind: providers.KindRaw, Body: fixture(t, "raw_textcard_body.json")}},
		{desc: "card with a generated task_id", msg: providers.Message{To: to, Kind: providers.KindCard, Body: json.RawMessage(cardWith(t, "multiple_interaction", "task_id", ""))}},
		{desc: "textcard", msg: providers.Message{To: to, Kind: KindTextCard, Body: json.RawMessage(`{"title":"<b>t</b>","description":"d &amp; e","url":"https://x/?a=1&b=2"}`)}},
		{desc: "news", msg: providers.Message{To: to, Kind: KindNews, Body: json.RawMessage(`{"articles":[{"url":"https://x","title":"t"}]}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			first, err := b.client.Prepare(context.Background(), &tt.msg, providers.PrepareOptions{MessageID: "m1"})
			if err != nil {
				t.Fatal(err)
			}
			second, err := b.client.Prepare(context.Background(), &tt.msg, providers.PrepareOptions{MessageID: "m1"})
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != len(second) {
				t.Fatalf("%d parts then %d", len(first), len(second))
			}
			for i := range first {
				if !bytes.Equal(first[i].Body, second[i].Body) {
					t.Errorf("part %d differs:\n%s\n%s", i, first[i].Body, second[i].Body)
				}
			}
		})
	}
}

// Keys come out in the documented order, with empty recipient lists and safe 0
// omitted.
func TestPrepareFieldOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		msg  providers.Message
		want []string
	}{
		{
			desc: "all recipient kinds",
			msg:  providers.Message{To: providers.Recipients{Users: []string{"a"}, Depts: []string{"1"}, Tags: []string{"2"}}, Kind: providers.KindText, Text: "x"},
			want: []string{"touser", "toparty", "totag", "msgtype", "agentid", "text", "enable_duplicate_check", "duplicate_check_interval"},
		},
		{
			desc: "departments only",
			msg:  providers.Message{To: providers.Recipients{Depts: []string{"1"}}, Kind: providers.KindMarkdown, Text: "x"},
			want: []string{"toparty", "msgtype", "agentid", "markdown", "enable_duplicate_check", "duplicate_check_interval"},
		},
		{
			desc: "raw mpnews with safe",
			msg: providers.Message{To: providers.Recipients{Users: []string{"a"}}, Kind: providers.KindRaw,
				Body: json.RawMessage(`{"safe":2,"mpnews":{"articles":[{"title":"t","thumb_media_id":"m","content":"c"}]},"msgtype":"mpnews"}`)},
			want: []string{"touser", "msgtype", "agentid", "mpnews", "safe", "enable_duplicate_check", "duplicate_check_interval"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			parts, err := b.client.Prepare(context.Background(), &tt.msg, providers.PrepareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := topLevelKeys(t, parts[0].Body); !slices.Equal(got, tt.want) {
				t.Errorf("keys %v, want %v", got, tt.want)
			}
		})
	}
}

// mustMessage is wecom.NewMessage of c to "to" from app "app", or fails.
func mustMessage(t *testing.T, to providers.Recipients, c Content) providers.Message {
	t.Helper()
	msg, err := NewMessage("app", to, c)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func topLevelKeys(t *testing.T, body []byte) []string {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range obj {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return bytes.Index(body, []byte(`"`+a+`":`)) - bytes.Index(body, []byte(`"`+b+`":`))
	})
	return keys
}

// Bodies carry no \uXXXX escapes (errcode 40033): HTML stays literal, U+2028 and
// U+2029 become newlines, and escapes already in card or raw bodies (as
// json.Marshal writes them) are undone.
func TestPrepareDoesNotEscape(t *testing.T) {
	t.Parallel()
	marshalled, err := json.Marshal(map[string]any{
		"msgtype": "textcard",
		"textcard": map[string]any{
			"title": "<b>T&C</b>", "description": "a\u2028b", "url": "https://x.example/?a=1&b=2",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(marshalled, []byte(`\u003c`)) {
		t.Fatalf("test premise: json.Marshal should escape <, got %s", marshalled)
	}
	tests := []struct {
		desc    string
		msg     providers.Message
		literal []string
	}{
		{
			desc:    "text with a link",
			msg:     providers.Message{Kind: providers.KindText, Text: `see <a href="x">this</a> & that`},
			literal: []string{`<a href=\"x\">this</a> & that`},
		},
		{
			desc:    "text with line and paragraph separators",
			msg:     providers.Message{Kind: providers.KindText, Text: "one\u2028two\u2029three"},
			literal: []string{`one\ntwo\nthree`},
		},
		{
			desc: "card with escaped HTML",
			msg: providers.Message{Kind: providers.KindCard,
				Body: json.RawMessage(`{"card_type":"text_notice","main_title":{"title":"\u003ci\u003eNew\u003c/i\u003e \u0026 \u2028x"},"card_action":{"type":1,"url":"https://x.example/?a=1\u0026b=2"}}`)},
			literal: []string{`"<i>New</i> & \nx"`, `"https://x.example/?a=1&b=2"`},
		},
		{
			desc:    "raw body from json.Marshal",
			msg:     providers.Message{Kind: providers.KindRaw, Body: marshalled},
			literal: []string{`"<b>T&C</b>"`, `"a\nb"`, `"https://x.example/?a=1&b=2"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			tt.msg.To = providers.Recipients{Users: []string{"a"}}
			parts, err := b.client.Prepare(context.Background(), &tt.msg, providers.PrepareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			body := parts[0].Body
			if bytes.Contains(body, []byte(`\u`)) {
				t.Errorf("body has a \\u escape: %s", body)
			}
			for _, lit := range tt.literal {
				if !bytes.Contains(body, []byte(lit)) {
					t.Errorf("body lacks %s: %s", lit, body)
				}
			}
			if bytes.HasSuffix(body, []byte("\n")) {
				t.Errorf("body ends in a newline")
			}
		})
	}
}

// Recipients split into parts of at most 1000 users and 100 departments and
// tags each, part i holding chunk i of each list.
func TestPrepareSplitsRecipients(t *testing.T) {
	t.Parallel()
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i+1)
		}
		return out
	}
	users2500 := ids("user", 2500)
	depts250 := ids("", 250)
	tags150 := ids("", 150)
	tests := []struct {
		desc string
		to   providers.Recipients
		want []providers.Recipients
	}{
		{
			desc: "2500 users make 1000/1000/500",
			to:   providers.Recipients{Users: users2500},
			want: []providers.Recipients{{Users: users2500[:1000]}, {Users: users2500[1000:2000]}, {Users: users2500[2000:]}},
		},
		{
			desc: "exactly 1000 users make one part",
			to:   providers.Recipients{Users: users2500[:1000]},
			want: []providers.Recipients{{Users: users2500[:1000]}},
		},
		{
			desc: "groups split by 100, zipped with users",
			to:   providers.Recipients{Users: users2500[:10], Depts: depts250, Tags: tags150},
			want: []providers.Recipients{
				{Users: users2500[:10], Depts: depts250[:100], Tags: tags150[:100]},
				{Depts: depts250[100:200], Tags: tags150[100:]},
				{Depts: depts250[200:]},
			},
		},
		{
			desc: "all is one part",
			to:   providers.Recipients{All: true},
			want: []providers.Recipients{{All: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			parts, err := b.client.Prepare(context.Background(), &providers.Message{To: tt.to, Kind: providers.KindText, Text: "x"}, providers.PrepareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != len(tt.want) {
				t.Fatalf("%d parts, want %d", len(parts), len(tt.want))
			}
			for i, p := range parts {
				if p.Index != i {
					t.Errorf("part %d has index %d", i, p.Index)
				}
				if !reflect.DeepEqual(p.To, tt.want[i]) {
					t.Errorf("part %d to %d users %d depts %d tags, want %d/%d/%d", i,
						len(p.To.Users), len(p.To.Depts), len(p.To.Tags), len(tt.want[i].Users), len(tt.want[i].Depts), len(tt.want[i].Tags))
				}
				var body struct {
					ToUser  string `json:"touser"`
					ToParty string `json:"toparty"`
					ToTag   string `json:"totag"`
				}
				if err := json.Unmarshal(p.Body, &body); err != nil {
					t.Fatal(err)
				}
				wantUser := strings.Join(tt.want[i].Users, "|")
				if tt.want[i].All {
					wantUser = "@all"
				}
				if body.ToUser != wantUser || body.ToParty != strings.Join(tt.want[i].Depts, "|") || body.ToTag != strings.Join(tt.want[i].Tags, "|") {
					t.Errorf("part %d body recipients do not match its To", i)
				}
			}
		})
	}
}

// Part.To does not share memory with the message: changing the message after
// Prepare does not change the prepared parts.
func TestPreparePartsDoNotAliasMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := &providers.Message{To: providers.Recipients{Users: []string{"a", "b"}}, Kind: providers.KindText, Text: "x"}
	parts, err := b.client.Prepare(context.Background(), msg, providers.PrepareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg.To.Users[0] = "changed"
	if parts[0].To.Users[0] != "a" {
		t.Errorf("part recipients changed with the message: %v", parts[0].To.Users)
	}
}

// A body that grows past 666 KiB once recipients are added is refused on body.
func TestPrepareRefusesOversizedPart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	users := make([]string, MaxUsersPerPart)
	for i := range users {
		users[i] = fmt.Sprintf("user-with-a-rather-long-id-%04d", i)
	}
	// An mpnews content just under the raw-body limit; the touser list pushes the
	// rendered body over it.
	content := strings.Repeat("x", MaxBodyBytes-200)
	raw := fmt.Sprintf(`{"msgtype":"mpnews","mpnews":{"articles":[{"title":"t","thumb_media_id":"m","content":%q}]}}`, content)
	_, err := b.client.Prepare(context.Background(), &providers.Message{To: providers.Recipients{Users: users}, Kind: providers.KindRaw, Body: json.RawMessage(raw)}, providers.PrepareOptions{})
	assertField(t, err, "body")
}
