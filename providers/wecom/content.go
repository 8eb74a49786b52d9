package wecom

import (
	"encoding/json"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Field limits of the message bodies (WeCom's API documentation). WeCom truncates some
// of these ("超过会自动截断"); this package refuses them instead, like text over
// [MaxContentBytes].
const (
	maxTitleBytes         = 128 // textcard, news, mpnews, video title
	maxDescriptionBytes   = 512 // textcard, news, video description; mpnews digest
	maxURLBytes           = 2048
	maxPagePathBytes      = 128 // news pagepath
	maxArticles           = 8   // news, mpnews (errcode 45008)
	maxAuthorBytes        = 64  // mpnews author (errcode 45032)
	maxMPNewsContentBytes = 666 * 1024
	maxBtnTxtChars        = 4
	maxMiniPageBytes      = 1024
	minMiniTitleChars     = 4
	maxMiniTitleChars     = 12
	maxMiniItems          = 10 // errcode 90201
	maxMiniKeyChars       = 10 // errcode 90202
	maxMiniValueChars     = 30 // errcode 90203
)

// kindSpec is how a typed kind's Body is validated: the keys its content object
// takes and the rules of its fields.
type kindSpec struct {
	keys  []string
	check func(o *object)
}

// kindSpecs are the typed kinds other than text, markdown and card. The
// msgtype of each is its kind.
var kindSpecs = map[providers.Kind]kindSpec{
	KindImage:             {keys: []string{"media_id"}, check: checkMedia},
	KindVoice:             {keys: []string{"media_id"}, check: checkMedia},
	KindFile:              {keys: []string{"media_id"}, check: checkMedia},
	KindVideo:             {keys: []string{"media_id", "title", "description"}, check: checkVideo},
	KindTextCard:          {keys: []string{"title", "description", "url", "btntxt"}, check: checkTextCard},
	KindNews:              {keys: []string{"articles"}, check: checkNews},
	KindMPNews:            {keys: []string{"articles"}, check: checkMPNews},
	KindMiniprogramNotice: {keys: []string{"appid", "page", "title", "description", "emphasis_first_item", "content_item"}, check: checkMiniprogram},
}

// typedContent validates the Body of a typed kind (at "body") and renders it.
func typedContent(msg *providers.Message, spec kindSpec) (*content, error) {
	if msg.Text != "" {
		return nil, providers.Invalid("text", "must be empty for kind %s (the content is in body)", msg.Kind)
	}
	if _, err := jsonObject("body", msg.Body); err != nil {
		return nil, err
	}
	c := &checker{}
	if o := c.parseObject("body", msg.Body, spec.keys); o != nil {
		spec.check(o)
	}
	if c.err != nil {
		return nil, c.err
	}
	b, err := normalizeJSON(msg.Body)
	if err != nil {
		return nil, providers.Invalid("body", "%v", err)
	}
	return &content{msgtype: string(msg.Kind), body: json.RawMessage(b)}, nil
}

func checkMedia(o *object) {
	o.text("media_id", textRule{required: true, missing: 41006})
}

func checkVideo(o *object) {
	o.text("media_id", textRule{required: true, missing: 41006})
	o.text("title", textRule{maxBytes: maxTitleBytes})
	o.text("description", textRule{maxBytes: maxDescriptionBytes})
}

func checkTextCard(o *object) {
	o.text("title", textRule{required: true, maxBytes: maxTitleBytes, missing: 41016})
	o.text("description", textRule{required: true, maxBytes: maxDescriptionBytes, missing: 41033})
	o.text("url", textRule{required: true, maxBytes: maxURLBytes, url: true, missing: 41010})
	o.text("btntxt", textRule{maxChars: maxBtnTxtChars})
}

func checkNews(o *object) {
	for _, a := range o.list("articles", listRule{min: 1, max: maxArticles, code: 45008},
		[]string{"title", "description", "url", "picurl", "appid", "pagepath"}) {
		a.text("title", textRule{required: true, maxBytes: maxTitleBytes, missing: 41016})
		a.text("description", textRule{maxBytes: maxDescriptionBytes})
		url := a.text("url", textRule{maxBytes: maxURLBytes, url: true})
		a.text("picurl", textRule{maxBytes: maxURLBytes, url: true})
		appid := a.text("appid", textRule{})
		pagepath := a.text("pagepath", textRule{maxBytes: maxPagePathBytes})
		switch {
		case appid != "" && pagepath == "":
			o.c.fail(a.field("pagepath"), "required with appid: WeCom takes appid and pagepath together (appid和pagepath必须同时填写)")
		case appid == "" && pagepath != "":
			o.c.fail(a.field("appid"), "required with pagepath: WeCom takes appid and pagepath together (appid和pagepath必须同时填写)")
		case appid == "" && url == "":
			o.c.fail(a.field("url"), "required unless appid and pagepath are set (小程序或者url必须填写一个)")
		}
	}
}

func checkMPNews(o *object) {
	for _, a := range o.list("articles", listRule{min: 1, max: maxArticles, code: 45008},
		[]string{"title", "thumb_media_id", "author", "content_source_url", "content", "digest"}) {
		a.text("title", textRule{required: true, maxBytes: maxTitleBytes, missing: 41016})
		a.text("thumb_media_id", textRule{required: true, missing: 41006})
		a.text("author", textRule{maxBytes: maxAuthorBytes, code: 45032})
		a.text("content_source_url", textRule{url: true})
		a.text("content", textRule{required: true, maxBytes: maxMPNewsContentBytes, missing: 44004, code: 45002})
		a.text("digest", textRule{maxBytes: maxDescriptionBytes})
	}
}

func checkMiniprogram(o *object) {
	o.text("appid", textRule{required: true, missing: 90200})
	o.text("page", textRule{maxBytes: maxMiniPageBytes, code: 90204})
	o.text("title", textRule{required: true, minChars: minMiniTitleChars, maxChars: maxMiniTitleChars})
	o.text("description", textRule{minChars: minMiniTitleChars, maxChars: maxMiniTitleChars})
	o.boolean("emphasis_first_item")
	for _, it := range o.list("content_item", listRule{max: maxMiniItems, code: 90201}, []string{"key", "value"}) {
		it.text("key", textRule{required: true, maxChars: maxMiniKeyChars, code: 90202})
		it.text("value", textRule{required: true, maxChars: maxMiniValueChars, code: 90203})
	}
}
