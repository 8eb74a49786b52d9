package wecom

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Message kinds of the WeCom types beyond [providers.KindText],
// [providers.KindMarkdown], [providers.KindCard] (a template_card) and
// [providers.KindRaw]. Each is the WeCom msgtype; a message of one of these
// kinds carries that msgtype's content object in [providers.Message.Body] —
// for example Kind "news" with Body {"articles":[…]} — and is validated field
// by field by [Validate] (WeCom's API documentation).
//
// They live in this package, not in providers, because their bodies are
// WeCom's own objects; other providers name their types differently.
const (
	// KindImage is an image by media id: Body {"media_id":…}.
	KindImage providers.Kind = "image"
	// KindVoice is a voice message by media id: Body {"media_id":…}.
	KindVoice providers.Kind = "voice"
	// KindVideo is a video by media id: Body {"media_id","title","description"}.
	KindVideo providers.Kind = "video"
	// KindFile is a file by media id: Body {"media_id":…}.
	KindFile providers.Kind = "file"
	// KindTextCard is a text card: Body {"title","description","url","btntxt"}.
	KindTextCard providers.Kind = "textcard"
	// KindNews is a news message of 1 to 8 linked articles: Body {"articles":[…]}.
	KindNews providers.Kind = "news"
	// KindMPNews is an mpnews message of 1 to 8 articles stored by WeCom:
	// Body {"articles":[…]}.
	KindMPNews providers.Kind = "mpnews"
	// KindMiniprogramNotice is a mini-program notice: Body
	// {"appid","page","title","description","emphasis_first_item","content_item"}.
	KindMiniprogramNotice providers.Kind = "miniprogram_notice"
)

// Content is a typed WeCom message content: one of [Text], [Markdown], [Image],
// [Voice], [Video], [File], [TextCard], [News], [MPNews], [MiniprogramNotice]
// and [TemplateCard]. [NewMessage] turns one into a [providers.Message].
type Content interface {
	// Kind is the message kind the content is sent as.
	Kind() providers.Kind
}

// NewMessage returns the message of app to "to" carrying c: Text and Markdown
// in Message.Text, every other content JSON-encoded into Message.Body (without
// HTML escaping, fields in declaration order, empty fields omitted). The
// message is not validated; [Validate] (or the producer) does that.
func NewMessage(app string, to providers.Recipients, c Content) (providers.Message, error) {
	msg := providers.Message{App: app, To: to}
	if c == nil || (reflect.ValueOf(c).Kind() == reflect.Pointer && reflect.ValueOf(c).IsNil()) {
		return msg, fmt.Errorf("wecom: NewMessage: nil content")
	}
	switch v := c.(type) {
	case Text:
		msg.Kind, msg.Text = providers.KindText, v.Content
	case *Text:
		msg.Kind, msg.Text = providers.KindText, v.Content
	case Markdown:
		msg.Kind, msg.Text = providers.KindMarkdown, v.Content
	case *Markdown:
		msg.Kind, msg.Text = providers.KindMarkdown, v.Content
	default:
		b, err := encodeJSON(c)
		if err != nil {
			return msg, fmt.Errorf("wecom: NewMessage: %w", err)
		}
		msg.Kind, msg.Body = c.Kind(), json.RawMessage(b)
	}
	return msg, nil
}

// Text is the content of a text message, sent as [providers.KindText].
type Text struct {
	// Content is at most [MaxContentBytes] bytes; <a href> links work.
	Content string `json:"content"`
}

// Kind returns [providers.KindText].
func (Text) Kind() providers.Kind { return providers.KindText }

// Markdown is the content of a markdown message, sent as
// [providers.KindMarkdown].
type Markdown struct {
	// Content is at most [MaxContentBytes] bytes of WeCom's markdown subset.
	Content string `json:"content"`
}

// Kind returns [providers.KindMarkdown].
func (Markdown) Kind() providers.Kind { return providers.KindMarkdown }

// Image is an image message's content.
type Image struct {
	// MediaID is the id of an uploaded (temporary) image. Required.
	MediaID string `json:"media_id"`
}

// Kind returns [KindImage].
func (Image) Kind() providers.Kind { return KindImage }

// Voice is a voice message's content (AMR, at most 60 s; WeCom checks the file).
type Voice struct {
	// MediaID is the id of an uploaded voice file. Required.
	MediaID string `json:"media_id"`
}

// Kind returns [KindVoice].
func (Voice) Kind() providers.Kind { return KindVoice }

// File is a file message's content.
type File struct {
	// MediaID is the id of an uploaded file. Required.
	MediaID string `json:"media_id"`
}

// Kind returns [KindFile].
func (File) Kind() providers.Kind { return KindFile }

// Video is a video message's content.
type Video struct {
	// MediaID is the id of an uploaded video. Required.
	MediaID string `json:"media_id"`
	// Title is at most 128 bytes.
	Title string `json:"title,omitempty"`
	// Description is at most 512 bytes.
	Description string `json:"description,omitempty"`
}

// Kind returns [KindVideo].
func (Video) Kind() providers.Kind { return KindVideo }

// TextCard is a text card's content.
type TextCard struct {
	// Title is required, at most 128 bytes.
	Title string `json:"title"`
	// Description is required, at most 512 bytes; WeCom renders a few
	// <div class="gray|normal|highlight"> tags.
	Description string `json:"description"`
	// URL is required: an http(s) URL of at most 2048 bytes.
	URL string `json:"url"`
	// BtnTxt is the button text, at most 4 characters; WeCom's default is "详情".
	BtnTxt string `json:"btntxt,omitempty"`
}

// Kind returns [KindTextCard].
func (TextCard) Kind() providers.Kind { return KindTextCard }

// News is a news message's content.
type News struct {
	// Articles are 1 to 8 articles.
	Articles []NewsArticle `json:"articles"`
}

// Kind returns [KindNews].
func (News) Kind() providers.Kind { return KindNews }

// NewsArticle is one article of a [News] message. It links to URL, or to a
// mini-program page when AppID and PagePath are both set (URL is then ignored
// by WeCom).
type NewsArticle struct {
	// Title is required, at most 128 bytes.
	Title string `json:"title"`
	// Description is at most 512 bytes.
	Description string `json:"description,omitempty"`
	// URL is an http(s) URL of at most 2048 bytes; required unless AppID and
	// PagePath are set.
	URL string `json:"url,omitempty"`
	// PicURL is the picture's http(s) URL, at most 2048 bytes.
	PicURL string `json:"picurl,omitempty"`
	// AppID is a mini-program associated with the app; set with PagePath.
	AppID string `json:"appid,omitempty"`
	// PagePath is the mini-program page, at most 128 bytes; set with AppID.
	PagePath string `json:"pagepath,omitempty"`
}

// MPNews is an mpnews message's content (articles kept by WeCom, shown in its
// own reader; the only type that supports safe 2, through a raw message).
type MPNews struct {
	// Articles are 1 to 8 articles.
	Articles []MPNewsArticle `json:"articles"`
}

// Kind returns [KindMPNews].
func (MPNews) Kind() providers.Kind { return KindMPNews }

// MPNewsArticle is one article of an [MPNews] message.
type MPNewsArticle struct {
	// Title is required, at most 128 bytes.
	Title string `json:"title"`
	// ThumbMediaID is the id of the uploaded cover image. Required.
	ThumbMediaID string `json:"thumb_media_id"`
	// Author is at most 64 bytes.
	Author string `json:"author,omitempty"`
	// ContentSourceURL is the http(s) page behind "阅读原文".
	ContentSourceURL string `json:"content_source_url,omitempty"`
	// Content is the article's HTML. Required, at most 666 K bytes.
	Content string `json:"content"`
	// Digest is at most 512 bytes.
	Digest string `json:"digest,omitempty"`
}

// MiniprogramNotice is a mini-program notice's content; only an app linked to
// the mini-program may send it.
type MiniprogramNotice struct {
	// AppID is the mini-program's appid. Required.
	AppID string `json:"appid"`
	// Page is the page opened on a click, at most 1024 bytes.
	Page string `json:"page,omitempty"`
	// Title is required, 4 to 12 characters.
	Title string `json:"title"`
	// Description is 4 to 12 characters.
	Description string `json:"description,omitempty"`
	// EmphasisFirstItem enlarges the first content item.
	EmphasisFirstItem bool `json:"emphasis_first_item,omitempty"`
	// ContentItem are at most 10 key/value lines.
	ContentItem []MiniprogramItem `json:"content_item,omitempty"`
}

// Kind returns [KindMiniprogramNotice].
func (MiniprogramNotice) Kind() providers.Kind { return KindMiniprogramNotice }

// MiniprogramItem is one line of a [MiniprogramNotice].
type MiniprogramItem struct {
	// Key is required, at most 10 characters.
	Key string `json:"key"`
	// Value is required, at most 30 characters.
	Value string `json:"value"`
}

// CardType is a template_card card_type.
type CardType string

// The five template_card types (WeCom's API documentation).
const (
	// CardTextNotice is 文本通知型: text with an overall click action.
	CardTextNotice CardType = "text_notice"
	// CardNewsNotice is 图文展示型: an image (card_image or image_text_area).
	CardNewsNotice CardType = "news_notice"
	// CardButtonInteraction is 按钮交互型: up to 6 buttons and a drop-down.
	CardButtonInteraction CardType = "button_interaction"
	// CardVoteInteraction is 投票选择型: one single- or multiple-choice question.
	CardVoteInteraction CardType = "vote_interaction"
	// CardMultipleInteraction is 多项选择型: up to 3 drop-downs.
	CardMultipleInteraction CardType = "multiple_interaction"
)

// TemplateCard is a template_card, sent as [providers.KindCard]. Which fields
// a card type takes, and which it requires, is listed at [Validate]; a field a
// card type does not take is an error. TaskID may be left empty: [Client.Prepare]
// generates one where WeCom requires it.
type TemplateCard struct {
	// CardType is one of the five card types. Required.
	CardType CardType `json:"card_type"`
	// TaskID is unique per app (WeCom refuses a reused one): at most 128 bytes
	// of [0-9A-Za-z_@-]. See [Client.Prepare] for generated ids and per-part
	// suffixes.
	TaskID string `json:"task_id,omitempty"`
	// Source is the line naming where the card comes from (all types).
	Source *CardSource `json:"source,omitempty"`
	// ActionMenu is the "…" menu (text_notice, news_notice,
	// button_interaction); a card with one needs a task_id.
	ActionMenu *CardActionMenu `json:"action_menu,omitempty"`
	// MainTitle is the title: required on every type but text_notice, where
	// SubTitleText may replace it.
	MainTitle *CardMainTitle `json:"main_title,omitempty"`
	// QuoteArea is a quotation block (text_notice, news_notice,
	// button_interaction).
	QuoteArea *CardQuoteArea `json:"quote_area,omitempty"`
	// EmphasisContent is the key-figure block (text_notice).
	EmphasisContent *CardEmphasisContent `json:"emphasis_content,omitempty"`
	// SubTitleText is at most 160 characters (text_notice,
	// button_interaction).
	SubTitleText string `json:"sub_title_text,omitempty"`
	// ImageTextArea is a picture-left, text-right block (news_notice; it or
	// CardImage is required).
	ImageTextArea *CardImageTextArea `json:"image_text_area,omitempty"`
	// CardImage is a picture (news_notice; it or ImageTextArea is required).
	CardImage *CardImage `json:"card_image,omitempty"`
	// VerticalContentList holds at most 4 entries (news_notice).
	VerticalContentList []CardVerticalContent `json:"vertical_content_list,omitempty"`
	// HorizontalContentList holds at most 6 lines (text_notice, news_notice,
	// button_interaction).
	HorizontalContentList []CardHorizontalContent `json:"horizontal_content_list,omitempty"`
	// JumpList holds at most 3 links (text_notice, news_notice).
	JumpList []CardJump `json:"jump_list,omitempty"`
	// CardAction is what clicking the card does: required on text_notice and
	// news_notice, optional on button_interaction.
	CardAction *CardAction `json:"card_action,omitempty"`
	// ButtonSelection is a drop-down above the buttons (button_interaction).
	ButtonSelection *CardSelect `json:"button_selection,omitempty"`
	// ButtonList holds 1 to 6 buttons (button_interaction, required).
	ButtonList []CardButton `json:"button_list,omitempty"`
	// Checkbox is the question (vote_interaction, required).
	Checkbox *CardCheckbox `json:"checkbox,omitempty"`
	// SelectList holds 1 to 3 drop-downs (multiple_interaction, required).
	SelectList []CardSelect `json:"select_list,omitempty"`
	// SubmitButton submits the answers (vote_interaction and
	// multiple_interaction, required).
	SubmitButton *CardSubmitButton `json:"submit_button,omitempty"`
	// ReplaceText is the text shown instead of the buttons once the user has
	// acted (interaction cards).
	ReplaceText string `json:"replace_text,omitempty"`
}

// Kind returns [providers.KindCard].
func (TemplateCard) Kind() providers.Kind { return providers.KindCard }

// CardSource is the card's source line.
type CardSource struct {
	// IconURL is the http(s) URL of the source icon.
	IconURL string `json:"icon_url,omitempty"`
	// Desc names the source.
	Desc string `json:"desc,omitempty"`
	// DescColor: 0 grey (default), 1 black, 2 red, 3 green.
	DescColor int `json:"desc_color,omitempty"`
}

// CardActionMenu is the "…" menu at the card's top right; its clicks come back
// as template_card_menu_event callbacks. A card with one needs a task_id.
type CardActionMenu struct {
	// Desc describes the menu.
	Desc string `json:"desc,omitempty"`
	// ActionList holds 1 to 3 actions with unique keys.
	ActionList []CardMenuAction `json:"action_list"`
}

// CardMenuAction is one entry of a [CardActionMenu].
type CardMenuAction struct {
	// Text is required.
	Text string `json:"text"`
	// Key is required, at most 1024 bytes, unique in the menu; it comes back as
	// the callback's EventKey.
	Key string `json:"key"`
}

// CardMainTitle is the card's title.
type CardMainTitle struct {
	// Title is at most 36 characters.
	Title string `json:"title,omitempty"`
	// Desc is at most 44 characters.
	Desc string `json:"desc,omitempty"`
}

// CardQuoteArea is a quotation block.
type CardQuoteArea struct {
	// Type: 0 no click action, 1 open URL, 2 open the mini-program AppID.
	Type int `json:"type,omitempty"`
	// URL is opened by type 1 (required there).
	URL string `json:"url,omitempty"`
	// AppID is the mini-program opened by type 2 (required there).
	AppID string `json:"appid,omitempty"`
	// PagePath is the mini-program page opened by type 2.
	PagePath string `json:"pagepath,omitempty"`
	// Title is the quotation's title.
	Title string `json:"title,omitempty"`
	// QuoteText is the quoted text.
	QuoteText string `json:"quote_text,omitempty"`
}

// CardEmphasisContent is the key-figure block of a text_notice card.
type CardEmphasisContent struct {
	// Title is at most 14 characters.
	Title string `json:"title,omitempty"`
	// Desc is at most 22 characters.
	Desc string `json:"desc,omitempty"`
}

// CardImageTextArea is a news_notice card's picture-left, text-right block.
type CardImageTextArea struct {
	// Type: 0 no click action, 1 open URL, 2 open the mini-program AppID.
	Type int `json:"type,omitempty"`
	// URL is opened by type 1 (required there).
	URL string `json:"url,omitempty"`
	// AppID is the mini-program opened by type 2 (required there).
	AppID string `json:"appid,omitempty"`
	// PagePath is the mini-program page opened by type 2.
	PagePath string `json:"pagepath,omitempty"`
	// Title is the text's title.
	Title string `json:"title,omitempty"`
	// Desc is the text.
	Desc string `json:"desc,omitempty"`
	// ImageURL is the picture's http(s) URL. Required.
	ImageURL string `json:"image_url"`
}

// CardImage is a news_notice card's picture.
type CardImage struct {
	// URL is the picture's http(s) URL. Required.
	URL string `json:"url"`
	// AspectRatio is width/height, from 1.3 to 2.25; WeCom's default is 1.3.
	AspectRatio float64 `json:"aspect_ratio,omitempty"`
}

// CardVerticalContent is one entry of a news_notice card's vertical list.
type CardVerticalContent struct {
	// Title is required.
	Title string `json:"title"`
	// Desc is the entry's text.
	Desc string `json:"desc,omitempty"`
}

// CardHorizontalContent is one "keyname: value" line.
type CardHorizontalContent struct {
	// Type: 0 plain, 1 link (URL), 2 attachment (MediaID), 3 member (UserID).
	Type int `json:"type,omitempty"`
	// KeyName is required.
	KeyName string `json:"keyname"`
	// Value is the text (the file name for an attachment).
	Value string `json:"value,omitempty"`
	// URL is opened by type 1 (required there).
	URL string `json:"url,omitempty"`
	// MediaID is the attachment of type 2 (required there).
	MediaID string `json:"media_id,omitempty"`
	// UserID is the member shown by type 3 (required there).
	UserID string `json:"userid,omitempty"`
}

// CardJump is one entry of the jump list.
type CardJump struct {
	// Type: 0 no link, 1 open URL, 2 open the mini-program AppID.
	Type int `json:"type,omitempty"`
	// Title is required.
	Title string `json:"title"`
	// URL is opened by type 1 (required there).
	URL string `json:"url,omitempty"`
	// AppID is the mini-program opened by type 2 (required there).
	AppID string `json:"appid,omitempty"`
	// PagePath is the mini-program page opened by type 2.
	PagePath string `json:"pagepath,omitempty"`
}

// CardAction is what clicking the card does.
type CardAction struct {
	// Type: 1 open URL, 2 open the mini-program AppID (0, no action, is allowed
	// on button_interaction cards only).
	Type int `json:"type"`
	// URL is opened by type 1 (required there).
	URL string `json:"url,omitempty"`
	// AppID is the mini-program opened by type 2 (required there).
	AppID string `json:"appid,omitempty"`
	// PagePath is the mini-program page opened by type 2.
	PagePath string `json:"pagepath,omitempty"`
}

// CardSelect is a drop-down: a button_interaction card's button_selection, or
// one entry of a multiple_interaction card's select_list.
type CardSelect struct {
	// QuestionKey is required, at most 1024 bytes (unique within select_list);
	// it comes back in the click callback.
	QuestionKey string `json:"question_key"`
	// Title is the drop-down's label.
	Title string `json:"title,omitempty"`
	// OptionList holds 1 to 10 options with unique ids.
	OptionList []CardOption `json:"option_list"`
	// SelectedID, when set, is one of the option ids.
	SelectedID string `json:"selected_id,omitempty"`
	// Disable greys the drop-down out; WeCom honours it in card updates only.
	Disable bool `json:"disable,omitempty"`
}

// CardOption is one option of a [CardSelect].
type CardOption struct {
	// ID is required, at most 128 bytes, unique in its list.
	ID string `json:"id"`
	// Text is required.
	Text string `json:"text"`
}

// CardButton is one button of a button_interaction card.
type CardButton struct {
	// Type: 0 callback (Key required), 1 open URL (URL required).
	Type int `json:"type,omitempty"`
	// Text is required.
	Text string `json:"text"`
	// Style is 1 to 4; WeCom's default is 1.
	Style int `json:"style,omitempty"`
	// Key is at most 1024 bytes, unique among the card's buttons; it comes
	// back as the callback's EventKey.
	Key string `json:"key,omitempty"`
	// URL is opened by type 1 (required there).
	URL string `json:"url,omitempty"`
}

// CardCheckbox is a vote_interaction card's question.
type CardCheckbox struct {
	// QuestionKey is required, at most 1024 bytes.
	QuestionKey string `json:"question_key"`
	// OptionList holds 1 to 20 options with unique ids.
	OptionList []CardCheckboxOption `json:"option_list"`
	// Mode: 0 single choice (default), 1 multiple choice.
	Mode int `json:"mode,omitempty"`
	// Disable greys the question out; WeCom honours it in card updates only.
	Disable bool `json:"disable,omitempty"`
}

// CardCheckboxOption is one option of a [CardCheckbox].
type CardCheckboxOption struct {
	// ID is required, at most 128 bytes, unique in the list.
	ID string `json:"id"`
	// Text is required.
	Text string `json:"text"`
	// IsChecked pre-selects the option.
	IsChecked bool `json:"is_checked,omitempty"`
}

// CardSubmitButton is the submit button of vote_interaction and
// multiple_interaction cards.
type CardSubmitButton struct {
	// Text is required.
	Text string `json:"text"`
	// Key is required, at most 1024 bytes; it comes back as the callback's
	// EventKey.
	Key string `json:"key"`
}
