package wecomsim

import "maps"

// Error codes of template_card fields (42027–42051), mini-program notices
// (90200–90204) and URLs (45034), from WeCom's global error-code table (doc
// 90313, as crawled into xen0n/go-workwx errcodes/mod.go, the table
// WeCom's API documentation cites). Which check answers which code where the table is
// vague is listed in the package documentation.
const (
	// CodeCardKeyNameMissing (42027) Template_Card.horizontal_content_list.keyname 字段缺失.
	CodeCardKeyNameMissing = 42027
	// CodeCardURLMissing (42028) Template_Card 缺失 Url: card_action,
	// horizontal_content_list, jump_list, quote_area, image_text_area or a
	// button of type 1 without url.
	CodeCardURLMissing = 42028
	// CodeCardMediaIDMissing (42029) Template_Card.horizontal_content_list.mediaid 字段缺失.
	CodeCardMediaIDMissing = 42029
	// CodeCardAppIDMissing (42030) Template_Card 缺失 appid: card_action,
	// jump_list, quote_area or image_text_area of type 2 without appid.
	CodeCardAppIDMissing = 42030
	// CodeCardTitleMissing (42033) Template_Card 缺失 Title: a
	// vertical_content_list or jump_list entry, or the card's main_title.
	CodeCardTitleMissing = 42033
	// CodeCardHorizontalListLength (42035) horizontal_content_list 数组长度不合法 (> 6).
	CodeCardHorizontalListLength = 42035
	// CodeCardVerticalListLength (42036) vertical_content_list 数组长度不合法 (> 4).
	CodeCardVerticalListLength = 42036
	// CodeCardOptionListLength (42037) option_list 数组长度不合法 (0, or more
	// than 10 in a drop-down, 20 in a checkbox).
	CodeCardOptionListLength = 42037
	// CodeCardButtonText (42038) button_list.text 缺失或不合法.
	CodeCardButtonText = 42038
	// CodeCardOptionID (42040) option_list.id 缺失或不合法 (missing, over 128
	// bytes or repeated).
	CodeCardOptionID = 42040
	// CodeCardOptionText (42041) option_list.text 缺失或不合法.
	CodeCardOptionText = 42041
	// CodeCardJumpListLength (42042) jump_list 数组长度不合法 (> 3).
	CodeCardJumpListLength = 42042
	// CodeCardQuestionKey (42043) question_Key 缺失或不合法 (missing, over 1024
	// bytes, repeated in select_list, or no checkbox at all).
	CodeCardQuestionKey = 42043
	// CodeCardImage (42044) card_image.url 缺失或不合法: also a news_notice with
	// neither card_image nor image_text_area, an aspect_ratio outside
	// 1.3–2.25, or an image_text_area without image_url.
	CodeCardImage = 42044
	// CodeCardAction (42045) card_action 缺失或不合法.
	CodeCardAction = 42045
	// CodeCardSubmitKey (42046) submit_button.key 缺失或不合法 (also no
	// submit_button at all).
	CodeCardSubmitKey = 42046
	// CodeCardSelectListLength (42047) select_list 数组长度不合法 (0 or > 3).
	CodeCardSelectListLength = 42047
	// CodeCardSubmitText (42049) submit_button.text 缺失或不合法.
	CodeCardSubmitText = 42049
	// CodeCardUserID (42050) horizontal_content_list.userid 缺失或不合法.
	CodeCardUserID = 42050
	// CodeCardActionKeyConflict (42051) action_menu.action_list.key key冲突.
	CodeCardActionKeyConflict = 42051
	// CodeURLWithoutScheme (45034) url必须有协议头: a textcard or news url that
	// is not http(s).
	CodeURLWithoutScheme = 45034
	// CodeMiniAppIDMissing (90200) 缺少小程序appid参数.
	CodeMiniAppIDMissing = 90200
	// CodeMiniTooManyItems (90201) 小程序通知的content_item个数超过限制 (> 10).
	CodeMiniTooManyItems = 90201
	// CodeMiniKeyLength (90202) 小程序通知中的key长度不合法 (empty or > 10 characters).
	CodeMiniKeyLength = 90202
	// CodeMiniValueLength (90203) 小程序通知中的value长度不合法 (empty or > 30 characters).
	CodeMiniValueLength = 90203
	// CodeMiniPage (90204) 小程序通知中的page参数不合法 (> 1024 bytes).
	CodeMiniPage = 90204
)

func init() {
	maps.Copy(errMsgs, map[int]string{
		CodeCardKeyNameMissing:       "Template_Card.horizontal_content_list.keyname missing",
		CodeCardURLMissing:           "Template_Card url missing",
		CodeCardMediaIDMissing:       "Template_Card.horizontal_content_list.media_id missing",
		CodeCardAppIDMissing:         "Template_Card appid missing",
		CodeCardTitleMissing:         "Template_Card title missing",
		CodeCardHorizontalListLength: "invalid Template_Card.horizontal_content_list size",
		CodeCardVerticalListLength:   "invalid Template_Card.vertical_content_list size",
		CodeCardOptionListLength:     "invalid Template_Card.option_list size",
		CodeCardButtonText:           "invalid Template_Card.button_list.text",
		CodeCardOptionID:             "invalid Template_Card.option_list.id",
		CodeCardOptionText:           "invalid Template_Card.option_list.text",
		CodeCardJumpListLength:       "invalid Template_Card.jump_list size",
		CodeCardQuestionKey:          "invalid Template_Card.question_key",
		CodeCardImage:                "invalid Template_Card.card_image.url",
		CodeCardAction:               "invalid Template_Card.card_action",
		CodeCardSubmitKey:            "invalid Template_Card.submit_button.key",
		CodeCardSelectListLength:     "invalid Template_Card.select_list size",
		CodeCardSubmitText:           "invalid Template_Card.submit_button.text",
		CodeCardUserID:               "invalid Template_Card.horizontal_content_list.userid",
		CodeCardActionKeyConflict:    "Template_Card.action_menu.action_list.key conflict",
		CodeURLWithoutScheme:         "url must have a scheme (http/https)",
		CodeMiniAppIDMissing:         "miniprogram appid missing",
		CodeMiniTooManyItems:         "miniprogram_notice content_item size out of limit",
		CodeMiniKeyLength:            "invalid miniprogram_notice key length",
		CodeMiniValueLength:          "invalid miniprogram_notice value length",
		CodeMiniPage:                 "invalid miniprogram_notice page",
	})
}
