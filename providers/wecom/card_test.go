package wecom

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/providers"
)

// cardWith returns testdata/card_<cardType>.json with top-level fields
// changed: changes are pairs of a key and its raw JSON value, "" removing it.
func cardWith(t *testing.T, cardType string, changes ...string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(fixture(t, "card_"+cardType+".json"), &m); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == "" {
			delete(m, changes[i])
		} else {
			m[changes[i]] = json.RawMessage(changes[i+1])
		}
	}
	b, err := encodeJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// repeatJSON is n copies of the JSON value v as array items, each with %d
// replaced by its index.
func repeatJSON(n int, v string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = strings.ReplaceAll(v, "%d", fmt.Sprint(i))
	}
	return "[" + strings.Join(items, ",") + "]"
}

func TestValidateTemplateCards(t *testing.T) {
	t.Parallel()
	const (
		tn = "text_notice"
		nn = "news_notice"
		bi = "button_interaction"
		vi = "vote_interaction"
		mi = "multiple_interaction"
	)
	long := func(n int) string { return strings.Repeat("字", n) }
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	tests := []struct {
		desc  string
		card  string
		field string // "" means valid
	}{
		// Valid cards of every type.
		{desc: "text_notice", card: cardWith(t, tn)},
		{desc: "news_notice", card: cardWith(t, nn)},
		{desc: "button_interaction", card: cardWith(t, bi)},
		{desc: "vote_interaction", card: cardWith(t, vi)},
		{desc: "multiple_interaction", card: cardWith(t, mi)},
		{desc: "text_notice with sub_title_text and no main_title", card: cardWith(t, tn, "main_title", "")},
		{desc: "text_notice with main_title and no sub_title_text", card: cardWith(t, tn, "sub_title_text", "")},
		{desc: "text_notice with an action_menu and no task_id", card: cardWith(t, tn, "action_menu", `{"desc":"卡片副交互辅助文本说明","action_list":[{"text":"接收推送","key":"action_key1"},{"text":"不再推送","key":"action_key2"}]}`)},
		{desc: "text_notice opening a mini-program", card: cardWith(t, tn, "card_action", `{"type":2,"appid":"APPID","pagepath":"PAGEPATH"}`)},
		{desc: "news_notice with card_image only", card: cardWith(t, nn, "image_text_area", "")},
		{desc: "news_notice with image_text_area only", card: cardWith(t, nn, "card_image", "")},
		{desc: "news_notice aspect_ratio 1.3", card: cardWith(t, nn, "card_image", `{"url":"https://x/p.png","aspect_ratio":1.3}`)},
		{desc: "button_interaction without task_id", card: cardWith(t, bi, "task_id", "")},
		{desc: "button_interaction with an empty task_id", card: cardWith(t, bi, "task_id", `""`)},
		{desc: "button_interaction with a url button", card: cardWith(t, bi, "button_list", `[{"type":1,"text":"官网","url":"https://work.weixin.qq.com"}]`)},
		{desc: "button_interaction without card_action", card: cardWith(t, bi, "card_action", "")},
		{desc: "button_interaction with card_action type 0", card: cardWith(t, bi, "card_action", `{"type":0}`)},
		{desc: "button_interaction with six buttons", card: cardWith(t, bi, "button_list", repeatJSON(6, `{"text":"b%d","key":"k%d"}`))},
		{desc: "task_id of 128 bytes of every allowed character", card: cardWith(t, vi, "task_id", q(strings.Repeat("aZ09_-@", 18)+"xy"))},
		{desc: "null fields count as absent", card: cardWith(t, tn, "source", "null", "jump_list", "null")},
		{desc: "vote with twenty options", card: cardWith(t, vi, "checkbox", `{"question_key":"q","option_list":`+repeatJSON(20, `{"id":"o%d","text":"t"}`)+`}`)},
		{desc: "three selects", card: cardWith(t, mi, "select_list", repeatJSON(3, `{"question_key":"q%d","option_list":[{"id":"o","text":"t"}]}`))},

		// card_type and fields.
		{desc: "no card_type", card: cardWith(t, tn, "card_type", ""), field: "body.card_type"},
		{desc: "unknown card_type", card: cardWith(t, tn, "card_type", `"poster"`), field: "body.card_type"},
		{desc: "card_type not a string", card: cardWith(t, tn, "card_type", `1`), field: "body.card_type"},
		{desc: "unknown field", card: cardWith(t, tn, "colour", `"red"`), field: "body.colour"},
		{desc: "button with a repeated field", card: cardWith(t, bi, "button_list", `[{"text":"a","key":"k","key":"k2"}]`), field: "body.button_list[0].key"},
		{desc: "field in another case", card: cardWith(t, tn, "Sub_Title_Text", `"x"`), field: "body.Sub_Title_Text"},
		{desc: "checkbox on a text_notice", card: cardWith(t, tn, "checkbox", `{}`), field: "body.checkbox"},
		{desc: "card_image on a button_interaction", card: cardWith(t, bi, "card_image", `{"url":"https://x"}`), field: "body.card_image"},
		{desc: "action_menu on a vote_interaction", card: cardWith(t, vi, "action_menu", `{"action_list":[{"text":"t","key":"k"}]}`), field: "body.action_menu"},
		{desc: "sub_title_text on a multiple_interaction", card: cardWith(t, mi, "sub_title_text", `"s"`), field: "body.sub_title_text"},

		// task_id.
		{desc: "task_id with a space", card: cardWith(t, bi, "task_id", `"task 1"`), field: "body.task_id"},
		{desc: "task_id with a dot", card: cardWith(t, bi, "task_id", `"task.1"`), field: "body.task_id"},
		{desc: "task_id of 129 bytes", card: cardWith(t, bi, "task_id", q(strings.Repeat("t", 129))), field: "body.task_id"},
		{desc: "task_id not a string", card: cardWith(t, bi, "task_id", `12`), field: "body.task_id"},

		// Common sub-objects.
		{desc: "source desc_color 4", card: cardWith(t, tn, "source", `{"desc":"d","desc_color":4}`), field: "body.source.desc_color"},
		{desc: "source icon_url without protocol", card: cardWith(t, tn, "source", `{"icon_url":"wework.qpic.cn/x.png"}`), field: "body.source.icon_url"},
		{desc: "source unknown field", card: cardWith(t, tn, "source", `{"desc":"d","color":1}`), field: "body.source.color"},
		{desc: "action_menu without actions", card: cardWith(t, tn, "action_menu", `{"desc":"d","action_list":[]}`), field: "body.action_menu.action_list"},
		{desc: "action_menu of four actions", card: cardWith(t, tn, "action_menu", `{"action_list":`+repeatJSON(4, `{"text":"t","key":"k%d"}`)+`}`), field: "body.action_menu.action_list"},
		{desc: "action without key", card: cardWith(t, tn, "action_menu", `{"action_list":[{"text":"a","key":"k"},{"text":"b"}]}`), field: "body.action_menu.action_list[1].key"},
		{desc: "action without text", card: cardWith(t, tn, "action_menu", `{"action_list":[{"key":"k"}]}`), field: "body.action_menu.action_list[0].text"},
		{desc: "action keys repeated", card: cardWith(t, tn, "action_menu", `{"action_list":[{"text":"a","key":"k"},{"text":"b","key":"k2"},{"text":"c","key":"k"}]}`), field: "body.action_menu.action_list[2].key"},
		{desc: "action key of 1025 bytes", card: cardWith(t, tn, "action_menu", `{"action_list":[{"text":"a","key":`+q(strings.Repeat("k", 1025))+`}]}`), field: "body.action_menu.action_list[0].key"},
		{desc: "main_title title of 37 characters", card: cardWith(t, tn, "main_title", `{"title":`+q(long(37))+`}`), field: "body.main_title.title"},
		{desc: "main_title desc of 45 characters", card: cardWith(t, tn, "main_title", `{"title":"t","desc":`+q(long(45))+`}`), field: "body.main_title.desc"},
		{desc: "text_notice without main_title or sub_title_text", card: cardWith(t, tn, "main_title", "", "sub_title_text", ""), field: "body.main_title.title"},
		{desc: "news_notice without main_title", card: cardWith(t, nn, "main_title", ""), field: "body.main_title.title"},
		{desc: "button_interaction with an empty main_title", card: cardWith(t, bi, "main_title", `{"desc":"d"}`), field: "body.main_title.title"},
		{desc: "vote_interaction without main_title", card: cardWith(t, vi, "main_title", ""), field: "body.main_title.title"},
		{desc: "multiple_interaction without main_title", card: cardWith(t, mi, "main_title", ""), field: "body.main_title.title"},
		{desc: "emphasis_content title of 15 characters", card: cardWith(t, tn, "emphasis_content", `{"title":`+q(long(15))+`}`), field: "body.emphasis_content.title"},
		{desc: "emphasis_content desc of 23 characters", card: cardWith(t, tn, "emphasis_content", `{"title":"1","desc":`+q(long(23))+`}`), field: "body.emphasis_content.desc"},
		{desc: "sub_title_text of 161 characters", card: cardWith(t, tn, "sub_title_text", q(long(161))), field: "body.sub_title_text"},
		{desc: "sub_title_text with a control character", card: cardWith(t, tn, "sub_title_text", `"a\u0002b"`), field: "body.sub_title_text"},
		{desc: "quote_area type 1 without url", card: cardWith(t, tn, "quote_area", `{"type":1,"title":"t"}`), field: "body.quote_area.url"},
		{desc: "quote_area type 2 without appid", card: cardWith(t, tn, "quote_area", `{"type":2,"pagepath":"p"}`), field: "body.quote_area.appid"},
		{desc: "quote_area type 3", card: cardWith(t, tn, "quote_area", `{"type":3}`), field: "body.quote_area.type"},
		{desc: "quote_area type as a string", card: cardWith(t, tn, "quote_area", `{"type":"1","url":"https://x"}`), field: "body.quote_area.type"},
		{desc: "seven horizontal items", card: cardWith(t, tn, "horizontal_content_list", repeatJSON(7, `{"keyname":"k%d"}`)), field: "body.horizontal_content_list"},
		{desc: "horizontal item without keyname", card: cardWith(t, tn, "horizontal_content_list", `[{"keyname":"k"},{"value":"v"}]`), field: "body.horizontal_content_list[1].keyname"},
		{desc: "horizontal link without url", card: cardWith(t, tn, "horizontal_content_list", `[{"keyname":"k","type":1}]`), field: "body.horizontal_content_list[0].url"},
		{desc: "horizontal attachment without media_id", card: cardWith(t, tn, "horizontal_content_list", `[{"keyname":"k","type":2}]`), field: "body.horizontal_content_list[0].media_id"},
		{desc: "horizontal member without userid", card: cardWith(t, tn, "horizontal_content_list", `[{"keyname":"k","type":3}]`), field: "body.horizontal_content_list[0].userid"},
		{desc: "horizontal type 4", card: cardWith(t, tn, "horizontal_content_list", `[{"keyname":"k","type":4}]`), field: "body.horizontal_content_list[0].type"},
		{desc: "horizontal list not an array", card: cardWith(t, tn, "horizontal_content_list", `{"keyname":"k"}`), field: "body.horizontal_content_list"},
		{desc: "four jumps", card: cardWith(t, tn, "jump_list", repeatJSON(4, `{"title":"j%d"}`)), field: "body.jump_list"},
		{desc: "jump without title", card: cardWith(t, tn, "jump_list", `[{"type":1,"url":"https://x"}]`), field: "body.jump_list[0].title"},
		{desc: "jump to a mini-program without appid", card: cardWith(t, tn, "jump_list", `[{"title":"t"},{"type":2,"title":"t","pagepath":"p"}]`), field: "body.jump_list[1].appid"},
		{desc: "jump url without protocol", card: cardWith(t, tn, "jump_list", `[{"type":1,"title":"t","url":"x.example"}]`), field: "body.jump_list[0].url"},

		// card_action.
		{desc: "text_notice without card_action", card: cardWith(t, tn, "card_action", ""), field: "body.card_action"},
		{desc: "news_notice without card_action", card: cardWith(t, nn, "card_action", ""), field: "body.card_action"},
		{desc: "text_notice card_action without type", card: cardWith(t, tn, "card_action", `{"url":"https://x"}`), field: "body.card_action.type"},
		{desc: "text_notice card_action type 0", card: cardWith(t, tn, "card_action", `{"type":0}`), field: "body.card_action.type"},
		{desc: "card_action url without url", card: cardWith(t, tn, "card_action", `{"type":1}`), field: "body.card_action.url"},
		{desc: "card_action mini-program without appid", card: cardWith(t, nn, "card_action", `{"type":2,"pagepath":"p"}`), field: "body.card_action.appid"},
		{desc: "button_interaction card_action type 3", card: cardWith(t, bi, "card_action", `{"type":3}`), field: "body.card_action.type"},

		// news_notice.
		{desc: "news_notice without an image", card: cardWith(t, nn, "card_image", "", "image_text_area", ""), field: "body.card_image"},
		{desc: "card_image without url", card: cardWith(t, nn, "card_image", `{"aspect_ratio":1.5}`), field: "body.card_image.url"},
		{desc: "card_image aspect_ratio 2.26", card: cardWith(t, nn, "card_image", `{"url":"https://x","aspect_ratio":2.26}`), field: "body.card_image.aspect_ratio"},
		{desc: "card_image aspect_ratio 1.29", card: cardWith(t, nn, "card_image", `{"url":"https://x","aspect_ratio":1.29}`), field: "body.card_image.aspect_ratio"},
		{desc: "card_image aspect_ratio a string", card: cardWith(t, nn, "card_image", `{"url":"https://x","aspect_ratio":"2"}`), field: "body.card_image.aspect_ratio"},
		{desc: "image_text_area without image_url", card: cardWith(t, nn, "image_text_area", `{"title":"t"}`), field: "body.image_text_area.image_url"},
		{desc: "image_text_area link without url", card: cardWith(t, nn, "image_text_area", `{"type":1,"image_url":"https://x"}`), field: "body.image_text_area.url"},
		{desc: "five vertical items", card: cardWith(t, nn, "vertical_content_list", repeatJSON(5, `{"title":"v%d"}`)), field: "body.vertical_content_list"},
		{desc: "vertical item without title", card: cardWith(t, nn, "vertical_content_list", `[{"desc":"d"}]`), field: "body.vertical_content_list[0].title"},

		// button_interaction.
		{desc: "no button_list", card: cardWith(t, bi, "button_list", ""), field: "body.button_list"},
		{desc: "empty button_list", card: cardWith(t, bi, "button_list", `[]`), field: "body.button_list"},
		{desc: "seven buttons", card: cardWith(t, bi, "button_list", repeatJSON(7, `{"text":"b%d","key":"k%d"}`)), field: "body.button_list"},
		{desc: "button without text", card: cardWith(t, bi, "button_list", `[{"key":"k"}]`), field: "body.button_list[0].text"},
		{desc: "callback button without key", card: cardWith(t, bi, "button_list", `[{"text":"a","key":"k"},{"text":"b"}]`), field: "body.button_list[1].key"},
		{desc: "button keys repeated", card: cardWith(t, bi, "button_list", `[{"text":"a","key":"k"},{"text":"b","key":"k"}]`), field: "body.button_list[1].key"},
		{desc: "button key of 1025 bytes", card: cardWith(t, bi, "button_list", `[{"text":"a","key":`+q(strings.Repeat("k", 1025))+`}]`), field: "body.button_list[0].key"},
		{desc: "url button without url", card: cardWith(t, bi, "button_list", `[{"type":1,"text":"a"}]`), field: "body.button_list[0].url"},
		{desc: "button type 2", card: cardWith(t, bi, "button_list", `[{"type":2,"text":"a","key":"k"}]`), field: "body.button_list[0].type"},
		{desc: "button style 5", card: cardWith(t, bi, "button_list", `[{"text":"a","key":"k","style":5}]`), field: "body.button_list[0].style"},
		{desc: "button_selection without question_key", card: cardWith(t, bi, "button_selection", `{"option_list":[{"id":"a","text":"A"}]}`), field: "body.button_selection.question_key"},
		{desc: "button_selection without options", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[]}`), field: "body.button_selection.option_list"},
		{desc: "button_selection of eleven options", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":`+repeatJSON(11, `{"id":"o%d","text":"t"}`)+`}`), field: "body.button_selection.option_list"},
		{desc: "option without id", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[{"text":"A"}]}`), field: "body.button_selection.option_list[0].id"},
		{desc: "option without text", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[{"id":"a"}]}`), field: "body.button_selection.option_list[0].text"},
		{desc: "option ids repeated", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[{"id":"a","text":"A"},{"id":"a","text":"B"}]}`), field: "body.button_selection.option_list[1].id"},
		{desc: "option id of 129 bytes", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[{"id":`+q(strings.Repeat("o", 129))+`,"text":"A"}]}`), field: "body.button_selection.option_list[0].id"},
		{desc: "selected_id not an option", card: cardWith(t, bi, "button_selection", `{"question_key":"q","option_list":[{"id":"a","text":"A"}],"selected_id":"b"}`), field: "body.button_selection.selected_id"},
		{desc: "replace_text not a string", card: cardWith(t, bi, "replace_text", `true`), field: "body.replace_text"},

		// vote_interaction.
		{desc: "vote without checkbox", card: cardWith(t, vi, "checkbox", ""), field: "body.checkbox"},
		{desc: "checkbox without question_key", card: cardWith(t, vi, "checkbox", `{"option_list":[{"id":"a","text":"A"}]}`), field: "body.checkbox.question_key"},
		{desc: "checkbox of 21 options", card: cardWith(t, vi, "checkbox", `{"question_key":"q","option_list":`+repeatJSON(21, `{"id":"o%d","text":"t"}`)+`}`), field: "body.checkbox.option_list"},
		{desc: "checkbox mode 2", card: cardWith(t, vi, "checkbox", `{"question_key":"q","option_list":[{"id":"a","text":"A"}],"mode":2}`), field: "body.checkbox.mode"},
		{desc: "checkbox is_checked not a boolean", card: cardWith(t, vi, "checkbox", `{"question_key":"q","option_list":[{"id":"a","text":"A","is_checked":1}]}`), field: "body.checkbox.option_list[0].is_checked"},
		{desc: "checkbox option ids repeated", card: cardWith(t, vi, "checkbox", `{"question_key":"q","option_list":[{"id":"a","text":"A"},{"id":"b","text":"B"},{"id":"b","text":"C"}]}`), field: "body.checkbox.option_list[2].id"},
		{desc: "vote without submit_button", card: cardWith(t, vi, "submit_button", ""), field: "body.submit_button"},
		{desc: "submit_button without key", card: cardWith(t, vi, "submit_button", `{"text":"提交"}`), field: "body.submit_button.key"},
		{desc: "submit_button without text", card: cardWith(t, vi, "submit_button", `{"key":"k"}`), field: "body.submit_button.text"},

		// multiple_interaction.
		{desc: "multiple without select_list", card: cardWith(t, mi, "select_list", ""), field: "body.select_list"},
		{desc: "four selects", card: cardWith(t, mi, "select_list", repeatJSON(4, `{"question_key":"q%d","option_list":[{"id":"o","text":"t"}]}`)), field: "body.select_list"},
		{desc: "select question_keys repeated", card: cardWith(t, mi, "select_list", `[{"question_key":"q","option_list":[{"id":"o","text":"t"}]},{"question_key":"q","option_list":[{"id":"o","text":"t"}]}]`), field: "body.select_list[1].question_key"},
		{desc: "select without options", card: cardWith(t, mi, "select_list", `[{"question_key":"q1","option_list":[{"id":"o","text":"t"}]},{"question_key":"q2"}]`), field: "body.select_list[1].option_list"},
		{desc: "select selected_id not an option", card: cardWith(t, mi, "select_list", `[{"question_key":"q1","selected_id":"x","option_list":[{"id":"o","text":"t"}]}]`), field: "body.select_list[0].selected_id"},
		{desc: "multiple without submit_button", card: cardWith(t, mi, "submit_button", ""), field: "body.submit_button"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			checkValidation(t, providers.Message{App: "app", To: providers.Recipients{Users: []string{"a"}}, Kind: providers.KindCard, Body: json.RawMessage(tt.card)}, tt.field)
		})
	}
}

// checkCard says which cards need a task_id and keeps the one given.
func TestCardInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		card      string
		wantID    string
		wantNeeds bool
	}{
		{desc: "text_notice", card: cardWith(t, "text_notice")},
		{desc: "text_notice with its own task_id", card: cardWith(t, "text_notice", "task_id", `"mine"`), wantID: "mine"},
		{desc: "text_notice with action_menu", card: cardWith(t, "text_notice", "action_menu", `{"action_list":[{"text":"t","key":"k"}]}`), wantNeeds: true},
		{desc: "news_notice", card: cardWith(t, "news_notice")},
		{desc: "button_interaction", card: cardWith(t, "button_interaction"), wantID: "task_id_0001", wantNeeds: true},
		{desc: "vote_interaction without task_id", card: cardWith(t, "vote_interaction", "task_id", ""), wantNeeds: true},
		{desc: "multiple_interaction", card: cardWith(t, "multiple_interaction"), wantID: "task_id_multiple_0001", wantNeeds: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := &checker{}
			info := checkCard(c, "body", json.RawMessage(tt.card))
			if c.err != nil {
				t.Fatal(c.err)
			}
			if info.taskID != tt.wantID || info.needsTaskID != tt.wantNeeds {
				t.Errorf("info = %+v, want task_id %q needs %v", info, tt.wantID, tt.wantNeeds)
			}
		})
	}
}
