package wecom

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// ProviderName is the provider name used in config and returned by [Client.Name].
const ProviderName = "wecom"

// Per-request limits of message/send (WeCom's API documentation).
const (
	// MaxUsersPerPart is the most member ids one message/send may name in touser.
	MaxUsersPerPart = 1000
	// MaxGroupsPerPart is the most department ids, and separately the most tag ids,
	// one message/send may name in toparty and totag.
	MaxGroupsPerPart = 100
	// MaxContentBytes is the longest text or markdown content WeCom accepts, in
	// bytes of UTF-8 (longer text is truncated by WeCom; this package refuses it).
	MaxContentBytes = 2048
	// MaxBodyBytes is the largest request body this package renders (666 KiB,
	// WeCom's limit for the largest message type, mpnews).
	MaxBodyBytes = 666 * 1024
	// RecallWindow is how long after sending a message can still be recalled.
	RecallWindow = 24 * time.Hour
)

// DefaultHTTPTimeout is the timeout of the http.Client New uses when given none.
// It is generous because message/send to many users can be slow (WeCom's API documentation
// §2.6); the caller's context usually ends a request first.
const DefaultHTTPTimeout = 30 * time.Second

// Client is the WeCom client of one app: a self-built app, or a third-party or
// custom (代开发) app with many tenants (see [Config.Mode]). It implements
// [providers.Provider] and is safe for concurrent use.
type Client struct {
	cfg      Config
	tokens   providers.TokenStore
	hc       *http.Client
	tokenKey string
	// tenants and tickets serve multi-tenant modes (see WithTenants, WithTickets).
	tenants TenantStore
	tickets TicketStore
	// state keeps single-use response codes (see WithState).
	state providers.KV
	// sealer opens the auth codes of authorisation tasks (WithTenantKey).
	sealer *providers.Cipher
	// now is the clock used to read HTTP-date Retry-After headers.
	now func() time.Time
}

// Option configures a [Client] beyond its Config.
type Option func(*Client)

// WithTenants gives a third-party or custom client the store of its tenants:
// Prepare reads a tenant's agentid from it, token fetches its permanent code,
// and [Client.ProcessAuth] writes to it. Without it a multi-tenant client can
// validate messages but not prepare or send them.
func WithTenants(ts TenantStore) Option { return func(c *Client) { c.tenants = ts } }

// WithTickets gives a third-party or custom client the store of the
// suite_tickets WeCom pushes to the instruction callback; the suite token is
// fetched with the latest of them (the previous one as a fallback).
func WithTickets(ts TicketStore) Option { return func(c *Client) { c.tickets = ts } }

// WithState gives the client the app's shared state, where the single-use
// response codes of card clicks are kept and a send's code is marked used.
// Without it Update fails.
func WithState(kv providers.KV) Option { return func(c *Client) { c.state = kv } }

// WithTenantKey gives a multi-tenant client the app's tenant key, which
// opens the auth codes sealed into its authorisation tasks.
func WithTenantKey(c *providers.Cipher) Option { return func(cl *Client) { cl.sealer = c } }

var _ providers.Provider = (*Client)(nil)

// New returns the client of the app cfg describes.
//
// Defaults applied to cfg: BaseURL defaults to [DefaultBaseURL] (a trailing "/" is
// removed); DuplicateCheckInterval defaults to [MaxDuplicateCheckInterval] (4h), is
// capped at it, and is at least one second (WeCom takes whole seconds).
//
// tokens caches the app's access tokens: a self-built app's under
// [TokenKey](cfg.CorpID, cfg.AgentID); a multi-tenant app's suite token under
// [SuiteTokenKey] and each tenant's token under [CorpTokenKey]. It may be nil
// only for a client that never calls WeCom (Validate, Prepare, Capabilities);
// Send and Recall then fail with [providers.ClassAppDisabled]. hc is the HTTP
// client used for every call; nil means a client with [DefaultHTTPTimeout].
// opts add what multi-tenant modes need ([WithTenants], [WithTickets]).
func New(cfg Config, tokens providers.TokenStore, hc *http.Client, opts ...Option) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	switch {
	case cfg.DuplicateCheckInterval <= 0, cfg.DuplicateCheckInterval > MaxDuplicateCheckInterval:
		cfg.DuplicateCheckInterval = MaxDuplicateCheckInterval
	case cfg.DuplicateCheckInterval < time.Second:
		cfg.DuplicateCheckInterval = time.Second
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	c := &Client{
		cfg:      cfg,
		tokens:   tokens,
		hc:       hc,
		tokenKey: TokenKey(cfg.CorpID, cfg.AgentID),
		now:      time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Config returns the client's config with its defaults applied.
func (c *Client) Config() Config { return c.cfg }

// TokenKey is the [providers.TokenStore] key of a self-built app's access token:
// "wecom:tok:self:<corp_id>:<agent_id>". WeCom tokens are per app, so the key
// names the agent as well as the corp (WeCom's API documentation).
func TokenKey(corpID string, agentID int64) string {
	return "wecom:tok:self:" + corpID + ":" + strconv.FormatInt(agentID, 10)
}

// Name returns [ProviderName], "wecom".
func (c *Client) Name() string { return ProviderName }

// Capabilities returns what this client supports: update (update_template_card,
// see [Client.Update]) and recall (within [RecallWindow]), for every mode (a
// multi-tenant app's requests name their tenant); no reply, parts of at most [MaxUsersPerPart] users and
// [MaxGroupsPerPart] departments and tags, and a dedupe window equal to the
// duplicate check interval every body carries.
func (c *Client) Capabilities() providers.Capabilities { return c.cfg.Capabilities() }

// Operation names carried in providers.Error.Op.
const (
	opGettoken      = "gettoken"
	opSend          = "message/send"
	opRecall        = "message/recall"
	opUpdate        = "message/update_template_card"
	opReply         = "reply"
	opPrepare       = "prepare"
	opSuiteToken    = "service/get_suite_token"
	opCorpToken     = "service/get_corp_token"
	opPermanentCode = "service/v2/get_permanent_code"
	opAuthInfo      = "service/v2/get_auth_info"
	opProcessAuth   = "process_auth"
)

// API paths under the base URL.
const (
	pathGettoken      = "/cgi-bin/gettoken"
	pathSend          = "/cgi-bin/message/send"
	pathRecall        = "/cgi-bin/message/recall"
	pathSuiteToken    = "/cgi-bin/service/get_suite_token"
	pathCorpToken     = "/cgi-bin/service/get_corp_token"
	pathPermanentCode = "/cgi-bin/service/v2/get_permanent_code"
	pathAuthInfo      = "/cgi-bin/service/v2/get_auth_info"
)
