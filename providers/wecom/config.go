package wecom

import (
	"strings"
	"time"
)

// DefaultBaseURL is WeCom's public API host.
const DefaultBaseURL = "https://qyapi.weixin.qq.com"

// MaxDuplicateCheckInterval is the longest duplicate_check_interval WeCom accepts (4 h).
const MaxDuplicateCheckInterval = 4 * time.Hour

// App modes, the values of [Config.Mode].
const (
	// ModeSelfBuilt is a self-built app (自建应用): one corp, one agentid, a
	// secret, tokens from gettoken. The default.
	ModeSelfBuilt = "self_built"
	// ModeThirdParty is a third-party app (第三方应用) installed by many corps
	// (tenants): corp tokens from service/get_corp_token with a suite token
	// obtained with the latest suite_ticket (WeCom's API documentation).
	ModeThirdParty = "third_party"
	// ModeCustom is a provider-developed custom app (代开发应用): tenants like a
	// third-party app, but each tenant's permanent code is its app secret and
	// its tokens come from gettoken (WeCom's API documentation).
	ModeCustom = "custom"
)

// Modes lists the valid values of [Config.Mode].
var Modes = []string{ModeSelfBuilt, ModeThirdParty, ModeCustom}

// Config is the wecom block of an app in the dispatcher config.
//
// Which keys an app needs depends on Mode: a self-built app needs CorpID,
// AgentID and Secret; a third-party or custom (代开发) app needs SuiteID,
// SuiteSecret, CallbackToken and EncodingAESKey, and learns its tenants'
// agentids and permanent codes from WeCom's callbacks (or `dispatcher tenant
// add`). BaseURL is always required.
type Config struct {
	// BaseURL is the API host, e.g. https://qyapi.weixin.qq.com or a simulator. Required.
	BaseURL string `yaml:"base_url"`
	// Mode is self_built (default), third_party or custom (代开发).
	Mode string `yaml:"mode"`
	// CorpID is the company id (corpid) of a self-built app. Required for
	// self_built; not used by the other modes (see ProviderCorpID).
	CorpID string `yaml:"corp_id"`
	// AgentID is the agentid of a self-built app. Required for self_built; a
	// multi-tenant app has one agentid per tenant.
	AgentID int64 `yaml:"agent_id"`
	// Secret is the app secret (corpsecret) of a self-built app. Required for
	// self_built; use ${ENV} in the config file. Never logged, never in a payload.
	Secret string `yaml:"secret"`
	// SuiteID is the suite id of a third-party app ("ww…"/"wx…") or of a 代开发
	// template ("dk…"). Required for third_party and custom.
	SuiteID string `yaml:"suite_id"`
	// SuiteSecret is the suite's secret. Required for third_party and custom;
	// use ${ENV}. Never logged.
	SuiteSecret string `yaml:"suite_secret"`
	// ProviderCorpID is the service provider's own corpid. Optional: when set,
	// callbacks whose receive id is this corpid (WeCom verifies a third-party
	// app's data-callback URL with it) are accepted.
	ProviderCorpID string `yaml:"provider_corp_id"`
	// CallbackToken is the Token of the callback configuration (回调配置). Required
	// for third_party and custom; optional for self_built (set it together with
	// EncodingAESKey to receive the app's callbacks). Use ${ENV}; never logged.
	CallbackToken string `yaml:"callback_token"`
	// EncodingAESKey is the 43-character EncodingAESKey of the callback
	// configuration; required with CallbackToken. Use ${ENV}; never logged.
	EncodingAESKey string `yaml:"encoding_aes_key"`
	// DuplicateCheckInterval is sent as duplicate_check_interval with
	// enable_duplicate_check=1; it bounds how long after a first attempt a request
	// with unknown outcome may be re-sent. Default and maximum 4h.
	DuplicateCheckInterval time.Duration `yaml:"duplicate_check_interval"`
}

// EffectiveMode is Mode with the default applied: "" is [ModeSelfBuilt].
func (c Config) EffectiveMode() string {
	if c.Mode == "" {
		return ModeSelfBuilt
	}
	return c.Mode
}

// MultiTenant reports whether the app has tenants (mode third_party or custom):
// every message then names its tenant, the authorising corp's id.
func (c Config) MultiTenant() bool {
	m := c.EffectiveMode()
	return m == ModeThirdParty || m == ModeCustom
}

// ReceivesCallbacks reports whether the app is configured to receive WeCom
// callbacks (CallbackToken and EncodingAESKey set).
func (c Config) ReceivesCallbacks() bool {
	return c.CallbackToken != "" && c.EncodingAESKey != ""
}

// NormalizeUser returns the form of member id under which the dispatcher keys
// per-recipient state (quotas, response codes) for an app of mode.
//
// A self-built app sees plaintext userids, which WeCom treats as
// case-insensitive ("不区分大小写，统一转为小写"): they are lower-cased, so that
// "ZhangSan" and "zhangsan" share one quota. Third-party and custom (代开发) apps
// see provider-encrypted userids, which are case-sensitive ("密文则大小写敏感",
// WeCom's API documentation): they are returned untouched. Surrounding spaces are
// trimmed in every mode. An unknown mode is treated as self_built.
func NormalizeUser(mode, id string) string {
	id = strings.TrimSpace(id)
	switch mode {
	case ModeThirdParty, ModeCustom:
		return id
	default:
		return strings.ToLower(id)
	}
}
