package wecom

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Every field of the typed contents, filled in: NewMessage renders them to
// bodies Validate accepts, so the structs' JSON names are the ones the
// validators take.
func TestNewMessageOfEveryContent(t *testing.T) {
	t.Parallel()
	to := providers.Recipients{Users: []string{"zhangsan"}}
	source := &CardSource{IconURL: "https://wework.qpic.cn/icon.png", Desc: "企业微信", DescColor: 2}
	menu := &CardActionMenu{Desc: "更多操作", ActionList: []CardMenuAction{{Text: "接收推送", Key: "k1"}, {Text: "不再推送", Key: "k2"}}}
	title := &CardMainTitle{Title: "欢迎使用企业微信", Desc: "您的好友正在邀请您加入企业微信"}
	quote := &CardQuoteArea{Type: 2, URL: "https://work.weixin.qq.com", AppID: "wx1", PagePath: "pages/index", Title: "引用", QuoteText: "企业微信真好用"}
	horizontal := []CardHorizontalContent{
		{KeyName: "邀请人", Value: "张三"},
		{Type: 1, KeyName: "官网", Value: "点击访问", URL: "https://work.weixin.qq.com"},
		{Type: 2, KeyName: "附件", Value: "企业微信.apk", MediaID: "MEDIAID"},
		{Type: 3, KeyName: "员工", Value: "点击查看", UserID: "zhangsan"},
	}
	jumps := []CardJump{{Type: 1, Title: "官网", URL: "https://work.weixin.qq.com"}, {Type: 2, Title: "小程序", AppID: "wx1", PagePath: "pages/index"}}
	action := &CardAction{Type: 1, URL: "https://work.weixin.qq.com", AppID: "wx1", PagePath: "pages/index"}
	selection := CardSelect{QuestionKey: "q1", Title: "评分", OptionList: []CardOption{{ID: "o1", Text: "100分"}, {ID: "o2", Text: "101分"}}, SelectedID: "o2", Disable: true}
	submit := &CardSubmitButton{Text: "提交", Key: "submit"}
	tests := []struct {
		desc     string
		content  Content
		wantKind providers.Kind
	}{
		{desc: "text", content: Text{Content: `<a href="https://x/?a=1&b=2">link</a>`}, wantKind: providers.KindText},
		{desc: "text by pointer", content: &Text{Content: "hi"}, wantKind: providers.KindText},
		{desc: "markdown", content: Markdown{Content: "**<b>**"}, wantKind: providers.KindMarkdown},
		{desc: "image", content: Image{MediaID: "m"}, wantKind: KindImage},
		{desc: "voice", content: Voice{MediaID: "m"}, wantKind: KindVoice},
		{desc: "file", content: &File{MediaID: "m"}, wantKind: KindFile},
		{desc: "video", content: Video{MediaID: "m", Title: "<Title>", Description: "Description"}, wantKind: KindVideo},
		{desc: "textcard", content: TextCard{Title: "领奖通知", Description: `<div class="gray">2016年9月26日</div>`, URL: "https://x/?a=1&b=2", BtnTxt: "更多"}, wantKind: KindTextCard},
		{desc: "news", content: News{Articles: []NewsArticle{
			{Title: "t", Description: "d", URL: "https://x", PicURL: "https://x/p.png", AppID: "wx1", PagePath: "pages/index"},
		}}, wantKind: KindNews},
		{desc: "mpnews", content: MPNews{Articles: []MPNewsArticle{
			{Title: "t", ThumbMediaID: "m", Author: "a", ContentSourceURL: "https://x", Content: "<p>c & d</p>", Digest: "d"},
		}}, wantKind: KindMPNews},
		{desc: "miniprogram_notice", content: MiniprogramNotice{AppID: "wx1", Page: "pages/index", Title: "会议室预订成功", Description: "4月27日 16:16",
			EmphasisFirstItem: true, ContentItem: []MiniprogramItem{{Key: "会议室", Value: "402"}}}, wantKind: KindMiniprogramNotice},
		{desc: "text_notice", content: TemplateCard{
			CardType: CardTextNotice, TaskID: "t1", Source: source, ActionMenu: menu, MainTitle: title, QuoteArea: quote,
			EmphasisContent: &CardEmphasisContent{Title: "100", Desc: "数据含义"}, SubTitleText: "下载企业微信还能抢红包！",
			HorizontalContentList: horizontal, JumpList: jumps, CardAction: action,
		}, wantKind: providers.KindCard},
		{desc: "news_notice", content: TemplateCard{
			CardType: CardNewsNotice, TaskID: "t1", Source: source, ActionMenu: menu, MainTitle: title, QuoteArea: quote,
			ImageTextArea:         &CardImageTextArea{Type: 1, URL: "https://x", AppID: "wx1", PagePath: "p", Title: "t", Desc: "d", ImageURL: "https://x/i.png"},
			CardImage:             &CardImage{URL: "https://x/i.png", AspectRatio: 1.3},
			VerticalContentList:   []CardVerticalContent{{Title: "惊喜红包等你来拿", Desc: "下载企业微信还能抢红包！"}},
			HorizontalContentList: horizontal, JumpList: jumps, CardAction: action,
		}, wantKind: providers.KindCard},
		{desc: "button_interaction", content: TemplateCard{
			CardType: CardButtonInteraction, TaskID: "t1", Source: source, ActionMenu: menu, MainTitle: title, QuoteArea: quote,
			SubTitleText: "s", HorizontalContentList: horizontal, CardAction: action, ButtonSelection: &selection,
			ButtonList:  []CardButton{{Text: "按钮1", Style: 1, Key: "b1"}, {Type: 1, Text: "按钮2", Style: 4, URL: "https://x"}},
			ReplaceText: "已提交",
		}, wantKind: providers.KindCard},
		{desc: "vote_interaction", content: TemplateCard{
			CardType: CardVoteInteraction, TaskID: "t1", Source: source, MainTitle: title,
			Checkbox:     &CardCheckbox{QuestionKey: "q", OptionList: []CardCheckboxOption{{ID: "o1", Text: "选项1", IsChecked: true}, {ID: "o2", Text: "选项2"}}, Mode: 1, Disable: true},
			SubmitButton: submit, ReplaceText: "已提交",
		}, wantKind: providers.KindCard},
		{desc: "multiple_interaction", content: TemplateCard{
			CardType: CardMultipleInteraction, TaskID: "t1", Source: source, MainTitle: title,
			SelectList: []CardSelect{selection, {QuestionKey: "q2", OptionList: []CardOption{{ID: "x", Text: "X"}}}}, SubmitButton: submit, ReplaceText: "已提交",
		}, wantKind: providers.KindCard},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			msg, err := NewMessage("app", to, tt.content)
			if err != nil {
				t.Fatal(err)
			}
			if msg.App != "app" || !reflect.DeepEqual(msg.To, to) || msg.Kind != tt.wantKind || tt.content.Kind() != tt.wantKind {
				t.Errorf("message %+v", msg)
			}
			if err := Validate(&msg); err != nil {
				t.Fatalf("Validate: %v\n%s", err, msg.Body)
			}
			if msg.Kind == providers.KindText || msg.Kind == providers.KindMarkdown {
				if msg.Text == "" || msg.Body != nil {
					t.Errorf("text %q body %s", msg.Text, msg.Body)
				}
				return
			}
			if bytes.Contains(msg.Body, []byte(`\u`)) {
				t.Errorf("body has a \\u escape: %s", msg.Body)
			}
			// The body decodes back to the same content: no field is lost.
			want := reflect.ValueOf(tt.content)
			if want.Kind() == reflect.Pointer {
				want = want.Elem()
			}
			back := reflect.New(want.Type())
			if err := json.Unmarshal(msg.Body, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Elem().Interface(), want.Interface()) {
				t.Errorf("body decodes to %+v, want %+v", back.Elem().Interface(), want.Interface())
			}
		})
	}
}

func TestNewMessageRefusesNilContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		content Content
	}{
		{desc: "nil interface"},
		{desc: "nil pointer", content: (*TextCard)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if _, err := NewMessage("app", providers.Recipients{Users: []string{"a"}}, tt.content); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
