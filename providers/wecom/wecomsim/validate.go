package wecomsim

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Field limits of message/send (doc 90236, errcodes of doc 90313).
const (
	maxTextBytes     = 2048       // text.content, markdown.content
	maxMPNewsBytes   = 666 * 1024 // mpnews content
	maxAuthorBytes   = 64         // mpnews author
	maxArticles      = 8          // news / mpnews
	maxToUser        = 1000
	maxToParty       = 100
	maxToTag         = 100
	maxTaskIDBytes   = 128
	interactionCards = "button_interaction vote_interaction multiple_interaction"
)

// msgTypes are the msgtypes a self-built app may send.
var msgTypes = map[string]bool{
	"text": true, "markdown": true, "image": true, "voice": true, "video": true, "file": true,
	"textcard": true, "news": true, "mpnews": true, "miniprogram_notice": true, "template_card": true,
}

var taskIDRe = regexp.MustCompile(`^[0-9A-Za-z_\-@]+$`)

// cardTypes are template_card.card_type values.
var cardTypes = map[string]bool{
	"text_notice": true, "news_notice": true,
	"button_interaction": true, "vote_interaction": true, "multiple_interaction": true,
}

// sendBody is the JSON of a message/send request (doc 90236).
type sendBody struct {
	ToUser                 string          `json:"touser"`
	ToParty                string          `json:"toparty"`
	ToTag                  string          `json:"totag"`
	MsgType                string          `json:"msgtype"`
	AgentID                json.RawMessage `json:"agentid"`
	Safe                   int             `json:"safe"`
	EnableIDTrans          int             `json:"enable_id_trans"`
	EnableDuplicateCheck   int             `json:"enable_duplicate_check"`
	DuplicateCheckInterval int             `json:"duplicate_check_interval"`

	Text              *contentObj  `json:"text"`
	Markdown          *contentObj  `json:"markdown"`
	Image             *mediaObj    `json:"image"`
	Voice             *mediaObj    `json:"voice"`
	File              *mediaObj    `json:"file"`
	Video             *videoObj    `json:"video"`
	TextCard          *textCardObj `json:"textcard"`
	News              *newsObj     `json:"news"`
	MPNews            *mpnewsObj   `json:"mpnews"`
	MiniprogramNotice *miniObj     `json:"miniprogram_notice"`
	TemplateCard      *cardObj     `json:"template_card"`
}

type contentObj struct {
	Content string `json:"content"`
}

type mediaObj struct {
	MediaID string `json:"media_id"`
}

type videoObj struct {
	MediaID     string `json:"media_id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type textCardObj struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	BtnTxt      string `json:"btntxt"`
}

type newsObj struct {
	Articles []struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		URL         string `json:"url"`
		PicURL      string `json:"picurl"`
		AppID       string `json:"appid"`
		PagePath    string `json:"pagepath"`
	} `json:"articles"`
}

type mpnewsObj struct {
	Articles []struct {
		Title            string `json:"title"`
		ThumbMediaID     string `json:"thumb_media_id"`
		Author           string `json:"author"`
		ContentSourceURL string `json:"content_source_url"`
		Content          string `json:"content"`
		Digest           string `json:"digest"`
	} `json:"articles"`
}

type miniObj struct {
	AppID       string `json:"appid"`
	Page        string `json:"page"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type cardObj struct {
	CardType  string `json:"card_type"`
	TaskID    string `json:"task_id"`
	MainTitle *struct {
		Title string `json:"title"`
		Desc  string `json:"desc"`
	} `json:"main_title"`
	SubTitleText string          `json:"sub_title_text"`
	ActionMenu   json.RawMessage `json:"action_menu"`
	ButtonList   []struct {
		Type int    `json:"type"`
		Text string `json:"text"`
		Key  string `json:"key"`
		URL  string `json:"url"`
	} `json:"button_list"`
}

// sendReq is a parsed message/send request.
type sendReq struct {
	body     []byte
	b        sendBody
	parseErr int // 40033 / 40035: the body cannot be read at all
	agentID  int64
	agentErr int // 41011 / 40056

	all                  bool
	users, parties, tags []string
	contentErr           int // first error of msgtype, recipient counts, content
	summary              string
	interactive          bool
	taskID               string
	dupCheck             bool
	dupInterval          time.Duration
}

// parseSend parses and validates a message/send body in WeCom's order of
// checks; errors are kept per stage so the handler can answer them after the
// token and agentid checks.
func parseSend(body []byte) *sendReq {
	req := &sendReq{body: body}
	if !utf8.Valid(body) || hasUnicodeEscape(body) {
		req.parseErr = CodeInvalidChar
		return req
	}
	if err := json.Unmarshal(body, &req.b); err != nil {
		req.parseErr = CodeInvalidParam
		return req
	}
	req.agentID, req.agentErr = parseAgentID(req.b.AgentID)
	req.dupCheck = req.b.EnableDuplicateCheck == 1
	iv := int64(req.b.DuplicateCheckInterval)
	if iv <= 0 {
		iv = int64(DefaultDuplicateCheckInterval.Seconds())
	}
	iv = min(iv, int64(MaxDuplicateCheckInterval.Seconds()))
	req.dupInterval = time.Duration(iv) * time.Second
	req.contentErr = req.validate()
	return req
}

// hasUnicodeEscape reports whether the raw JSON holds a \uXXXX escape sequence
// (40033 "不能包含\uxxxx格式的字符"). An escaped backslash followed by "u" is not one.
func hasUnicodeEscape(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 < len(b) && b[i+1] == 'u' {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

// parseAgentID accepts an integer or a string of digits, as WeCom does.
func parseAgentID(raw json.RawMessage) (int64, int) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, CodeMissingAgentID
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
		if s == "" {
			return 0, CodeMissingAgentID
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, CodeInvalidAgentID
	}
	return n, CodeOK
}

// splitIDs splits a "a|b|c" list, trimming spaces (the doc's own example has
// them) and dropping empty items.
func splitIDs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "|") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// validate checks, in this order, msgtype, recipient counts and content; it
// returns the first errcode, or 0.
func (req *sendReq) validate() int {
	b := &req.b
	if !msgTypes[b.MsgType] {
		return CodeInvalidMsgType
	}
	if strings.TrimSpace(b.ToUser) == "@all" {
		req.all = true // toparty and totag are ignored
	} else {
		req.users = splitIDs(b.ToUser)
		req.parties = splitIDs(b.ToParty)
		req.tags = splitIDs(b.ToTag)
	}
	switch {
	case len(req.users) > maxToUser:
		return CodeTooManyUsers
	case len(req.parties) > maxToParty:
		return CodeTooManyParties
	case len(req.tags) > maxToTag:
		return CodeTooManyTags
	case !req.all && len(req.users) == 0 && len(req.parties) == 0 && len(req.tags) == 0:
		return CodeNoRecipients
	}
	return req.validateContent()
}

// validateContent checks the msgtype and its content object and fills summary.
func (req *sendReq) validateContent() int {
	b := &req.b
	switch b.MsgType {
	case "text", "markdown":
		c := b.Text
		if b.MsgType == "markdown" {
			c = b.Markdown
		}
		if c == nil || c.Content == "" {
			return CodeEmptyContent
		}
		if len(c.Content) > maxTextBytes {
			return CodeContentTooLong
		}
		req.summary = c.Content
	case "image", "voice", "file":
		m := map[string]*mediaObj{"image": b.Image, "voice": b.Voice, "file": b.File}[b.MsgType]
		if m == nil || m.MediaID == "" {
			return CodeMissingMediaID
		}
		req.summary = m.MediaID
	case "video":
		if b.Video == nil || b.Video.MediaID == "" {
			return CodeMissingMediaID
		}
		req.summary = b.Video.MediaID
		if b.Video.Title != "" {
			req.summary = b.Video.Title
		}
	case "textcard":
		c := b.TextCard
		switch {
		case c == nil || c.Title == "":
			return CodeMissingTitle
		case c.Description == "":
			return CodeMissingDescription
		case c.URL == "":
			return CodeMissingURL
		}
		req.summary = c.Title + "\n" + c.Description
	case "news":
		if b.Safe != 0 {
			return CodeNewsNoSafe
		}
		if b.News == nil || len(b.News.Articles) == 0 {
			return CodeInvalidRequestParam
		}
		if len(b.News.Articles) > maxArticles {
			return CodeTooManyArticles
		}
		for _, a := range b.News.Articles {
			if a.Title == "" {
				return CodeMissingTitle
			}
		}
		req.summary = b.News.Articles[0].Title
	case "mpnews":
		if b.MPNews == nil || len(b.MPNews.Articles) == 0 {
			return CodeInvalidRequestParam
		}
		if len(b.MPNews.Articles) > maxArticles {
			return CodeTooManyArticles
		}
		total := 0
		for _, a := range b.MPNews.Articles {
			switch {
			case a.Title == "":
				return CodeMissingTitle
			case a.ThumbMediaID == "":
				return CodeMissingMediaID
			case a.Content == "":
				return CodeEmptyContent
			case len(a.Author) > maxAuthorBytes:
				return CodeAuthorTooLong
			}
			total += len(a.Content)
		}
		if total > maxMPNewsBytes {
			return CodeContentTooLong
		}
		req.summary = b.MPNews.Articles[0].Title
	case "miniprogram_notice":
		m := b.MiniprogramNotice
		switch {
		case m == nil || m.AppID == "":
			return CodeInvalidRequestParam
		case m.Title == "":
			return CodeMissingTitle
		}
		req.summary = m.Title
	case "template_card":
		return req.validateCard()
	default:
		return CodeInvalidMsgType
	}
	return CodeOK
}

// validateCard checks a template_card: card_type, task_id (required for the
// interaction types and with action_menu; 1–128 bytes of [0-9A-Za-z_-@]) and
// callback button keys.
func (req *sendReq) validateCard() int {
	c := req.b.TemplateCard
	if c == nil || !cardTypes[c.CardType] {
		return CodeInvalidCardType
	}
	req.interactive = strings.Contains(interactionCards, c.CardType)
	hasMenu := len(c.ActionMenu) > 0 && string(c.ActionMenu) != "null"
	if c.TaskID != "" {
		if len(c.TaskID) > maxTaskIDBytes || !taskIDRe.MatchString(c.TaskID) {
			return CodeInvalidTaskID
		}
	} else if req.interactive || hasMenu {
		return CodeInvalidTaskID
	}
	req.taskID = c.TaskID
	if c.CardType == "button_interaction" {
		for _, btn := range c.ButtonList {
			if btn.Type == 0 && btn.Key == "" {
				return CodeInvalidButtonKey
			}
		}
	}
	switch {
	case c.MainTitle != nil && c.MainTitle.Title != "":
		req.summary = c.MainTitle.Title
	default:
		req.summary = c.SubTitleText
	}
	return CodeOK
}
