package wecomsim

import "strconv"

// WeCom error codes the simulator answers with. The texts are WeCom's global
// error-code table (doc 90313); errmsg strings are English approximations of the
// real ones and, as WeCom itself says, must never drive control flow.
const (
	// CodeSystemBusy (-1) 系统繁忙: transient, retry later. Only produced by faults.
	CodeSystemBusy = -1
	// CodeOK (0) is success.
	CodeOK = 0
	// CodeInvalidSecret (40001) 不合法的secret参数: gettoken with a wrong corpsecret.
	CodeInvalidSecret = 40001
	// CodeInvalidMsgType (40008) 不合法的msgtype参数.
	CodeInvalidMsgType = 40008
	// CodeInvalidCorpID (40013) 不合法的CorpID: gettoken with an unknown corpid.
	CodeInvalidCorpID = 40013
	// CodeInvalidToken (40014) 不合法的access_token: unknown or revoked token.
	CodeInvalidToken = 40014
	// CodeTooManyUsers (40032) 不合法的UserID列表长度: more than 1000 touser ids.
	CodeTooManyUsers = 40032
	// CodeInvalidChar (40033) 不合法的请求字符: the body holds a \uXXXX escape
	// (or is not UTF-8).
	CodeInvalidChar = 40033
	// CodeInvalidParam (40035) 不合法的参数: the body is not JSON or a field has the
	// wrong JSON type.
	CodeInvalidParam = 40035
	// CodeInvalidAgentID (40056) 不合法的agentid: not an integer, or no such app.
	CodeInvalidAgentID = 40056
	// CodeInvalidRequestParam (40058) 不合法的参数: a required field is missing, or a
	// recall names a msgid this app did not send.
	CodeInvalidRequestParam = 40058
	// CodeNewsNoSafe (40074) news消息不支持保密消息类型.
	CodeNewsNoSafe = 40074
	// CodeMissingToken (41001) 缺少access_token参数.
	CodeMissingToken = 41001
	// CodeMissingCorpID (41002) 缺少corpid参数.
	CodeMissingCorpID = 41002
	// CodeMissingSecret (41004) 缺少secret参数.
	CodeMissingSecret = 41004
	// CodeMissingMediaID (41006) 缺少media_id参数.
	CodeMissingMediaID = 41006
	// CodeMissingURL (41010) 缺少url参数 (textcard).
	CodeMissingURL = 41010
	// CodeMissingAgentID (41011) 缺少agentid参数.
	CodeMissingAgentID = 41011
	// CodeMissingTitle (41016) 缺少title参数.
	CodeMissingTitle = 41016
	// CodeMissingDescription (41033) 缺少 description 参数 (textcard).
	CodeMissingDescription = 41033
	// CodeTokenExpired (42001) access_token已过期.
	CodeTokenExpired = 42001
	// CodeInvalidTaskID (42014) 任务卡片消息的task_id不合法: missing where required,
	// badly formed, or already used by this app.
	CodeInvalidTaskID = 42014
	// CodeInvalidCardType (42031) Template_Card.CardType 字段不合法.
	CodeInvalidCardType = 42031
	// CodeInvalidButtonKey (42039) button_list.key 缺失或不合法.
	CodeInvalidButtonKey = 42039
	// CodeRecallExpired (42052) msgid已过期: recall of a message older than 24 h.
	CodeRecallExpired = 42052
	// CodeEmptyContent (44004) 文本消息content参数为空.
	CodeEmptyContent = 44004
	// CodeContentTooLong (45002) 消息内容大小超过限制 (text/markdown 2048 bytes,
	// mpnews 666 K bytes).
	CodeContentTooLong = 45002
	// CodeTooManyArticles (45008) 图文消息的文章数量不能超过8条.
	CodeTooManyArticles = 45008
	// CodeFreqLimit (45009) 接口调用超过限制. Only produced by faults.
	CodeFreqLimit = 45009
	// CodeConcurrencyLimit (45033) 接口并发调用超过限制: more than
	// Options.MaxConcurrentPerCorp requests of one corp in flight.
	CodeConcurrencyLimit = 45033
	// CodeAuthorTooLong (45032) 图文消息author参数长度超过限制 (64 bytes).
	CodeAuthorTooLong = 45032
	// CodeAllInvalid (81013) UserID、部门ID、标签ID全部非法或无权限.
	CodeAllInvalid = 81013
	// CodeNoRecipients (82001) 指定的成员/部门/标签全部为空.
	CodeNoRecipients = 82001
	// CodeTooManyParties (82002) 发消息，单次不能超过100个部门.
	CodeTooManyParties = 82002
	// CodeTooManyTags (82003) 发消息，单次不能超过100个标签.
	CodeTooManyTags = 82003
	// CodeAgentMismatch (301002) 无权限操作指定的应用: the agentid names another app
	// of the corp than the one the access_token was issued to.
	CodeAgentMismatch = 301002
	// CodeInvalidAuthCode (40078) 不合法的临时授权码: get_permanent_code with an
	// auth_code unknown, used or older than 10 minutes.
	CodeInvalidAuthCode = 40078
	// CodeInvalidSuiteSecret (40080) 不合法的suitesecret: get_suite_token with a
	// wrong suite_secret.
	CodeInvalidSuiteSecret = 40080
	// CodeInvalidSuiteToken (40082) 不合法的suite_token: unknown or missing
	// suite_access_token.
	CodeInvalidSuiteToken = 40082
	// CodeInvalidSuiteID (40083) 不合法的suiteid: get_suite_token for an unknown suite.
	CodeInvalidSuiteID = 40083
	// CodeInvalidPermanentCode (40084) 不合法的permanent_code (企业是否已取消授权该套件):
	// a wrong permanent code, or a corp that cancelled its authorisation.
	CodeInvalidPermanentCode = 40084
	// CodeInvalidSuiteTicket (40085) 不合法的suite_ticket: neither the suite's
	// current ticket nor its previous one within 30 minutes.
	CodeInvalidSuiteTicket = 40085
	// CodeSuiteTokenExpired (42009) suite_access_token已过期.
	CodeSuiteTokenExpired = 42009
	// CodeAuthInvalid (48004) 授权关系无效: message/send with a token of a corp
	// that cancelled its authorisation.
	CodeAuthInvalid = 48004
)

var errMsgs = map[int]string{
	CodeSystemBusy:           "system busy",
	CodeOK:                   "ok",
	CodeInvalidSecret:        "invalid credential",
	CodeInvalidMsgType:       "invalid message type",
	CodeInvalidCorpID:        "invalid corpid",
	CodeInvalidToken:         "invalid access_token",
	CodeTooManyUsers:         "invalid user list size",
	CodeInvalidChar:          "invalid charset. please check your request, if include \\uxxxx will create fail!",
	CodeInvalidParam:         "invalid parameter",
	CodeInvalidAgentID:       "invalid agentid",
	CodeInvalidRequestParam:  "invalid Request Parameter",
	CodeNewsNoSafe:           "news message not support safe",
	CodeMissingToken:         "access_token missing",
	CodeMissingCorpID:        "corpid missing",
	CodeMissingSecret:        "corpsecret missing",
	CodeMissingMediaID:       "media_id missing",
	CodeMissingURL:           "url missing",
	CodeMissingAgentID:       "agentid missing",
	CodeMissingTitle:         "title missing",
	CodeMissingDescription:   "description missing",
	CodeTokenExpired:         "access_token expired",
	CodeInvalidTaskID:        "invalid task_id",
	CodeInvalidCardType:      "invalid template_card.card_type",
	CodeInvalidButtonKey:     "invalid button_list.key",
	CodeRecallExpired:        "msgid expired",
	CodeEmptyContent:         "empty content",
	CodeContentTooLong:       "content size out of limit",
	CodeTooManyArticles:      "article size out of limit",
	CodeFreqLimit:            "api freq out of limit",
	CodeAuthorTooLong:        "author size out of limit",
	CodeConcurrencyLimit:     "api concurrent out of limit",
	CodeAllInvalid:           "user & party & tag all invalid",
	CodeNoRecipients:         "all touser & toparty & totag empty",
	CodeTooManyParties:       "invalid party list size",
	CodeTooManyTags:          "invalid tag list size",
	CodeAgentMismatch:        "not allow operate another agent with this accesstoken.",
	CodeInvalidAuthCode:      "invalid auth code",
	CodeInvalidSuiteSecret:   "invalid suite secret",
	CodeInvalidSuiteToken:    "invalid suite token",
	CodeInvalidSuiteID:       "invalid suite id",
	CodeInvalidPermanentCode: "invalid permanent code",
	CodeInvalidSuiteTicket:   "invalid suite ticket",
	CodeSuiteTokenExpired:    "suite_access_token expired",
	CodeAuthInvalid:          "auth relation invalid",
}

// errMsg returns the errmsg for code, shaped like WeCom's ("…, more info at …").
func errMsg(code int) string {
	msg, ok := errMsgs[code]
	if !ok {
		msg = "error"
	}
	if code == CodeOK {
		return msg
	}
	return msg + ", more info at https://open.work.weixin.qq.com/devtool/query?e=" + strconv.Itoa(code)
}
