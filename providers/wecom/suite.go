package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// SuiteTicketLifetime is how long a suite_ticket is valid after WeCom pushed
// it ("suite_ticket实际有效期为30分钟", WeCom's API documentation).
const SuiteTicketLifetime = 30 * time.Minute

// noTicketDelay is the RetryAfter of a send that cannot get a suite token
// because no suite_ticket has been pushed yet (WeCom pushes every 10 minutes).
const noTicketDelay = time.Minute

// TicketStore keeps the suite_tickets WeCom pushes to a third-party or custom
// app's instruction callback URL every ten minutes. The dispatcher's
// implementation is internal/suiteticket (Redis). Implementations are safe for
// concurrent use.
type TicketStore interface {
	// PutTicket records ticket, pushed at at (the callback's TimeStamp). The
	// latest push wins; the ticket it replaces is kept as the previous one.
	// A push older than the latest (a late retry) never replaces it. Tickets
	// are kept for [SuiteTicketLifetime] after their push.
	PutTicket(ctx context.Context, suiteID, ticket string, at time.Time) error
	// Tickets returns the latest ticket still valid and the one before it
	// (each "" when there is none).
	Tickets(ctx context.Context, suiteID string) (latest, previous string, err error)
}

// SuiteTokenKey is the [providers.TokenStore] key of a suite's
// suite_access_token: "wecom:tok:suite:<suite_id>" (WeCom's API documentation).
func SuiteTokenKey(suiteID string) string { return "wecom:tok:suite:" + suiteID }

// CorpTokenKey is the [providers.TokenStore] key of the access token of one
// tenant (authorising corp) of a suite: "wecom:tok:corp:<suite_id>:<corp_id>".
func CorpTokenKey(suiteID, corpID string) string {
	return "wecom:tok:corp:" + suiteID + ":" + corpID
}

// suiteTokenResponse is the answer of service/get_suite_token.
type suiteTokenResponse struct {
	SuiteAccessToken string `json:"suite_access_token"`
	ExpiresIn        int64  `json:"expires_in"`
}

// corpTokenResponse is the answer of service/get_corp_token.
type corpTokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// Error codes of the suite token chain (WeCom's API documentation).
const (
	codeSuiteTokenExpired = 42009 // suite_access_token已过期
	codeBadSuiteToken     = 40082 // 不合法的suite_token
	codeBadToken          = 40014 // 不合法的access_token (e.g. a token of the wrong type)
	codeBadSuiteTicket    = 40085 // 不合法的suite_ticket
)

// suiteTokenRejected reports whether errcode says the suite_access_token used
// is bad: it is invalidated and fetched again, once.
func suiteTokenRejected(code int) bool {
	return code == codeSuiteTokenExpired || code == codeBadSuiteToken || code == codeBadToken
}

// suiteToken returns the suite's suite_access_token through the TokenStore
// (key [SuiteTokenKey]), fetching one with the latest suite_ticket when the
// store has none.
func (c *Client) suiteToken(ctx context.Context, op string) (string, error) {
	if c.tokens == nil {
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Message: "no TokenStore configured"}
	}
	tok, err := c.tokens.Token(ctx, SuiteTokenKey(c.cfg.SuiteID), c.fetchSuiteToken)
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) {
			return "", err
		}
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "getting the suite access token", Err: c.redact(err)}
	}
	if tok == "" {
		return "", &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Message: "token store returned an empty suite access token"}
	}
	return tok, nil
}

// fetchSuiteToken is the [providers.FetchFunc] of the suite token: POST
// service/get_suite_token with the latest suite_ticket; if WeCom refuses that
// ticket (40085) and an older one is still valid, once more with it (WeCom
// "可以容错连续两次获取suite_ticket失败的情况"). No ticket at all is
// ClassThrottled (the next push comes within ten minutes); other failures are
// classified like gettoken's (credentials → ClassAppDisabled). A response
// without errcode is a success ("没返回errcode视为调用成功").
func (c *Client) fetchSuiteToken(ctx context.Context) (string, time.Duration, error) {
	if c.tickets == nil {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opSuiteToken, Class: providers.ClassAppDisabled, Message: "no suite_ticket store configured"}
	}
	latest, previous, err := c.tickets.Tickets(ctx, c.cfg.SuiteID)
	if err != nil {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opSuiteToken, Class: providers.ClassRetryable, Message: "reading the suite_ticket", Err: c.redact(err)}
	}
	var tickets []string
	for _, t := range []string{latest, previous} {
		if t != "" && (len(tickets) == 0 || tickets[0] != t) {
			tickets = append(tickets, t)
		}
	}
	if len(tickets) == 0 {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opSuiteToken, Class: providers.ClassThrottled, RetryAfter: noTicketDelay,
			Message: "no valid suite_ticket yet: WeCom pushes one every 10 minutes to the instruction callback URL (check it is served by `dispatcher api`)"}
	}
	tok, ttl, err := c.getSuiteToken(ctx, tickets[0])
	var pe *providers.Error
	if err != nil && len(tickets) > 1 && errors.As(err, &pe) && pe.Code == codeBadSuiteTicket {
		return c.getSuiteToken(ctx, tickets[1]) // the previous ticket is still valid: try it
	}
	return tok, ttl, err
}

// getSuiteToken is one POST service/get_suite_token with ticket.
func (c *Client) getSuiteToken(ctx context.Context, ticket string) (string, time.Duration, error) {
	body, err := encodeJSON(map[string]string{"suite_id": c.cfg.SuiteID, "suite_secret": c.cfg.SuiteSecret, "suite_ticket": ticket})
	if err != nil {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opSuiteToken, Class: providers.ClassAppDisabled, Message: "encoding the request", Err: err}
	}
	data, st, err := c.postSuite(ctx, opSuiteToken, pathSuiteToken, url.Values{}, body, false, ticket)
	if err != nil {
		return "", 0, err
	}
	if code := st.code(); code != 0 {
		class, after := suiteClass(code)
		return "", 0, &providers.Error{Provider: ProviderName, Op: opSuiteToken, Class: class, Code: code, Message: st.ErrMsg, RetryAfter: after}
	}
	var r suiteTokenResponse
	if err := json.Unmarshal(data, &r); err != nil || r.SuiteAccessToken == "" {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opSuiteToken, Class: providers.ClassRetryable, Message: "no suite_access_token in response"}
	}
	return r.SuiteAccessToken, lifetime(r.ExpiresIn), nil
}

// fetchCorpToken is the [providers.FetchFunc] of a third-party tenant's
// access token: POST service/get_corp_token?suite_access_token= with the
// tenant's auth_corpid and permanent code. If WeCom says the suite token is
// bad (42009, 40082, 40014) it is invalidated (compare-and-delete), fetched
// again and the call made once more. A tenant unknown to the store or
// disabled, and the tenant-dead errcodes (40084, 48004, 301007, 2000002, …),
// are ClassAppDisabled with Tenant set. A response without errcode is a
// success.
func (c *Client) fetchCorpToken(ctx context.Context, corpID string) (string, time.Duration, error) {
	t, err := c.tenantForToken(ctx, opCorpToken, corpID)
	if err != nil {
		return "", 0, err
	}
	body, err := encodeJSON(map[string]string{"auth_corpid": corpID, "permanent_code": t.Secret})
	if err != nil {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opCorpToken, Class: providers.ClassPermanent, Message: "encoding the request", Err: err}
	}
	data, err := c.suiteCall(ctx, corpID, opCorpToken, pathCorpToken, body, false, true, t.Secret)
	if err != nil {
		return "", 0, err
	}
	var r corpTokenResponse
	if err := json.Unmarshal(data, &r); err != nil || r.AccessToken == "" {
		return "", 0, &providers.Error{Provider: ProviderName, Op: opCorpToken, Class: providers.ClassRetryable, Message: "no access_token in response"}
	}
	return r.AccessToken, lifetime(r.ExpiresIn), nil
}

// fetchCustomToken is the [providers.FetchFunc] of a custom (代开发) tenant's
// access token: gettoken with corpid = the tenant and corpsecret = its
// permanent code ("接口调用凭证access_token的获取方式与自建应用完全一致",
// WeCom's API documentation). Credential failures concern only that tenant
// (ClassAppDisabled with Tenant set), except 60020 (egress IP not allowed).
func (c *Client) fetchCustomToken(ctx context.Context, corpID string) (string, time.Duration, error) {
	t, err := c.tenantForToken(ctx, opGettoken, corpID)
	if err != nil {
		return "", 0, err
	}
	tok, ttl, err := c.gettoken(ctx, corpID, t.Secret)
	return tok, ttl, c.scope(corpID, err)
}

// tenantForToken reads the tenant a token is fetched for. Unknown and disabled
// tenants are ClassAppDisabled with Tenant set: no request is made for them.
func (c *Client) tenantForToken(ctx context.Context, op, corpID string) (*Tenant, error) {
	t, err := c.lookupTenant(ctx, op, corpID)
	if errors.Is(err, ErrUnknownTenant) {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Tenant: corpID,
			Message: "tenant " + corpID + " is not installed (no permanent code)"}
	}
	if err != nil {
		return nil, err
	}
	if t.Disabled {
		return nil, disabledError(op, t)
	}
	if t.Secret == "" {
		return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassAppDisabled, Tenant: corpID,
			Message: "tenant " + corpID + " has no permanent code"}
	}
	return t, nil
}

// suiteClass is the class of an errcode returned by a suite call that gets a
// credential (get_suite_token, get_corp_token): a suite token still refused
// after a fresh fetch is retryable (a later attempt fetches again); other
// transient and throttling codes keep their class; everything else means
// credentials or authorisation are broken (ClassAppDisabled), like
// gettokenClass.
func suiteClass(code int) (providers.Class, time.Duration) {
	if suiteTokenRejected(code) {
		return providers.ClassRetryable, 0
	}
	return gettokenClass(code)
}

// postSuite POSTs body to a service/ path with query and returns the response
// and its errcode. Unlike business calls, a response without errcode is a
// success: get_suite_token and get_corp_token "在调用失败时才返回errcode"
// (WeCom's API documentation). sideEffects is as for do; secrets are redacted from
// every error.
func (c *Client) postSuite(ctx context.Context, op, path string, query url.Values, body []byte, sideEffects bool, secrets ...string) ([]byte, apiStatus, error) {
	data, err := c.do(ctx, op, http.MethodPost, path, query, body, sideEffects, secrets...)
	if err != nil {
		return nil, apiStatus{}, err
	}
	var st apiStatus
	if err := json.Unmarshal(data, &st); err != nil {
		class := providers.ClassRetryable
		if sideEffects {
			class = providers.ClassUnknownOutcome
		}
		return nil, apiStatus{}, &providers.Error{Provider: ProviderName, Op: op, Class: class, Message: "undecodable response", Err: err}
	}
	st.ErrMsg = c.redactText(st.ErrMsg, secrets...)
	return data, st, nil
}
