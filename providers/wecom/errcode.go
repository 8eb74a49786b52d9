package wecom

import (
	"fmt"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Throttling delays for errcodes that ask the caller to slow down.
const (
	// retryAfterFreqLimit is the delay of 45009 (接口调用超过限制): WeCom blocks a
	// minute-level overrun for 60 s (WeCom's API documentation).
	retryAfterFreqLimit = 60 * time.Second
	// retryAfterConcurrency is the delay of 45033 (接口并发调用超过限制), a per-corp
	// concurrency limit: a few seconds, jittered by the worker.
	retryAfterConcurrency = 3 * time.Second
)

// codeRule classifies the errcodes lo..hi (inclusive).
type codeRule struct {
	lo, hi int
	// class is what the code means for the call that returned it, once any token
	// refresh has been tried.
	class providers.Class
	// refresh: the code says the access token is bad; invalidate it, fetch a new
	// one and retry the call once before class applies.
	refresh bool
	// retryAfter is set on the *providers.Error of a throttled code.
	retryAfter time.Duration
	// note is the doc meaning (WeCom's API documentation), for readers of this table.
	note string
}

// errcodeTable maps every errcode of WeCom's API documentation to a class. It is
// the only place errcodes are classified; an errcode not in it is permanent.
// Codes returned by gettoken are reclassified by gettokenClass.
var errcodeTable = []codeRule{
	// Transient: retry later with backoff.
	{lo: -1, hi: -1, class: providers.ClassRetryable, note: "系统繁忙"},
	{lo: 6000, hi: 6000, class: providers.ClassRetryable, note: "数据版本冲突, 稍后重试"},
	{lo: 81026, hi: 81026, class: providers.ClassRetryable, note: "相关功能处于系统维护状态"},

	// Throttled: defer without spending the failure budget.
	{lo: 45009, hi: 45009, class: providers.ClassThrottled, retryAfter: retryAfterFreqLimit, note: "接口调用超过限制"},
	{lo: 45033, hi: 45033, class: providers.ClassThrottled, retryAfter: retryAfterConcurrency, note: "接口并发调用超过限制"},

	// Token: refresh once and retry once; if the retry fails the same way the class
	// applies. An invalid or expired token that persists after a fresh fetch is
	// retryable (the request was refused, a later attempt fetches again); 40001
	// on a business call after a fresh token means the secret was reset or the app
	// stopped, so the app is paused (§1.4 "Refresh once, then stop").
	{lo: 40014, hi: 40014, class: providers.ClassRetryable, refresh: true, note: "不合法的access_token"},
	{lo: 42001, hi: 42001, class: providers.ClassRetryable, refresh: true, note: "access_token已过期"},
	{lo: 40001, hi: 40001, class: providers.ClassAppDisabled, refresh: true, note: "不合法的secret参数 (on a business call)"},
	{lo: 42009, hi: 42009, class: providers.ClassRetryable, refresh: true, note: "suite_access_token已过期"},
	{lo: 40082, hi: 40082, class: providers.ClassRetryable, refresh: true, note: "不合法的suite_token"},
	// 41001 means the request carried no token at all: a bug, never sent by this
	// client (it refuses an empty token before sending). Fail and alert.
	{lo: 41001, hi: 41001, class: providers.ClassPermanent, note: "缺少access_token参数"},

	// Permanent, recipients.
	{lo: 40003, hi: 40003, class: providers.ClassPermanent, note: "无效的UserID"},
	{lo: 40031, hi: 40031, class: providers.ClassPermanent, note: "不合法的UserID列表"},
	{lo: 40032, hi: 40032, class: providers.ClassPermanent, note: "不合法的UserID列表长度 (最多指定1000人)"},
	{lo: 40066, hi: 40066, class: providers.ClassPermanent, note: "不合法的部门列表"},
	{lo: 40068, hi: 40068, class: providers.ClassPermanent, note: "不合法的标签ID"},
	{lo: 40070, hi: 40070, class: providers.ClassPermanent, note: "指定的标签范围结点全部无效"},
	{lo: 81013, hi: 81013, class: providers.ClassPermanent, note: "UserID、部门ID、标签ID全部非法或无权限"},
	{lo: 82001, hi: 82001, class: providers.ClassPermanent, note: "指定的成员/部门/标签全部为空"},
	{lo: 82002, hi: 82002, class: providers.ClassPermanent, note: "不合法的PartyID列表长度 (最多100个)"},
	{lo: 82003, hi: 82003, class: providers.ClassPermanent, note: "不合法的TagID列表长度 (最多100个)"},
	{lo: 60021, hi: 60021, class: providers.ClassPermanent, note: "userid不在应用可见范围内"},
	{lo: 50002, hi: 50002, class: providers.ClassPermanent, note: "员工不在权限范围"},

	// Permanent, payload.
	{lo: 40004, hi: 40011, class: providers.ClassPermanent, note: "media errors (40007 不合法的media_id, 40008 不合法的消息类型)"},
	{lo: 40033, hi: 40033, class: providers.ClassPermanent, note: "不合法的请求字符, 不能包含\\uxxxx格式的字符"},
	{lo: 40035, hi: 40035, class: providers.ClassPermanent, note: "不合法的参数"},
	{lo: 40058, hi: 40058, class: providers.ClassPermanent, note: "不合法的参数 / JSON"},
	{lo: 40074, hi: 40074, class: providers.ClassPermanent, note: "news消息不支持保密消息类型"},
	{lo: 41006, hi: 41006, class: providers.ClassPermanent, note: "缺少media_id参数"},
	{lo: 41011, hi: 41011, class: providers.ClassPermanent, note: "缺少agentid参数"},
	{lo: 41016, hi: 41016, class: providers.ClassPermanent, note: "缺少title参数"},
	{lo: 41033, hi: 41033, class: providers.ClassPermanent, note: "缺少 description 参数"},
	{lo: 44004, hi: 44004, class: providers.ClassPermanent, note: "文本消息content参数为空"},
	{lo: 45002, hi: 45002, class: providers.ClassPermanent, note: "消息内容大小超过限制"},
	{lo: 45007, hi: 45007, class: providers.ClassPermanent, note: "语音播放时间超过限制"},
	{lo: 45008, hi: 45008, class: providers.ClassPermanent, note: "图文消息的文章数量不符合系统限制"},
	{lo: 45032, hi: 45032, class: providers.ClassPermanent, note: "图文消息author参数长度超过限制"},
	{lo: 42014, hi: 42051, class: providers.ClassPermanent, note: "template_card field errors (incl. 42015, 42016 on update)"},
	{lo: 90200, hi: 90208, class: providers.ClassPermanent, note: "miniprogram_notice errors"},
	{lo: 60203, hi: 60208, class: providers.ClassPermanent, note: "template_msg / third-party constraints"},
	{lo: 301017, hi: 301017, class: providers.ClassPermanent, note: "上传语音文件仅支持AMR格式"},

	// Permanent, update and recall.
	{lo: 60140, hi: 60140, class: providers.ClassPermanent, note: "无效的response_code"},
	{lo: 82101, hi: 82101, class: providers.ClassPermanent, note: "指定的更新对象为空"},
	{lo: 82102, hi: 82102, class: providers.ClassPermanent, note: "指定的更新对象不在多人消息内"},
	{lo: 42052, hi: 42052, class: providers.ClassPermanent, note: "msgid已过期, 仅可撤回24小时内的消息"},

	// Permanent, authorisation (get_permanent_code with a used or expired auth_code).
	{lo: 40078, hi: 40078, class: providers.ClassPermanent, note: "不合法的临时授权码 (auth_code used or expired)"},

	// App or tenant state: pause the app, alert, no blind retry.
	{lo: 40013, hi: 40013, class: providers.ClassAppDisabled, note: "不合法的CorpID"},
	{lo: 40091, hi: 40091, class: providers.ClassAppDisabled, note: "secret不合法"},
	{lo: 40056, hi: 40056, class: providers.ClassAppDisabled, note: "不合法的agentid"},
	{lo: 40080, hi: 40080, class: providers.ClassAppDisabled, note: "不合法的suitesecret"},
	{lo: 40083, hi: 40083, class: providers.ClassAppDisabled, note: "不合法的suiteid"},
	{lo: 40084, hi: 40084, class: providers.ClassAppDisabled, note: "不合法的permanent_code参数 (授权已取消)"},
	{lo: 40085, hi: 40085, class: providers.ClassAppDisabled, note: "不合法的suite_ticket参数 (cannot self-heal)"},
	{lo: 40136, hi: 40138, class: providers.ClassAppDisabled, note: "试用到期 / 服务到期 / 付费人数超限"},
	{lo: 48001, hi: 48001, class: providers.ClassAppDisabled, note: "api未授权"},
	{lo: 48002, hi: 48002, class: providers.ClassAppDisabled, note: "API接口无权限调用"},
	{lo: 48004, hi: 48004, class: providers.ClassAppDisabled, note: "授权关系无效"},
	{lo: 48006, hi: 48006, class: providers.ClassAppDisabled, note: "接口权限被收回"},
	{lo: 50003, hi: 50003, class: providers.ClassAppDisabled, note: "应用已禁用"},
	{lo: 60011, hi: 60011, class: providers.ClassAppDisabled, note: "指定的成员/部门/标签参数无权限"},
	{lo: 60020, hi: 60020, class: providers.ClassAppDisabled, note: "不安全的访问IP"},
	{lo: 60031, hi: 60031, class: providers.ClassAppDisabled, note: "当前应用已禁止调用API"},
	{lo: 301002, hi: 301002, class: providers.ClassAppDisabled, note: "access_token对应的应用与agentid不一致"},
	{lo: 301007, hi: 301007, class: providers.ClassAppDisabled, note: "企业不可用"},
	{lo: 701099, hi: 701099, class: providers.ClassAppDisabled, note: "用户没有有效的接口许可"},
	{lo: 2000002, hi: 2000002, class: providers.ClassAppDisabled, note: "CorpId参数无效"},
}

// errcodes indexes errcodeTable by code.
var errcodes = func() map[int]codeRule {
	m := make(map[int]codeRule)
	for _, r := range errcodeTable {
		for code := r.lo; code <= r.hi; code++ {
			if _, dup := m[code]; dup {
				panic(fmt.Sprintf("wecom: errcode %d classified twice", code))
			}
			m[code] = r
		}
	}
	return m
}()

// ruleFor returns the rule of a non-zero errcode; unmapped codes are permanent
// ("仅系统失败需要重试。其余错误码，应该排查下调用失败原因", WeCom's API documentation).
func ruleFor(code int) codeRule {
	if r, ok := errcodes[code]; ok {
		return r
	}
	return codeRule{lo: code, hi: code, class: providers.ClassPermanent, note: "unmapped"}
}

// needsRefresh reports whether errcode says the access token is bad.
func needsRefresh(code int) bool { return ruleFor(code).refresh }

// codeError is the classified *providers.Error of a non-zero errcode returned by
// a business call (any call but gettoken).
func codeError(op string, code int, errmsg string) *providers.Error {
	r := ruleFor(code)
	e := &providers.Error{
		Provider:   ProviderName,
		Op:         op,
		Class:      r.class,
		Code:       code,
		Message:    errmsg,
		RetryAfter: r.retryAfter,
	}
	if code == codeRecallExpired {
		e.Reason = providers.ErrRecallExpired
	}
	return e
}

// codeRecallExpired is message/recall's "msgid expired" (older than 24 h).
const codeRecallExpired = 42052

// gettokenClass is the class of an errcode returned by gettoken. A token fetch
// never says anything about the message being sent, so only transient and
// throttling codes keep their class; every other code (wrong secret 40001,
// wrong corpid 40013, invalid secret 40091, app disabled, IP not allowed, an
// unmapped code) means the app's credentials or authorisation are broken:
// ClassAppDisabled, so the app is paused instead of gettoken being retried in a
// loop (which gets the egress IP banned for an hour, WeCom's API documentation).
func gettokenClass(code int) (providers.Class, time.Duration) {
	r := ruleFor(code)
	switch r.class {
	case providers.ClassRetryable, providers.ClassThrottled:
		if !r.refresh {
			return r.class, r.retryAfter
		}
	}
	return providers.ClassAppDisabled, 0
}
