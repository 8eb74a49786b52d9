package wecom

import (
	"encoding/json"
	"slices"
	"strings"
)

// Field limits of template_card (WeCom's API documentation; key and id lengths from
// the doc 90372 field table the spec cites, zsmhub/workweixin).
const (
	maxMainTitleChars     = 36
	maxMainDescChars      = 44
	maxEmphasisTitleChars = 14
	maxEmphasisDescChars  = 22
	maxSubTitleChars      = 160
	maxHorizontalItems    = 6  // errcode 42035
	maxJumpItems          = 3  // errcode 42042
	maxVerticalItems      = 4  // errcode 42036
	maxButtons            = 6  // button_list
	maxSelectOptions      = 10 // button_selection, select_list option_list (errcode 42037)
	maxCheckboxOptions    = 20 // checkbox option_list (errcode 42037)
	maxSelects            = 3  // select_list (errcode 42047)
	minMenuActions        = 1  // action_menu.action_list
	maxMenuActions        = 3
	maxKeyBytes           = 1024 // action, button, submit and question keys
	maxOptionIDBytes      = 128
	minAspectRatio        = 1.3
	maxAspectRatio        = 2.25
	maxTaskIDBytes        = 128
	taskIDAlphabet        = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-@"
	cardTypeList          = "text_notice, news_notice, button_interaction, vote_interaction, multiple_interaction"
)

// cardKeys are the fields each card type takes (WeCom's API documentation, grouped as
// shenghui0779/sdk-go corp/message/template_card.go groups them).
var cardKeys = func() map[CardType][]string {
	common := []string{"card_type", "task_id", "source", "main_title"}
	with := func(keys ...string) []string { return append(slices.Clone(common), keys...) }
	return map[CardType][]string{
		CardTextNotice: with("action_menu", "quote_area", "emphasis_content", "sub_title_text",
			"horizontal_content_list", "jump_list", "card_action"),
		CardNewsNotice: with("action_menu", "quote_area", "image_text_area", "card_image",
			"vertical_content_list", "horizontal_content_list", "jump_list", "card_action"),
		CardButtonInteraction: with("action_menu", "quote_area", "sub_title_text", "horizontal_content_list",
			"card_action", "button_selection", "button_list", "replace_text"),
		CardVoteInteraction:     with("checkbox", "submit_button", "replace_text"),
		CardMultipleInteraction: with("select_list", "submit_button", "replace_text"),
	}
}()

// allCardKeys is every field of any card type.
var allCardKeys = func() []string {
	var all []string
	for _, keys := range cardKeys {
		for _, k := range keys {
			if !slices.Contains(all, k) {
				all = append(all, k)
			}
		}
	}
	slices.Sort(all)
	return all
}()

// Keys of the card's sub-objects.
var (
	selectKeys = []string{"question_key", "title", "option_list", "selected_id", "disable"}
	urlActKeys = []string{"type", "url", "appid", "pagepath"}
)

// cardInfo is what Prepare needs to know of a validated card.
type cardInfo struct {
	// taskID is the card's task_id as given; "" when absent or empty.
	taskID string
	// needsTaskID: WeCom requires a task_id (an interaction card, or one with
	// action_menu).
	needsTaskID bool
}

// isInteraction reports whether ct is one of the three interaction types.
func isInteraction(ct CardType) bool {
	switch ct {
	case CardButtonInteraction, CardVoteInteraction, CardMultipleInteraction:
		return true
	}
	return false
}

// validTaskIDChars reports whether s is made of [0-9A-Za-z_@-] only.
func validTaskIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(taskIDAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// checkCard validates the template_card object raw at path (WeCom's API documentation
// §2.4) and returns what Prepare needs of it, or nil after an error.
func checkCard(c *checker, path string, raw json.RawMessage) *cardInfo {
	root := c.parseObject(path, raw, allCardKeys)
	if root == nil {
		return nil
	}
	ct := CardType(root.text("card_type", textRule{required: true, missing: 42031}))
	if c.failed() {
		return nil
	}
	keys, ok := cardKeys[ct]
	if !ok {
		c.fail(root.field("card_type"), "unknown card_type %q: want one of %s (errcode 42031)", ct, cardTypeList)
		return nil
	}
	present := make([]string, 0, len(root.m))
	for k := range root.m {
		present = append(present, k)
	}
	slices.Sort(present)
	for _, k := range present {
		if !slices.Contains(keys, k) {
			c.fail(root.field(k), "not a field of %s cards, which take %s", ct, strings.Join(keys, ", "))
			return nil
		}
	}
	o := root
	info := &cardInfo{needsTaskID: isInteraction(ct)}

	// task_id: optional here; Prepare generates one where WeCom requires it.
	if id := o.text("task_id", textRule{maxBytes: maxTaskIDBytes, code: 42014}); id != "" {
		if !validTaskIDChars(id) {
			c.fail(o.field("task_id"), "%q: WeCom takes only digits, letters and _ - @ (errcode 42014)", id)
		}
		info.taskID = id
	}

	if s := o.obj("source", []string{"icon_url", "desc", "desc_color"}); s != nil {
		s.text("icon_url", textRule{url: true})
		s.text("desc", textRule{})
		s.enum("desc_color", 0, 1, 2, 3)
	}

	if m := o.obj("action_menu", []string{"desc", "action_list"}); m != nil {
		info.needsTaskID = true
		m.text("desc", textRule{})
		actions := m.list("action_list", listRule{min: minMenuActions, max: maxMenuActions}, []string{"text", "key"})
		for _, a := range actions {
			a.text("text", textRule{required: true})
			a.text("key", textRule{required: true, maxBytes: maxKeyBytes})
		}
		unique(c, actions, "key", "action_menu key", 42051)
	}

	title := ""
	if mt := o.obj("main_title", []string{"title", "desc"}); mt != nil {
		title = mt.text("title", textRule{maxChars: maxMainTitleChars})
		mt.text("desc", textRule{maxChars: maxMainDescChars})
	}
	if qa := o.obj("quote_area", []string{"type", "url", "appid", "pagepath", "title", "quote_text"}); qa != nil {
		t := qa.enum("type", 0, 1, 2)
		checkLink(qa, t)
		qa.text("title", textRule{})
		qa.text("quote_text", textRule{})
	}
	if ec := o.obj("emphasis_content", []string{"title", "desc"}); ec != nil {
		ec.text("title", textRule{maxChars: maxEmphasisTitleChars})
		ec.text("desc", textRule{maxChars: maxEmphasisDescChars})
	}
	sub := o.text("sub_title_text", textRule{maxChars: maxSubTitleChars})
	switch {
	case ct == CardTextNotice && title == "" && sub == "":
		c.fail(o.field("main_title.title"), "required for text_notice cards without sub_title_text (不可本字段和sub_title_text都不填; errcode 42033)")
	case ct != CardTextNotice && title == "":
		c.fail(o.field("main_title.title"), "required for %s cards (errcode 42033)", ct)
	}

	for _, h := range o.list("horizontal_content_list", listRule{max: maxHorizontalItems, code: 42035},
		[]string{"type", "keyname", "value", "url", "media_id", "userid"}) {
		t := h.enum("type", 0, 1, 2, 3)
		h.text("keyname", textRule{required: true, missing: 42027})
		h.text("value", textRule{})
		h.text("url", textRule{required: t == 1, url: true, missing: 42028})
		h.text("media_id", textRule{required: t == 2, missing: 42029})
		h.text("userid", textRule{required: t == 3, missing: 42050})
	}
	for _, j := range o.list("jump_list", listRule{max: maxJumpItems, code: 42042},
		[]string{"type", "title", "url", "appid", "pagepath"}) {
		t := j.enum("type", 0, 1, 2)
		j.text("title", textRule{required: true, missing: 42033})
		checkLink(j, t)
	}

	// card_action: required, of type 1 or 2, on the two notice types.
	ca := o.obj("card_action", urlActKeys)
	switch {
	case ct != CardTextNotice && ct != CardNewsNotice:
		checkLink(ca, ca.enum("type", 0, 1, 2))
	case ca == nil:
		c.fail(o.field("card_action"), "required for %s cards (errcode 42045)", ct)
	case !ca.has("type"):
		c.fail(ca.field("type"), "required for %s cards: 1 (url) or 2 (mini-program) (errcode 42045)", ct)
	default:
		checkLink(ca, ca.enum("type", 1, 2))
	}

	switch ct {
	case CardNewsNotice:
		checkNewsNotice(o)
	case CardButtonInteraction:
		if bs := o.obj("button_selection", selectKeys); bs != nil {
			checkSelect(bs, maxSelectOptions)
		}
		buttons := o.list("button_list", listRule{min: 1, max: maxButtons}, []string{"type", "text", "style", "key", "url"})
		for _, b := range buttons {
			t := b.enum("type", 0, 1)
			b.text("text", textRule{required: true, missing: 42038})
			b.enum("style", 1, 2, 3, 4)
			b.text("key", textRule{required: t == 0, maxBytes: maxKeyBytes, missing: 42039, code: 42039})
			b.text("url", textRule{required: t == 1, url: true, missing: 42028})
		}
		unique(c, buttons, "key", "button_list key", 42039)
	case CardVoteInteraction:
		cb := o.obj("checkbox", []string{"question_key", "option_list", "mode", "disable"})
		if cb == nil {
			c.fail(o.field("checkbox"), "required for vote_interaction cards")
		}
		cb.text("question_key", textRule{required: true, maxBytes: maxKeyBytes, missing: 42043, code: 42043})
		opts := cb.list("option_list", listRule{min: 1, max: maxCheckboxOptions, code: 42037}, []string{"id", "text", "is_checked"})
		checkOptions(c, opts)
		for _, op := range opts {
			op.boolean("is_checked")
		}
		cb.enum("mode", 0, 1)
		cb.boolean("disable")
		checkSubmit(o, ct)
	case CardMultipleInteraction:
		selects := o.list("select_list", listRule{min: 1, max: maxSelects, code: 42047}, selectKeys)
		for _, s := range selects {
			checkSelect(s, maxSelectOptions)
		}
		unique(c, selects, "question_key", "select_list question_key", 42043)
		checkSubmit(o, ct)
	}
	if isInteraction(ct) {
		o.text("replace_text", textRule{})
	}
	if c.failed() {
		return nil
	}
	return info
}

// checkLink checks the url/appid/pagepath members of an object whose type
// says what a click does: 1 opens url (required), 2 opens the mini-program
// appid (required).
func checkLink(o *object, t int) {
	o.text("url", textRule{required: t == 1, url: true, missing: 42028})
	o.text("appid", textRule{required: t == 2, missing: 42030})
	o.text("pagepath", textRule{})
}

// checkNewsNotice checks image_text_area, card_image (one of them required)
// and vertical_content_list.
func checkNewsNotice(o *object) {
	ita := o.obj("image_text_area", []string{"type", "url", "appid", "pagepath", "title", "desc", "image_url"})
	if ita != nil {
		checkLink(ita, ita.enum("type", 0, 1, 2))
		ita.text("title", textRule{})
		ita.text("desc", textRule{})
		ita.text("image_url", textRule{required: true, url: true})
	}
	img := o.obj("card_image", []string{"url", "aspect_ratio"})
	if img != nil {
		img.text("url", textRule{required: true, url: true, missing: 42044})
		if r, ok := img.number("aspect_ratio"); ok && (r < minAspectRatio || r > maxAspectRatio) {
			o.c.fail(img.field("aspect_ratio"), "%v: WeCom takes %v to %v (errcode 42044)", r, minAspectRatio, maxAspectRatio)
		}
	}
	if ita == nil && img == nil {
		o.c.fail(o.field("card_image"), "news_notice cards need card_image or image_text_area (两者必填一个; errcode 42044)")
	}
	for _, v := range o.list("vertical_content_list", listRule{max: maxVerticalItems, code: 42036}, []string{"title", "desc"}) {
		v.text("title", textRule{required: true, missing: 42033})
		v.text("desc", textRule{})
	}
}

// checkSelect checks a drop-down: button_selection or a select_list entry.
func checkSelect(s *object, maxOptions int) {
	s.text("question_key", textRule{required: true, maxBytes: maxKeyBytes, missing: 42043, code: 42043})
	s.text("title", textRule{})
	opts := s.list("option_list", listRule{min: 1, max: maxOptions, code: 42037}, []string{"id", "text"})
	checkOptions(s.c, opts)
	if sel := s.text("selected_id", textRule{}); sel != "" && !s.c.failed() {
		if !slices.ContainsFunc(opts, func(op *object) bool { return op.text("id", textRule{}) == sel }) {
			s.c.fail(s.field("selected_id"), "%q is not the id of an option", sel)
		}
	}
	s.boolean("disable")
}

// checkOptions checks the ids (required, at most 128 bytes, unique) and texts
// (required) of an option_list.
func checkOptions(c *checker, opts []*object) {
	for _, op := range opts {
		op.text("id", textRule{required: true, maxBytes: maxOptionIDBytes, missing: 42040, code: 42040})
		op.text("text", textRule{required: true, missing: 42041})
	}
	unique(c, opts, "id", "option id", 42040)
}

// checkSubmit checks the submit_button the vote and multiple interaction cards
// require.
func checkSubmit(o *object, ct CardType) {
	sb := o.obj("submit_button", []string{"text", "key"})
	if sb == nil {
		o.c.fail(o.field("submit_button"), "required for %s cards (errcode 42046)", ct)
		return
	}
	sb.text("text", textRule{required: true, missing: 42049})
	sb.text("key", textRule{required: true, maxBytes: maxKeyBytes, missing: 42046, code: 42046})
}
