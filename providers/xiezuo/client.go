package xiezuo

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// ProviderName is the provider name used in config and returned by [Client.Name].
const ProviderName = "xiezuo"

// DefaultHTTPTimeout is the timeout of the http.Client New uses when given none.
const DefaultHTTPTimeout = 30 * time.Second

// Operation names carried in providers.Error.Op.
const (
	opToken   = "company_token"
	opSend    = "messages/send"
	opUpdate  = "messages/update"
	opRecall  = "recall"
	opPrepare = "prepare"
)

// Client is the WPS 协作 v2 client of one app. It implements
// [providers.Provider] and is safe for concurrent use.
type Client struct {
	cfg    Config
	tokens providers.TokenStore
	hc     *http.Client
	signer Signer
	key    string
	now    func() time.Time
}

var _ providers.Provider = (*Client)(nil)

// Option configures a [Client] beyond its Config.
type Option func(*Client)

// WithClock sets the clock used for signature dates (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// New returns the client of the app cfg describes. cfg gets its
// [Config.Defaults] and must pass [Config.Validate]. tokens caches the app's
// company_token under [TokenKey]; it may be nil only for a client that never
// calls WPS (Validate, Prepare), whose calls then fail with
// providers.ClassAppDisabled. hc nil means a client with [DefaultHTTPTimeout].
func New(cfg Config, tokens providers.TokenStore, hc *http.Client, opts ...Option) (*Client, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	c := &Client{cfg: cfg, tokens: tokens, hc: hc, signer: cfg.signer(), key: TokenKey(cfg.BaseURL, cfg.AppKey), now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Config returns the client's config with its defaults applied.
func (c *Client) Config() Config { return c.cfg }

// TokenKey is the [providers.TokenStore] key of an app's company_token:
// "xiezuo:tok:company:<host of baseURL>:<app_key>".
func TokenKey(baseURL, appKey string) string {
	host := baseURL
	if u, err := url.Parse(baseURL); err == nil && u.Host != "" {
		host = u.Host
	}
	return "xiezuo:tok:company:" + host + ":" + appKey
}

// Name returns [ProviderName], "xiezuo".
func (c *Client) Name() string { return ProviderName }

// Capabilities are the app's ([Config.Capabilities]).
func (c *Client) Capabilities() providers.Capabilities { return c.cfg.Capabilities() }

// Recall is not supported: no WPS 协作 v2 recall API is documented
// (Capabilities.Recall is false). It returns a providers.ClassPermanent *Error.
func (c *Client) Recall(ctx context.Context, req *providers.RecallRequest) error {
	return &providers.Error{Provider: ProviderName, Op: opRecall, Class: providers.ClassPermanent, Message: "not supported: WPS 协作 v2 documents no recall API"}
}
