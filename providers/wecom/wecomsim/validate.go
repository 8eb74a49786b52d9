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

	maxMiniPageBytes  = 1024 // miniprogram_notice page
	minMiniTitleChars = 4    // miniprogram_notice title, description
	maxMiniTitleChars = 12
	maxMiniItems      = 10 // content_item
	maxMiniKeyChars   = 10
	maxMiniValueChars = 30
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
	ContentItem []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"content_item"`
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
		case !hasScheme(c.URL):
			return CodeURLWithoutScheme
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
			switch {
			case a.Title == "":
				return CodeMissingTitle
			case (a.AppID == "") != (a.PagePath == ""), a.URL == "" && a.AppID == "":
				// "appid和pagepath必须同时填写", "小程序或者url必须填写一个"
				return CodeInvalidRequestParam
			case a.URL != "" && !hasScheme(a.URL), a.PicURL != "" && !hasScheme(a.PicURL):
				return CodeURLWithoutScheme
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
		if code := b.MiniprogramNotice.check(); code != CodeOK {
			return code
		}
		m := b.MiniprogramNotice
		req.summary = m.Title
	case "template_card":
		return req.validateCard()
	default:
		return CodeInvalidMsgType
	}
	return CodeOK
}

// hasScheme reports whether a URL starts with http:// or https:// (45034
// "url必须有协议头").
func hasScheme(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// check validates a miniprogram_notice: appid (90200), title (41016; 4–12
// characters, "长度限制4-12个汉字", else 40058), description (4–12 characters
// when set, else 40058), page (≤ 1024 bytes, 90204), content_item (≤ 10,
// 90201; key 1–10 characters, 90202; value 1–30 characters, 90203).
func (m *miniObj) check() int {
	chars := utf8.RuneCountInString
	switch {
	case m == nil || m.AppID == "":
		return CodeMiniAppIDMissing
	case m.Title == "":
		return CodeMissingTitle
	case chars(m.Title) < minMiniTitleChars || chars(m.Title) > maxMiniTitleChars,
		m.Description != "" && (chars(m.Description) < minMiniTitleChars || chars(m.Description) > maxMiniTitleChars):
		return CodeInvalidRequestParam
	case len(m.Page) > maxMiniPageBytes:
		return CodeMiniPage
	case len(m.ContentItem) > maxMiniItems:
		return CodeMiniTooManyItems
	}
	for _, it := range m.ContentItem {
		switch {
		case it.Key == "" || chars(it.Key) > maxMiniKeyChars:
			return CodeMiniKeyLength
		case it.Value == "" || chars(it.Value) > maxMiniValueChars:
			return CodeMiniValueLength
		}
	}
	return CodeOK
}
