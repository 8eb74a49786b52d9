package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// InfoType values of the instruction callbacks (指令回调) a third-party or
// custom app receives (WeCom's API documentation).
const (
	InfoSuiteTicket        = "suite_ticket"
	InfoCreateAuth         = "create_auth"
	InfoChangeAuth         = "change_auth"
	InfoCancelAuth         = "cancel_auth"
	InfoResetPermanentCode = "reset_permanent_code"
)

// AuthJob is the slow part of an authorisation callback, done after the
// callback was answered: create_auth and reset_permanent_code exchange their
// AuthCode for a permanent code, change_auth re-reads the tenant's auth info.
//
// AuthCode is a credential (single use, valid 10 minutes): AuthJob's String,
// GoString and LogValue never print it, and an [AuthQueue] must not store it
// in clear.
type AuthJob struct {
	// InfoType is InfoCreateAuth, InfoChangeAuth or InfoResetPermanentCode.
	InfoType string `json:"info_type"`
	// AuthCode is the temporary authorisation code of create_auth and
	// reset_permanent_code.
	AuthCode string `json:"auth_code,omitempty"`
	// AuthCorpID is the tenant of change_auth (and of reset_permanent_code
	// when WeCom names it).
	AuthCorpID string `json:"auth_corp_id,omitempty"`
	// At is the callback's TimeStamp.
	At time.Time `json:"at"`
}

// String formats j without its auth code.
func (j AuthJob) String() string {
	return fmt.Sprintf("{InfoType:%s AuthCode:%s AuthCorpID:%s At:%s}", j.InfoType, redactedSecret(j.AuthCode), j.AuthCorpID, j.At.UTC().Format(time.RFC3339))
}

// GoString is String for fmt's %#v.
func (j AuthJob) GoString() string { return "wecom.AuthJob" + j.String() }

// LogValue makes log/slog log j without its auth code.
func (j AuthJob) LogValue() slog.Value {
	return slog.GroupValue(slog.String("info_type", j.InfoType), slog.String("auth_corp_id", j.AuthCorpID), slog.Time("at", j.At))
}

// AuthQueue runs AuthJobs asynchronously and reliably: the callback handler
// enqueues one and answers WeCom at once; some worker later calls
// [Client.ProcessAuth] with it, retrying what is retryable. The dispatcher's
// implementation is internal/wecomauth (an asynq task whose payload holds the
// auth code encrypted). EnqueueAuth is durable when it returns nil, and
// enqueueing the same job twice (WeCom repeating a callback) runs it once.
type AuthQueue interface {
	EnqueueAuth(ctx context.Context, job AuthJob) error
}

// permanentCodeResponse is the answer of service/v2/get_permanent_code.
type permanentCodeResponse struct {
	PermanentCode string `json:"permanent_code"`
	AuthCorpInfo  struct {
		CorpID   string `json:"corpid"`
		CorpName string `json:"corp_name"`
	} `json:"auth_corp_info"`
}

// authInfoResponse is the answer of service/v2/get_auth_info.
type authInfoResponse struct {
	AuthCorpInfo struct {
		CorpID      string `json:"corpid"`
		CorpName    string `json:"corp_name"`
		CorpUserMax int    `json:"corp_user_max"`
	} `json:"auth_corp_info"`
	AuthInfo struct {
		Agent []struct {
			AgentID int64  `json:"agentid"`
			Name    string `json:"name"`
		} `json:"agent"`
	} `json:"auth_info"`
}

// ProcessAuth does the work of an authorisation callback of a third-party or
// custom app (see [AuthJob]) and stores the result with the TenantStore:
//
//   - create_auth: service/v2/get_permanent_code with the AuthCode (permanent
//     code, corpid, corp name), then service/v2/get_auth_info (agentid,
//     corp_user_max); the tenant is put, active, authorised at job.At.
//   - reset_permanent_code: get_permanent_code; the tenant's permanent code is
//     replaced (a tenant not known yet is installed as for create_auth).
//   - change_auth: get_auth_info with the stored permanent code; agentid, name
//     and corp_user_max are updated, the state is kept.
//
// Each call gets the suite token through the TokenStore and, when WeCom says it
// is bad (42009, 40082, 40014), invalidates it and retries that call once.
// Failures are *providers.Error: ClassPermanent when retrying cannot help (an
// auth code used or expired, 40078; an unknown InfoType; change_auth for an
// unknown tenant), otherwise the class of the failed call. Errors never hold
// the auth code, the permanent code or a token.
func (c *Client) ProcessAuth(ctx context.Context, job AuthJob) error {
	if !c.cfg.MultiTenant() {
		return &providers.Error{Provider: ProviderName, Op: opProcessAuth, Class: providers.ClassPermanent, Message: "authorisation callbacks are for apps of mode third_party or custom"}
	}
	if c.tenants == nil {
		return &providers.Error{Provider: ProviderName, Op: opProcessAuth, Class: providers.ClassAppDisabled, Message: "no tenant store configured"}
	}
	switch job.InfoType {
	case InfoCreateAuth:
		return c.install(ctx, job)
	case InfoResetPermanentCode:
		code, corpID, _, err := c.permanentCode(ctx, job.AuthCode)
		if err != nil {
			return err
		}
		err = c.tenants.RekeyTenant(ctx, corpID, code)
		if errors.Is(err, ErrUnknownTenant) {
			return c.installWith(ctx, job, code, corpID)
		}
		if err != nil {
			return &providers.Error{Provider: ProviderName, Op: opProcessAuth, Class: providers.ClassRetryable, Message: "storing the new permanent code of " + corpID, Err: c.redact(err, code)}
		}
		return nil
	case InfoChangeAuth:
		t, err := c.lookupTenant(ctx, opProcessAuth, job.AuthCorpID)
		if errors.Is(err, ErrUnknownTenant) {
			return &providers.Error{Provider: ProviderName, Op: opProcessAuth, Class: providers.ClassPermanent, Message: "change_auth for unknown tenant " + job.AuthCorpID}
		}
		if err != nil {
			return err
		}
		if err := c.fillAuthInfo(ctx, t); err != nil {
			return err
		}
		return c.putTenant(ctx, t)
	default:
		return &providers.Error{Provider: ProviderName, Op: opProcessAuth, Class: providers.ClassPermanent, Message: fmt.Sprintf("unknown authorisation InfoType %q", job.InfoType)}
	}
}

// install handles create_auth.
func (c *Client) install(ctx context.Context, job AuthJob) error {
	code, corpID, _, err := c.permanentCode(ctx, job.AuthCode)
	if err != nil {
		return err
	}
	return c.installWith(ctx, job, code, corpID)
}

// installWith reads the auth info of a tenant whose permanent code is known
// and puts it, active.
func (c *Client) installWith(ctx context.Context, job AuthJob, code, corpID string) error {
	at := job.At
	if at.IsZero() {
		at = c.now()
	}
	t := &Tenant{ID: corpID, Secret: code, AuthorizedAt: at}
	if err := c.fillAuthInfo(ctx, t); err != nil {
		return err
	}
	return c.putTenant(ctx, t)
}

func (c *Client) putTenant(ctx context.Context, t *Tenant) error {
	if err := c.tenants.PutTenant(ctx, t); err != nil {
		return &providers.Error{Provider: ProviderName, Op: opProcessAuth, Class: providers.ClassRetryable, Message: "storing tenant " + t.ID, Err: c.redact(err, t.Secret)}
	}
	return nil
}

// permanentCode is POST service/v2/get_permanent_code with authCode.
func (c *Client) permanentCode(ctx context.Context, authCode string) (code, corpID, corpName string, err error) {
	if authCode == "" {
		return "", "", "", &providers.Error{Provider: ProviderName, Op: opPermanentCode, Class: providers.ClassPermanent, Message: "no AuthCode in the callback"}
	}
	body, err := encodeJSON(map[string]string{"auth_code": authCode})
	if err != nil {
		return "", "", "", &providers.Error{Provider: ProviderName, Op: opPermanentCode, Class: providers.ClassPermanent, Message: "encoding the request", Err: err}
	}
	// The auth code is single-use: a request that may have been applied cannot be
	// repeated safely, so side effects are assumed.
	data, err := c.suiteCall(ctx, "", opPermanentCode, pathPermanentCode, body, true, false, authCode)
	if err != nil {
		return "", "", "", err
	}
	var r permanentCodeResponse
	if err := json.Unmarshal(data, &r); err != nil || r.PermanentCode == "" || r.AuthCorpInfo.CorpID == "" {
		return "", "", "", &providers.Error{Provider: ProviderName, Op: opPermanentCode, Class: providers.ClassUnknownOutcome, Message: "no permanent_code or auth_corp_info.corpid in response"}
	}
	return r.PermanentCode, r.AuthCorpInfo.CorpID, r.AuthCorpInfo.CorpName, nil
}

// fillAuthInfo is POST service/v2/get_auth_info for t (CorpID and
// PermanentCode set): it fills AgentID (the first agent of auth_info),
// CorpUserMax and, when given, CorpName.
func (c *Client) fillAuthInfo(ctx context.Context, t *Tenant) error {
	body, err := encodeJSON(map[string]string{"auth_corpid": t.ID, "permanent_code": t.Secret})
	if err != nil {
		return &providers.Error{Provider: ProviderName, Op: opAuthInfo, Class: providers.ClassPermanent, Message: "encoding the request", Err: err}
	}
	data, err := c.suiteCall(ctx, t.ID, opAuthInfo, pathAuthInfo, body, false, false, t.Secret)
	if err != nil {
		return err
	}
	var r authInfoResponse
	if err := json.Unmarshal(data, &r); err != nil || len(r.AuthInfo.Agent) == 0 || r.AuthInfo.Agent[0].AgentID <= 0 {
		return &providers.Error{Provider: ProviderName, Op: opAuthInfo, Class: providers.ClassRetryable, Tenant: t.ID, Message: "no auth_info.agent[0].agentid in response"}
	}
	t.AgentID = r.AuthInfo.Agent[0].AgentID
	t.Seats = r.AuthCorpInfo.CorpUserMax
	if r.AuthCorpInfo.CorpName != "" {
		t.Name = r.AuthCorpInfo.CorpName
	}
	return nil
}

// suiteCall POSTs body to a service/ path with the suite token and returns the
// response of a call that succeeded (errcode 0 or absent). When WeCom says the
// suite token is bad (42009, 40082, 40014), it is invalidated
// (compare-and-delete) and the call made once more. A failing errcode is
// classified by errcodeTable, or by suiteClass for a call that obtains a
// credential (credential: get_corp_token, whose failure says nothing about the
// message being sent); a suite token still refused after a fresh fetch is
// retryable. The error is scoped to tenant when it concerns only that tenant.
func (c *Client) suiteCall(ctx context.Context, tenant, op, path string, body []byte, sideEffects, credential bool, secrets ...string) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		stok, err := c.suiteToken(ctx, op)
		if err != nil {
			return nil, err
		}
		data, st, err := c.postSuite(ctx, op, path, url.Values{"suite_access_token": {stok}}, body, sideEffects, append(secrets, stok)...)
		if err != nil {
			return nil, err
		}
		code := st.code()
		if code == 0 {
			return data, nil
		}
		if suiteTokenRejected(code) {
			if attempt == 0 {
				if err := c.tokens.Invalidate(ctx, SuiteTokenKey(c.cfg.SuiteID), stok); err != nil {
					return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Code: code,
						Message: "suite access token rejected and invalidating it failed", Err: c.redact(err, stok)}
				}
				continue
			}
			return nil, &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassRetryable, Code: code, Message: st.ErrMsg}
		}
		if credential {
			class, after := suiteClass(code)
			return nil, c.scope(tenant, &providers.Error{Provider: ProviderName, Op: op, Class: class, Code: code, Message: st.ErrMsg, RetryAfter: after})
		}
		return nil, c.scope(tenant, codeError(op, code, st.ErrMsg))
	}
}
