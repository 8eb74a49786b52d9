package wps365

import (
	"net/http"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// ProviderName is the provider name used in config and returned by [Client.Name].
const ProviderName = "wps365"

// Documented limits (the WPS open-platform documentation).
const (
	// MaxTextChars is the longest bot message, in characters (Unicode code
	// points): "最多不超过 5000 个字符".
	MaxTextChars = 5000
	// MaxCardComponents is the most components a card may hold (per language
	// version, see ValidateCard).
	MaxCardComponents = 20
	// MaxCardChars is the longest card, in characters of its JSON.
	MaxCardChars = 15000
	// MaxMentions is the most entries of mentions[].
	MaxMentions = 100
	// MaxBatchUsers, MaxBatchDepts and MaxBatchCompanies bound the receivers of
	// one messages/batch_create.
	MaxBatchUsers     = 200
	MaxBatchDepts     = 50
	MaxBatchCompanies = 1
)

// DefaultHTTPTimeout is the timeout of the http.Client New uses when given none.
const DefaultHTTPTimeout = 30 * time.Second

// API paths, after the base URL and the unsigned prefix.
const (
	pathCreate      = "/v7/messages/create"
	pathBatchCreate = "/v7/messages/batch_create"
)

// Operation names carried in providers.Error.Op.
const (
	opToken       = "oauth2/token"
	opCreate      = "messages/create"
	opBatchCreate = "messages/batch_create"
	opUpdate      = "messages/update"
	opRecall      = "messages/recall"
	opReply       = "messages/reply"
	opPrepare     = "prepare"
)

// Client is the WPS 365 (v7 open API) client of one app. It implements
// [providers.Provider] and is safe for concurrent use. Every v7 call carries
// Authorization: Bearer {access_token} and a KSO-1 signature.
type Client struct {
	cfg      Config
	tokens   providers.TokenStore
	hc       *http.Client
	now      func() time.Time
	tokenKey string
}

// Option configures a [Client] beyond its Config.
type Option func(*Client)

// WithClock sets the clock that dates KSO-1 signatures (X-Kso-Date) and
// reads HTTP-date Retry-After headers. Default time.Now.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

var _ providers.Provider = (*Client)(nil)

// New returns the client of the app cfg describes, with [Config.Defaults]
// applied (New does not validate; call [Config.Validate] when loading
// config).
//
// tokens caches the app's access token under [TokenKey](cfg.AppID); it may be
// nil only for a client that never calls WPS (Validate, Prepare,
// Capabilities): calls then fail with [providers.ClassAppDisabled]. hc is the
// HTTP client of every call; nil means one with [DefaultHTTPTimeout].
func New(cfg Config, tokens providers.TokenStore, hc *http.Client, opts ...Option) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	c := &Client{cfg: cfg.Defaults(), tokens: tokens, hc: hc, now: time.Now, tokenKey: TokenKey(cfg.AppID)}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Config returns the client's config with its defaults applied.
func (c *Client) Config() Config { return c.cfg }

// TokenKey is the [providers.TokenStore] key of an app's access token:
// "wps365:tok:<app_id>".
func TokenKey(appID string) string { return "wps365:tok:" + appID }

// Name returns [ProviderName], "wps365".
func (c *Client) Name() string { return ProviderName }

// Capabilities is [Config.Capabilities].
func (c *Client) Capabilities() providers.Capabilities { return c.cfg.Capabilities() }
