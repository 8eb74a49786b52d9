package wecomsim

import "strings"

// template_card limits (doc 90236/90372 as copied in WeCom's API documentation).
const (
	maxMenuActions     = 3
	maxKeyBytes        = 1024
	maxOptionIDBytes   = 128
	maxHorizontalItems = 6
	maxJumpItems       = 3
	maxVerticalItems   = 4
	maxButtons         = 6
	maxSelectOptions   = 10
	maxCheckboxOptions = 20
	maxSelects         = 3
	minAspectRatio     = 1.3
	maxAspectRatio     = 2.25
)

// linkObj is an object whose type says what a click does: 1 opens url, 2 the
// mini-program appid (quote_area, card_action, jump_list, image_text_area).
type linkObj struct {
	Type     int    `json:"type"`
	URL      string `json:"url"`
	AppID    string `json:"appid"`
	PagePath string `json:"pagepath"`
	Title    string `json:"title"`
}

type optionObj struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

type selectObj struct {
	QuestionKey string      `json:"question_key"`
	Title       string      `json:"title"`
	SelectedID  string      `json:"selected_id"`
	OptionList  []optionObj `json:"option_list"`
}

// cardObj is a template_card (doc 90236 模板卡片消息), every field of every card
// type; fields a card type does not take are ignored, as WeCom ignores unknown
// fields.
type cardObj struct {
	CardType string `json:"card_type"`
	TaskID   string `json:"task_id"`
	Source   *struct {
		DescColor int `json:"desc_color"`
	} `json:"source"`
	ActionMenu *struct {
		ActionList []struct {
			Text string `json:"text"`
			Key  string `json:"key"`
		} `json:"action_list"`
	} `json:"action_menu"`
	MainTitle *struct {
		Title string `json:"title"`
		Desc  string `json:"desc"`
	} `json:"main_title"`
	QuoteArea             *linkObj `json:"quote_area"`
	SubTitleText          string   `json:"sub_title_text"`
	HorizontalContentList []struct {
		Type    int    `json:"type"`
		KeyName string `json:"keyname"`
		URL     string `json:"url"`
		MediaID string `json:"media_id"`
		UserID  string `json:"userid"`
	} `json:"horizontal_content_list"`
	JumpList      []linkObj `json:"jump_list"`
	CardAction    *linkObj  `json:"card_action"`
	ImageTextArea *struct {
		linkObj
		ImageURL string `json:"image_url"`
	} `json:"image_text_area"`
	CardImage *struct {
		URL         string   `json:"url"`
		AspectRatio *float64 `json:"aspect_ratio"`
	} `json:"card_image"`
	VerticalContentList []struct {
		Title string `json:"title"`
	} `json:"vertical_content_list"`
	ButtonSelection *selectObj `json:"button_selection"`
	ButtonList      []struct {
		Type int    `json:"type"`
		Text string `json:"text"`
		Key  string `json:"key"`
		URL  string `json:"url"`
	} `json:"button_list"`
	Checkbox *struct {
		QuestionKey string      `json:"question_key"`
		OptionList  []optionObj `json:"option_list"`
		Mode        int         `json:"mode"`
	} `json:"checkbox"`
	SelectList   []selectObj `json:"select_list"`
	SubmitButton *struct {
		Text string `json:"text"`
		Key  string `json:"key"`
	} `json:"submit_button"`
}

// validateCard checks a template_card the way WeCom is documented to, in this
// order: card_type (42031); task_id, required for the interaction types and
// with action_menu, 1–128 bytes of [0-9A-Za-z_-@] (42014); action_menu (1–3
// actions with text and key → 40058, repeated keys → 42051); the title
// (main_title.title, or for text_notice sub_title_text → 42033); quote_area,
// horizontal_content_list, jump_list, card_action; then the fields of the card
// type. Reuse of a task_id is checked by the handler. It fills summary,
// interactive and taskID.
func (req *sendReq) validateCard() int {
	c := req.b.TemplateCard
	if c == nil || !cardTypes[c.CardType] {
		return CodeInvalidCardType
	}
	req.interactive = strings.Contains(interactionCards, c.CardType)
	if c.TaskID != "" {
		if len(c.TaskID) > maxTaskIDBytes || !taskIDRe.MatchString(c.TaskID) {
			return CodeInvalidTaskID
		}
	} else if req.interactive || c.ActionMenu != nil {
		return CodeInvalidTaskID
	}
	req.taskID = c.TaskID
	if code := c.checkCommon(); code != CodeOK {
		return code
	}
	var code int
	switch c.CardType {
	case "news_notice":
		code = c.checkNewsNotice()
	case "button_interaction":
		code = c.checkButtons()
	case "vote_interaction":
		code = c.checkVote()
	case "multiple_interaction":
		code = c.checkMultiple()
	}
	if code != CodeOK {
		return code
	}
	switch {
	case c.MainTitle != nil && c.MainTitle.Title != "":
		req.summary = c.MainTitle.Title
	default:
		req.summary = c.SubTitleText
	}
	return CodeOK
}

// checkLink checks an object whose type 1 needs url and type 2 appid; types
// outside allowed → badType.
func checkLink(l *linkObj, badType int, allowed ...int) int {
	if l == nil {
		return CodeOK
	}
	ok := false
	for _, t := range allowed {
		ok = ok || l.Type == t
	}
	switch {
	case !ok:
		return badType
	case l.Type == 1 && l.URL == "":
		return CodeCardURLMissing
	case l.Type == 2 && l.AppID == "":
		return CodeCardAppIDMissing
	}
	return CodeOK
}

// checkCommon checks the fields several card types share.
func (c *cardObj) checkCommon() int {
	if c.Source != nil && (c.Source.DescColor < 0 || c.Source.DescColor > 3) {
		return CodeInvalidRequestParam
	}
	if m := c.ActionMenu; m != nil {
		if len(m.ActionList) == 0 || len(m.ActionList) > maxMenuActions {
			return CodeInvalidRequestParam
		}
		seen := map[string]bool{}
		for _, a := range m.ActionList {
			switch {
			case a.Text == "" || a.Key == "" || len(a.Key) > maxKeyBytes:
				return CodeInvalidRequestParam
			case seen[a.Key]:
				return CodeCardActionKeyConflict
			}
			seen[a.Key] = true
		}
	}
	hasTitle := c.MainTitle != nil && c.MainTitle.Title != ""
	if !hasTitle && (c.CardType != "text_notice" || c.SubTitleText == "") {
		return CodeCardTitleMissing
	}
	if code := checkLink(c.QuoteArea, CodeInvalidRequestParam, 0, 1, 2); code != CodeOK {
		return code
	}
	if len(c.HorizontalContentList) > maxHorizontalItems {
		return CodeCardHorizontalListLength
	}
	for _, h := range c.HorizontalContentList {
		switch {
		case h.KeyName == "":
			return CodeCardKeyNameMissing
		case h.Type < 0 || h.Type > 3:
			return CodeInvalidRequestParam
		case h.Type == 1 && h.URL == "":
			return CodeCardURLMissing
		case h.Type == 2 && h.MediaID == "":
			return CodeCardMediaIDMissing
		case h.Type == 3 && h.UserID == "":
			return CodeCardUserID
		}
	}
	if len(c.JumpList) > maxJumpItems {
		return CodeCardJumpListLength
	}
	for i := range c.JumpList {
		if c.JumpList[i].Title == "" {
			return CodeCardTitleMissing
		}
		if code := checkLink(&c.JumpList[i], CodeInvalidRequestParam, 0, 1, 2); code != CodeOK {
			return code
		}
	}
	// card_action: "text_notice卡片模版中该字段取值范围为[1,2]"; required on the
	// two notice types.
	if c.CardType == "text_notice" || c.CardType == "news_notice" {
		if c.CardAction == nil {
			return CodeCardAction
		}
		return checkLink(c.CardAction, CodeCardAction, 1, 2)
	}
	return checkLink(c.CardAction, CodeCardAction, 0, 1, 2)
}

// checkNewsNotice: card_image or image_text_area ("两者必填一个"), and the
// vertical list.
func (c *cardObj) checkNewsNotice() int {
	if c.CardImage == nil && c.ImageTextArea == nil {
		return CodeCardImage
	}
	if img := c.CardImage; img != nil {
		if img.URL == "" {
			return CodeCardImage
		}
		if r := img.AspectRatio; r != nil && (*r < minAspectRatio || *r > maxAspectRatio) {
			return CodeCardImage
		}
	}
	if ita := c.ImageTextArea; ita != nil {
		if ita.ImageURL == "" {
			return CodeCardImage
		}
		if code := checkLink(&ita.linkObj, CodeInvalidRequestParam, 0, 1, 2); code != CodeOK {
			return code
		}
	}
	if len(c.VerticalContentList) > maxVerticalItems {
		return CodeCardVerticalListLength
	}
	for _, v := range c.VerticalContentList {
		if v.Title == "" {
			return CodeCardTitleMissing
		}
	}
	return CodeOK
}

// checkOptions checks an option list of 1..max options with unique ids.
func checkOptions(opts []optionObj, max int) int {
	if len(opts) == 0 || len(opts) > max {
		return CodeCardOptionListLength
	}
	seen := map[string]bool{}
	for _, o := range opts {
		switch {
		case o.ID == "" || len(o.ID) > maxOptionIDBytes || seen[o.ID]:
			return CodeCardOptionID
		case o.Text == "":
			return CodeCardOptionText
		}
		seen[o.ID] = true
	}
	return CodeOK
}

// checkSelect checks a drop-down. A selected_id that is no option's id is not
// an error: "不填或错填默认第一个".
func checkSelect(s *selectObj) int {
	if s.QuestionKey == "" || len(s.QuestionKey) > maxKeyBytes {
		return CodeCardQuestionKey
	}
	return checkOptions(s.OptionList, maxSelectOptions)
}

// checkButtons checks a button_interaction card. A style outside 1–4 is not an
// error: "不填或错填默认1".
func (c *cardObj) checkButtons() int {
	if c.ButtonSelection != nil {
		if code := checkSelect(c.ButtonSelection); code != CodeOK {
			return code
		}
	}
	if len(c.ButtonList) == 0 || len(c.ButtonList) > maxButtons {
		return CodeInvalidRequestParam
	}
	seen := map[string]bool{}
	for _, b := range c.ButtonList {
		switch {
		case b.Text == "":
			return CodeCardButtonText
		case b.Type != 0 && b.Type != 1:
			return CodeInvalidRequestParam
		case b.Type == 1 && b.URL == "":
			return CodeCardURLMissing
		case b.Type == 0 && (b.Key == "" || len(b.Key) > maxKeyBytes || seen[b.Key]):
			return CodeInvalidButtonKey
		}
		if b.Key != "" {
			seen[b.Key] = true
		}
	}
	return CodeOK
}

// checkSubmit checks the submit button of vote and multiple interaction cards.
func (c *cardObj) checkSubmit() int {
	switch b := c.SubmitButton; {
	case b == nil || b.Key == "" || len(b.Key) > maxKeyBytes:
		return CodeCardSubmitKey
	case b.Text == "":
		return CodeCardSubmitText
	}
	return CodeOK
}

func (c *cardObj) checkVote() int {
	cb := c.Checkbox
	if cb == nil || cb.QuestionKey == "" || len(cb.QuestionKey) > maxKeyBytes {
		return CodeCardQuestionKey
	}
	if code := checkOptions(cb.OptionList, maxCheckboxOptions); code != CodeOK {
		return code
	}
	if cb.Mode != 0 && cb.Mode != 1 {
		return CodeInvalidRequestParam
	}
	return c.checkSubmit()
}

func (c *cardObj) checkMultiple() int {
	if len(c.SelectList) == 0 || len(c.SelectList) > maxSelects {
		return CodeCardSelectListLength
	}
	seen := map[string]bool{}
	for i := range c.SelectList {
		s := &c.SelectList[i]
		if seen[s.QuestionKey] {
			return CodeCardQuestionKey
		}
		seen[s.QuestionKey] = true
		if code := checkSelect(s); code != CodeOK {
			return code
		}
	}
	return c.checkSubmit()
}
