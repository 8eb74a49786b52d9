package wecomsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Valid cards of the five types (doc 90236 examples, shortened).
var validCards = map[string]string{
	"text_notice": `{"card_type":"text_notice","source":{"icon_url":"https://x/i.png","desc":"企业微信","desc_color":0},` +
		`"main_title":{"title":"欢迎使用企业微信","desc":"您的好友正在邀请您加入企业微信"},"emphasis_content":{"title":"100","desc":"数据含义"},` +
		`"quote_area":{"type":1,"url":"https://work.weixin.qq.com","title":"引用文本标题","quote_text":"企业微信真好用"},"sub_title_text":"下载企业微信还能抢红包！",` +
		`"horizontal_content_list":[{"keyname":"邀请人","value":"张三"},{"keyname":"官网","type":1,"url":"https://x"},{"keyname":"下载","type":2,"media_id":"M"},{"keyname":"员工","type":3,"userid":"zhangsan"}],` +
		`"jump_list":[{"type":1,"url":"https://x","title":"官网"},{"type":2,"appid":"APPID","pagepath":"P","title":"小程序"}],` +
		`"card_action":{"type":1,"url":"https://x"}}`,
	"news_notice": `{"card_type":"news_notice","main_title":{"title":"欢迎使用企业微信"},` +
		`"image_text_area":{"type":1,"url":"https://x","title":"t","desc":"d","image_url":"https://x/i.png"},` +
		`"card_image":{"url":"https://x/i.png","aspect_ratio":2.25},"vertical_content_list":[{"title":"惊喜红包等你来拿","desc":"d"}],` +
		`"card_action":{"type":2,"appid":"APPID","pagepath":"P"}}`,
	"button_interaction": `{"card_type":"button_interaction","main_title":{"title":"欢迎使用企业微信"},"task_id":"T1",` +
		`"button_selection":{"question_key":"q","title":"评分","option_list":[{"id":"a","text":"100分"},{"id":"b","text":"101分"}],"selected_id":"a"},` +
		`"button_list":[{"text":"按钮1","style":1,"key":"K1"},{"text":"按钮2","style":2,"key":"K2"},{"type":1,"text":"官网","url":"https://x"}]}`,
	"vote_interaction": `{"card_type":"vote_interaction","main_title":{"title":"欢迎使用企业微信"},"task_id":"T1",` +
		`"checkbox":{"question_key":"q","option_list":[{"id":"a","text":"选项1","is_checked":true},{"id":"b","text":"选项2"}],"mode":1},` +
		`"submit_button":{"text":"提交","key":"S"},"replace_text":"已提交"}`,
	"multiple_interaction": `{"card_type":"multiple_interaction","main_title":{"title":"欢迎使用企业微信"},"task_id":"T1",` +
		`"select_list":[{"question_key":"q1","option_list":[{"id":"a","text":"A"}]},{"question_key":"q2","selected_id":"b","option_list":[{"id":"b","text":"B"}]}],` +
		`"submit_button":{"text":"提交","key":"S"}}`,
}

// cardWith is validCards[cardType] with top-level fields set (raw JSON) or,
// for "", removed.
func cardWith(t *testing.T, cardType string, changes ...string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(validCards[cardType]), &m); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == "" {
			delete(m, changes[i])
		} else {
			m[changes[i]] = json.RawMessage(changes[i+1])
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// items is n copies of v as a JSON array, each with %d replaced by its index.
func items(n int, v string) string {
	out := make([]string, n)
	for i := range out {
		out[i] = strings.ReplaceAll(v, "%d", fmt.Sprint(i))
	}
	return "[" + strings.Join(out, ",") + "]"
}

// Template cards are checked field by field and refused with the errcode
// WeCom's table gives for the field (42014–42051), or 40058 where it names
// none.
func TestSendTemplateCardFields(t *testing.T) {
	t.Parallel()
	const (
		tn = "text_notice"
		nn = "news_notice"
		bi = "button_interaction"
		vi = "vote_interaction"
		mi = "multiple_interaction"
	)
	tests := []struct {
		desc     string
		card     string
		wantCode int
	}{
		{desc: "text_notice", card: cardWith(t, tn), wantCode: CodeOK},
		{desc: "news_notice", card: cardWith(t, nn), wantCode: CodeOK},
		{desc: "button_interaction", card: cardWith(t, bi), wantCode: CodeOK},
		{desc: "vote_interaction", card: cardWith(t, vi), wantCode: CodeOK},
		{desc: "multiple_interaction", card: cardWith(t, mi), wantCode: CodeOK},
		{desc: "text_notice with sub_title_text only", card: cardWith(t, tn, "main_title", ""), wantCode: CodeOK},
		{desc: "news_notice with card_image only", card: cardWith(t, nn, "image_text_area", ""), wantCode: CodeOK},
		{desc: "button style out of range defaults", card: cardWith(t, bi, "button_list", `[{"text":"b","style":9,"key":"k"}]`), wantCode: CodeOK},
		{desc: "selected_id of no option defaults", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[{"id":"a","text":"A"}],"selected_id":"zz"}`), wantCode: CodeOK},
		{desc: "unknown fields are ignored", card: cardWith(t, tn, "colour", `"red"`), wantCode: CodeOK},

		{desc: "card_type unknown", card: cardWith(t, tn, "card_type", `"poster"`), wantCode: CodeInvalidCardType},
		{desc: "card_type missing", card: cardWith(t, tn, "card_type", ""), wantCode: CodeInvalidCardType},
		{desc: "action_menu without task_id", card: cardWith(t, tn, "action_menu", `{"action_list":[{"text":"a","key":"k"}]}`), wantCode: CodeInvalidTaskID},
		{desc: "interaction card without task_id", card: cardWith(t, mi, "task_id", ""), wantCode: CodeInvalidTaskID},
		{desc: "task_id with a dot", card: cardWith(t, vi, "task_id", `"t.1"`), wantCode: CodeInvalidTaskID},
		{desc: "action_menu keys conflict", card: cardWith(t, tn, "task_id", `"T2"`, "action_menu", `{"action_list":[{"text":"a","key":"k"},{"text":"b","key":"k"}]}`), wantCode: CodeCardActionKeyConflict},
		{desc: "action_menu of four actions", card: cardWith(t, tn, "task_id", `"T2"`, "action_menu", `{"action_list":`+items(4, `{"text":"a","key":"k%d"}`)+`}`), wantCode: CodeInvalidRequestParam},
		{desc: "action_menu without actions", card: cardWith(t, tn, "task_id", `"T2"`, "action_menu", `{"action_list":[]}`), wantCode: CodeInvalidRequestParam},
		{desc: "source desc_color 5", card: cardWith(t, tn, "source", `{"desc_color":5}`), wantCode: CodeInvalidRequestParam},
		{desc: "text_notice without any title", card: cardWith(t, tn, "main_title", "", "sub_title_text", ""), wantCode: CodeCardTitleMissing},
		{desc: "vote_interaction without main_title", card: cardWith(t, vi, "main_title", ""), wantCode: CodeCardTitleMissing},
		{desc: "quote_area link without url", card: cardWith(t, tn, "quote_area", `{"type":1}`), wantCode: CodeCardURLMissing},
		{desc: "quote_area mini-program without appid", card: cardWith(t, tn, "quote_area", `{"type":2}`), wantCode: CodeCardAppIDMissing},
		{desc: "seven horizontal items", card: cardWith(t, tn, "horizontal_content_list", items(7, `{"keyname":"k%d"}`)), wantCode: CodeCardHorizontalListLength},
		{desc: "horizontal item without keyname", card: cardWith(t, tn, "horizontal_content_list", `[{"value":"v"}]`), wantCode: CodeCardKeyNameMissing},
		{desc: "horizontal link without url", card: cardWith(t, tn, "horizontal_content_list", `[{"keyname":"k","type":1}]`), wantCode: CodeCardURLMissing},
		{desc: "horizontal attachment without media_id", card: cardWith(t, tn, "horizontal_content_list", `[{"keyname":"k","type":2}]`), wantCode: CodeCardMediaIDMissing},
		{desc: "horizontal member without userid", card: cardWith(t, tn, "horizontal_content_list", `[{"keyname":"k","type":3}]`), wantCode: CodeCardUserID},
		{desc: "four jumps", card: cardWith(t, tn, "jump_list", items(4, `{"title":"j%d"}`)), wantCode: CodeCardJumpListLength},
		{desc: "jump without title", card: cardWith(t, tn, "jump_list", `[{"type":1,"url":"https://x"}]`), wantCode: CodeCardTitleMissing},
		{desc: "jump to a mini-program without appid", card: cardWith(t, tn, "jump_list", `[{"type":2,"title":"t"}]`), wantCode: CodeCardAppIDMissing},
		{desc: "text_notice without card_action", card: cardWith(t, tn, "card_action", ""), wantCode: CodeCardAction},
		{desc: "news_notice card_action type 0", card: cardWith(t, nn, "card_action", `{"type":0}`), wantCode: CodeCardAction},
		{desc: "card_action link without url", card: cardWith(t, tn, "card_action", `{"type":1}`), wantCode: CodeCardURLMissing},
		{desc: "card_action mini-program without appid", card: cardWith(t, nn, "card_action", `{"type":2}`), wantCode: CodeCardAppIDMissing},
		{desc: "button_interaction card_action type 3", card: cardWith(t, bi, "card_action", `{"type":3}`), wantCode: CodeCardAction},
		{desc: "news_notice without an image", card: cardWith(t, nn, "card_image", "", "image_text_area", ""), wantCode: CodeCardImage},
		{desc: "card_image without url", card: cardWith(t, nn, "card_image", `{"aspect_ratio":1.5}`), wantCode: CodeCardImage},
		{desc: "card_image aspect_ratio 2.3", card: cardWith(t, nn, "card_image", `{"url":"https://x","aspect_ratio":2.3}`), wantCode: CodeCardImage},
		{desc: "image_text_area without image_url", card: cardWith(t, nn, "card_image", "", "image_text_area", `{"title":"t"}`), wantCode: CodeCardImage},
		{desc: "five vertical items", card: cardWith(t, nn, "vertical_content_list", items(5, `{"title":"v%d"}`)), wantCode: CodeCardVerticalListLength},
		{desc: "vertical item without title", card: cardWith(t, nn, "vertical_content_list", `[{"desc":"d"}]`), wantCode: CodeCardTitleMissing},
		{desc: "no buttons", card: cardWith(t, bi, "button_list", ""), wantCode: CodeInvalidRequestParam},
		{desc: "seven buttons", card: cardWith(t, bi, "button_list", items(7, `{"text":"b","key":"k%d"}`)), wantCode: CodeInvalidRequestParam},
		{desc: "button without text", card: cardWith(t, bi, "button_list", `[{"key":"k"}]`), wantCode: CodeCardButtonText},
		{desc: "button keys repeated", card: cardWith(t, bi, "button_list", `[{"text":"a","key":"k"},{"text":"b","key":"k"}]`), wantCode: CodeInvalidButtonKey},
		{desc: "button key of 1025 bytes", card: cardWith(t, bi, "button_list", `[{"text":"a","key":"`+strings.Repeat("k", 1025)+`"}]`), wantCode: CodeInvalidButtonKey},
		{desc: "url button without url", card: cardWith(t, bi, "button_list", `[{"type":1,"text":"a"}]`), wantCode: CodeCardURLMissing},
		{desc: "button_selection without question_key", card: cardWith(t, bi, "button_selection", `{"option_list":[{"id":"a","text":"A"}]}`), wantCode: CodeCardQuestionKey},
		{desc: "button_selection of eleven options", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":`+items(11, `{"id":"o%d","text":"t"}`)+`}`), wantCode: CodeCardOptionListLength},
		{desc: "option ids repeated", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[{"id":"a","text":"A"},{"id":"a","text":"B"}]}`), wantCode: CodeCardOptionID},
		{desc: "option without text", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[{"id":"a"}]}`), wantCode: CodeCardOptionText},
		{desc: "vote without checkbox", card: cardWith(t, vi, "checkbox", ""), wantCode: CodeCardQuestionKey},
		{desc: "checkbox of 21 options", card: cardWith(t, vi, "checkbox", `{"question_key":"q","option_list":`+items(21, `{"id":"o%d","text":"t"}`)+`}`), wantCode: CodeCardOptionListLength},
		{desc: "checkbox without options", card: cardWith(t, vi, "checkbox", `{"question_key":"q"}`), wantCode: CodeCardOptionListLength},
		{desc: "checkbox mode 2", card: cardWith(t, vi, "checkbox", `{"question_key":"q","option_list":[{"id":"a","text":"A"}],"mode":2}`), wantCode: CodeInvalidRequestParam},
		{desc: "vote without submit_button", card: cardWith(t, vi, "submit_button", ""), wantCode: CodeCardSubmitKey},
		{desc: "submit_button without key", card: cardWith(t, mi, "submit_button", `{"text":"提交"}`), wantCode: CodeCardSubmitKey},
		{desc: "submit_button without text", card: cardWith(t, mi, "submit_button", `{"key":"S"}`), wantCode: CodeCardSubmitText},
		{desc: "no select_list", card: cardWith(t, mi, "select_list", ""), wantCode: CodeCardSelectListLength},
		{desc: "four selects", card: cardWith(t, mi, "select_list", items(4, `{"question_key":"q%d","option_list":[{"id":"a","text":"A"}]}`)), wantCode: CodeCardSelectListLength},
		{desc: "select question_keys repeated", card: cardWith(t, mi, "select_list", `[{"question_key":"q","option_list":[{"id":"a","text":"A"}]},{"question_key":"q","option_list":[{"id":"a","text":"A"}]}]`), wantCode: CodeCardQuestionKey},
		{desc: "field of the wrong JSON type", card: cardWith(t, bi, "button_list", `{"text":"a"}`), wantCode: CodeInvalidParam},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			body := fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d,"template_card":%s}`, agent, tc.card)
			r := b.send(b.token(), body)
			wantCode(t, r, tc.wantCode)
			if tc.wantCode != CodeOK {
				if n := len(b.sim.Deliveries("")); n != 0 {
					t.Fatalf("refused card delivered %d times", n)
				}
				return
			}
			ds := b.sim.Deliveries("alice")
			if len(ds) != 1 || ds[0].MsgType != "template_card" || ds[0].Content == "" {
				t.Fatalf("deliveries %+v", ds)
			}
		})
	}
}

// The other message types' documented limits.
func TestSendMessageTypeLimits(t *testing.T) {
	t.Parallel()
	msg := func(msgtype, content string) string {
		return fmt.Sprintf(`{"touser":"alice","msgtype":%q,"agentid":%d,%q:%s}`, msgtype, agent, msgtype, content)
	}
	kv := func(k, v string) string { return fmt.Sprintf(`{"key":%q,"value":%q}`, k, v) }
	mini := func(extra string) string {
		return msg("miniprogram_notice", `{"appid":"wx1","page":"pages/index","title":"会议室预订成功通知"`+extra+`}`)
	}
	tests := []struct {
		desc     string
		body     string
		wantCode int
	}{
		{desc: "textcard http url", body: msg("textcard", `{"title":"t","description":"d","url":"http://x"}`), wantCode: CodeOK},
		{desc: "textcard url without protocol", body: msg("textcard", `{"title":"t","description":"d","url":"work.weixin.qq.com"}`), wantCode: CodeURLWithoutScheme},
		{desc: "textcard long title is truncated, not refused", body: msg("textcard", `{"title":"`+strings.Repeat("t", 200)+`","description":"d","url":"https://x"}`), wantCode: CodeOK},
		{desc: "news mini-program article", body: msg("news", `{"articles":[{"title":"t","appid":"wx1","pagepath":"p"}]}`), wantCode: CodeOK},
		{desc: "news eight articles", body: msg("news", `{"articles":`+items(8, `{"title":"t%d","url":"https://x"}`)+`}`), wantCode: CodeOK},
		{desc: "news nine articles", body: msg("news", `{"articles":`+items(9, `{"title":"t%d","url":"https://x"}`)+`}`), wantCode: CodeTooManyArticles},
		{desc: "news article without title", body: msg("news", `{"articles":[{"url":"https://x"}]}`), wantCode: CodeMissingTitle},
		{desc: "news article without url or mini-program", body: msg("news", `{"articles":[{"title":"t"}]}`), wantCode: CodeInvalidRequestParam},
		{desc: "news appid without pagepath", body: msg("news", `{"articles":[{"title":"t","appid":"wx1"}]}`), wantCode: CodeInvalidRequestParam},
		{desc: "news url without protocol", body: msg("news", `{"articles":[{"title":"t","url":"x.example"}]}`), wantCode: CodeURLWithoutScheme},
		{desc: "mpnews author of 65 bytes", body: msg("mpnews", `{"articles":[{"title":"t","thumb_media_id":"m","content":"c","author":"`+strings.Repeat("a", 65)+`"}]}`), wantCode: CodeAuthorTooLong},
		{desc: "mpnews nine articles", body: msg("mpnews", `{"articles":`+items(9, `{"title":"t","thumb_media_id":"m","content":"c"}`)+`}`), wantCode: CodeTooManyArticles},
		{desc: "miniprogram_notice ten items", body: mini(`,"content_item":` + items(10, kv("k%d", "v"))), wantCode: CodeOK},
		{desc: "miniprogram_notice eleven items", body: mini(`,"content_item":` + items(11, kv("k%d", "v"))), wantCode: CodeMiniTooManyItems},
		{desc: "miniprogram_notice key of 11 characters", body: mini(`,"content_item":[` + kv(strings.Repeat("键", 11), "v") + `]`), wantCode: CodeMiniKeyLength},
		{desc: "miniprogram_notice value of 31 characters", body: mini(`,"content_item":[` + kv("k", strings.Repeat("值", 31)) + `]`), wantCode: CodeMiniValueLength},
		{desc: "miniprogram_notice page of 1025 bytes", body: msg("miniprogram_notice", `{"appid":"wx1","title":"会议室预订成功","page":"`+strings.Repeat("p", 1025)+`"}`), wantCode: CodeMiniPage},
		{desc: "miniprogram_notice title of 3 characters", body: msg("miniprogram_notice", `{"appid":"wx1","title":"预订了"}`), wantCode: CodeInvalidRequestParam},
		{desc: "miniprogram_notice without title", body: msg("miniprogram_notice", `{"appid":"wx1"}`), wantCode: CodeMissingTitle},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			wantCode(t, b.send(b.token(), tc.body), tc.wantCode)
		})
	}
}
