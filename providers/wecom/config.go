package wecom

import "time"

// DefaultBaseURL is WeCom's public API host.
const DefaultBaseURL = "https://qyapi.weixin.qq.com"

// MaxDuplicateCheckInterval is the longest duplicate_check_interval WeCom accepts (4 h).
const MaxDuplicateCheckInterval = 4 * time.Hour

// Config is the wecom block of a self-built app in the dispatcher config.
type Config struct {
	// BaseURL is the API host, e.g. https://qyapi.weixin.qq.com or a simulator. Required.
	BaseURL string `yaml:"base_url"`
	// CorpID is the company id (corpid). Required.
	CorpID string `yaml:"corp_id"`
	// AgentID is the app's agentid. Required.
	AgentID int64 `yaml:"agent_id"`
	// Secret is the app secret (corpsecret). Required; use ${ENV} in the config file.
	// Never logged, never in a payload.
	Secret string `yaml:"secret"`
	// DuplicateCheckInterval is sent as duplicate_check_interval with
	// enable_duplicate_check=1; it bounds how long after a first attempt a request
	// with unknown outcome may be re-sent. Default and maximum 4h.
	DuplicateCheckInterval time.Duration `yaml:"duplicate_check_interval"`
}
