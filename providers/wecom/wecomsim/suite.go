package wecomsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom/msgcrypt"
)

// Lifetimes of the suite model.
const (
	// TicketLifetime is how long a suite_ticket is accepted after it was
	// issued ("suite_ticket实际有效期为30分钟").
	TicketLifetime = 30 * time.Minute
	// AuthCodeLifetime is how long an auth_code can be exchanged ("10分钟内有效").
	AuthCodeLifetime = 10 * time.Minute
)

// Suite is a third-party app (第三方应用) as its service provider registered it,
// or a 代开发 template (Custom). Companies install it with [Sim.InstallTenant].
type Suite struct {
	// ID is the suite_id ("ww…"/"wx…"; "dk…" for a 代开发 template). Required.
	ID string
	// Secret is the suite_secret. Required; never logged or recorded.
	Secret string
	// Custom makes it a 代开发 template: a tenant's permanent code is its app
	// secret, and its tokens come from gettoken.
	Custom bool
	// CallbackURL is where the simulator fires the suite's instruction
	// callbacks and its tenants' data callbacks (the dispatcher serves both at
	// /callbacks/wecom/{app}).
	CallbackURL string
	// Token and EncodingAESKey are the callback configuration; required to
	// fire callbacks.
	Token          string
	EncodingAESKey string
}

// Install is a company installing a suite.
type Install struct {
	// CorpID is the corp's id as the suite sees it: for a third-party suite an
	// encrypted, case-sensitive id (its userids are case-sensitive too).
	// Required.
	CorpID string
	// CorpName is the corp's name.
	CorpName string
	// AgentID is the app's agentid in the corp. Required, > 0.
	AgentID int64
	// UserMax is the corp's seat count (corp_user_max).
	UserMax int
	// Users are the corp's members with a licence.
	Users []string
	// Unlicensed are members without 基础接口许可 (接口调用许可): message/send does
	// not deliver to them and lists them in unlicenseduser.
	Unlicensed []string
}

// Installation is the result of [Sim.InstallTenant].
type Installation struct {
	// CorpID and AgentID are those of the Install.
	CorpID  string
	AgentID int64
	// AuthCode is the temporary authorisation code the create_auth callback
	// carries; get_permanent_code exchanges it once, within AuthCodeLifetime.
	AuthCode string
}

type suite struct {
	Suite
	crypto     *msgcrypt.Crypto // nil without callback configuration
	ticket     string
	ticketAt   time.Time
	prevTicket string
	prevAt     time.Time
	token      *suiteToken
	fetches    int
	installs   map[string]*install // by corpKey
}

type suiteToken struct {
	value   string
	suite   *suite
	expires time.Time
}

type install struct {
	suite     *suite
	corpID    string
	corpName  string
	userMax   int
	agentID   int64
	code      string // the permanent code
	app       *app
	cancelled bool
}

type authCode struct {
	value   string
	install *install
	expires time.Time
	used    bool
	reset   bool // reset_permanent_code: exchanging it issues a new permanent code
}

// AddSuite registers a suite, or replaces the registration of one with the
// same ID (its tickets, tokens and installations are kept).
func (s *Sim) AddSuite(su Suite) error {
	su.ID = strings.TrimSpace(su.ID)
	if su.ID == "" || su.Secret == "" {
		return errors.New("wecomsim: AddSuite: ID and Secret are required")
	}
	var cr *msgcrypt.Crypto
	if su.Token != "" || su.EncodingAESKey != "" {
		c, err := msgcrypt.New(su.Token, su.EncodingAESKey)
		if err != nil {
			return fmt.Errorf("wecomsim: AddSuite %s: %w", su.ID, err)
		}
		cr = c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.suites[su.ID]; cur != nil {
		cur.Suite, cur.crypto = su, cr
		return nil
	}
	s.suites[su.ID] = &suite{Suite: su, crypto: cr, installs: map[string]*install{}}
	return nil
}

// RotateTicket issues a new suite_ticket for the suite (the current one
// becomes the previous one, still accepted until its 30 minutes end) and
// returns it. [Sim.FireSuiteTicket] also pushes it.
func (s *Sim) RotateTicket(suiteID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	su := s.suites[suiteID]
	if su == nil {
		return "", fmt.Errorf("wecomsim: unknown suite %q", suiteID)
	}
	return s.rotateTicketLocked(su), nil
}

func (s *Sim) rotateTicketLocked(su *suite) string {
	su.prevTicket, su.prevAt = su.ticket, su.ticketAt
	su.ticket, su.ticketAt = s.randIDLocked(48), s.clock()
	return su.ticket
}

// InstallTenant installs the suite in a company: the corp is created with its
// members, the app gets its agentid, and a permanent code and an auth_code are
// issued (the create_auth callback carries the auth_code; fire it with
// [Sim.FireCreateAuth]). Installing again after [Sim.CancelTenant] re-installs
// with a new permanent code.
func (s *Sim) InstallTenant(suiteID string, in Install) (Installation, error) {
	in.CorpID = strings.TrimSpace(in.CorpID)
	if in.CorpID == "" || in.AgentID <= 0 {
		return Installation{}, errors.New("wecomsim: InstallTenant: CorpID and AgentID > 0 are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	su := s.suites[suiteID]
	if su == nil {
		return Installation{}, fmt.Errorf("wecomsim: InstallTenant: unknown suite %q", suiteID)
	}
	ck := corpKey(in.CorpID)
	if cur := su.installs[ck]; cur != nil && !cur.cancelled {
		return Installation{}, fmt.Errorf("wecomsim: InstallTenant: suite %s is already installed in %s", suiteID, in.CorpID)
	}
	_, existed := s.corps[ck]
	c := s.corpLocked(in.CorpID)
	if !existed {
		c.caseSensitive = true // ids seen through a suite are encrypted
	}
	s.addUsersLocked(c, in.Users)
	unl := map[string]bool{}
	for _, u := range s.addUsersLocked(c, in.Unlicensed) {
		unl[u] = true
	}
	key := appKey{corp: ck, agent: in.AgentID}
	a := s.apps[key]
	if a != nil && a.install == nil {
		return Installation{}, fmt.Errorf("wecomsim: InstallTenant: corp %s already has a self-built app %d", in.CorpID, in.AgentID)
	}
	inst := &install{suite: su, corpID: in.CorpID, corpName: in.CorpName, userMax: in.UserMax, agentID: in.AgentID, code: s.randIDLocked(43)}
	if a == nil {
		a = &app{App: App{CorpID: in.CorpID, AgentID: in.AgentID}, key: key, taskIDs: map[string]struct{}{}}
		s.apps[key] = a
	}
	a.install, a.unlicensed, a.token = inst, unl, nil
	a.Secret = ""
	if su.Custom {
		a.Secret = inst.code // a 代开发 app's secret is its permanent code
	}
	inst.app = a
	su.installs[ck] = inst
	ac := s.newAuthCodeLocked(inst, false)
	return Installation{CorpID: in.CorpID, AgentID: in.AgentID, AuthCode: ac}, nil
}

func (s *Sim) newAuthCodeLocked(inst *install, reset bool) string {
	ac := &authCode{install: inst, expires: s.clock().Add(AuthCodeLifetime), reset: reset}
	for ac.value == "" || s.authCodes[ac.value] != nil {
		ac.value = s.randIDLocked(32)
	}
	s.authCodes[ac.value] = ac
	return ac.value
}

// CancelTenant cancels the corp's authorisation of the suite, as its admin
// uninstalling the app: get_corp_token and get_auth_info answer 40084,
// message/send with a token issued before answers 48004, and a 代开发 app's
// gettoken refuses the permanent code (40001). [Sim.FireCancelAuth] also
// tells the dispatcher.
func (s *Sim) CancelTenant(suiteID, corpID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.installLocked(suiteID, corpID)
	if err != nil {
		return err
	}
	inst.cancelled = true
	return nil
}

// ResetPermanentCode issues an auth_code that, exchanged with
// get_permanent_code, gives the corp a new permanent code (the old one is
// refused from then on). [Sim.FireResetPermanentCode] also tells the
// dispatcher.
func (s *Sim) ResetPermanentCode(suiteID, corpID string) (authCode string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.installLocked(suiteID, corpID)
	if err != nil {
		return "", err
	}
	return s.newAuthCodeLocked(inst, true), nil
}

// PermanentCode returns the corp's current permanent code (for tests that
// check it is never stored or shown in clear).
func (s *Sim) PermanentCode(suiteID, corpID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.installLocked(suiteID, corpID)
	if err != nil {
		return "", false
	}
	return inst.code, true
}

// SuiteTicket returns the suite's current suite_ticket ("" before the first).
func (s *Sim) SuiteTicket(suiteID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if su := s.suites[suiteID]; su != nil {
		return su.ticket
	}
	return ""
}

// SuiteTokenFetches returns how many get_suite_token calls succeeded for the suite.
func (s *Sim) SuiteTokenFetches(suiteID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if su := s.suites[suiteID]; su != nil {
		return su.fetches
	}
	return 0
}

// ExpireSuiteTokens makes every suite_access_token expire now: calls with
// them get 42009 and the next get_suite_token issues a new one.
func (s *Sim) ExpireSuiteTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	for _, t := range s.suiteToks {
		if t.expires.After(now) {
			t.expires = now
		}
	}
}

func (s *Sim) installLocked(suiteID, corpID string) (*install, error) {
	su := s.suites[suiteID]
	if su == nil {
		return nil, fmt.Errorf("wecomsim: unknown suite %q", suiteID)
	}
	inst := su.installs[corpKey(corpID)]
	if inst == nil {
		return nil, fmt.Errorf("wecomsim: suite %s is not installed in %s", suiteID, corpID)
	}
	return inst, nil
}

// okResp answers a suite call that returns errcode only on failure
// ("该接口在调用失败时才返回errcode。没返回errcode视为调用成功"): v has no errcode.
func okResp(rec *Request, v any) reply {
	rec.ErrCode = CodeOK
	return reply{status: http.StatusOK, v: v}
}

// handleSuiteToken serves POST /cgi-bin/service/get_suite_token with
// {"suite_id","suite_secret","suite_ticket"}: 40083 unknown suite, 40080 wrong
// secret, 40085 a ticket that is neither the current one nor the previous
// one within TicketLifetime. Success has no errcode. Within its lifetime the
// same token is returned with the remaining expires_in.
func (s *Sim) handleSuiteToken(_ *http.Request, body []byte, rec *Request) reply {
	var req struct {
		SuiteID     string `json:"suite_id"`
		SuiteSecret string `json:"suite_secret"`
		SuiteTicket string `json:"suite_ticket"`
	}
	if json.Unmarshal(body, &req) != nil {
		return errReply(rec, CodeInvalidParam)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	su := s.suites[req.SuiteID]
	switch {
	case su == nil:
		return errReply(rec, CodeInvalidSuiteID)
	case req.SuiteSecret != su.Secret:
		return errReply(rec, CodeInvalidSuiteSecret)
	}
	now := s.clock()
	valid := func(t string, at time.Time) bool {
		return t != "" && req.SuiteTicket == t && now.Before(at.Add(TicketLifetime))
	}
	if !valid(su.ticket, su.ticketAt) && !valid(su.prevTicket, su.prevAt) {
		return errReply(rec, CodeInvalidSuiteTicket)
	}
	su.fetches++
	t := su.token
	if t == nil || t.expires.Sub(now) < time.Second {
		t = &suiteToken{suite: su, expires: now.Add(s.opts.TokenTTL)}
		for t.value == "" || s.suiteToks[t.value] != nil {
			t.value = s.randIDLocked(64)
		}
		s.suiteToks[t.value] = t
		su.token = t
	}
	return okResp(rec, map[string]any{"suite_access_token": t.value, "expires_in": int64(t.expires.Sub(now) / time.Second)})
}

// suiteAuthLocked resolves the suite_access_token of r: 40082 missing or
// unknown, 42009 expired.
func (s *Sim) suiteAuthLocked(r *http.Request, now time.Time) (*suite, int) {
	t := s.suiteToks[r.URL.Query().Get("suite_access_token")]
	switch {
	case t == nil:
		return nil, CodeInvalidSuiteToken
	case !now.Before(t.expires):
		return nil, CodeSuiteTokenExpired
	}
	return t.suite, CodeOK
}

// tenantLocked checks a suite call's auth_corpid and permanent_code: 40084
// for an unknown corp, a wrong code or a cancelled authorisation.
func (s *Sim) tenantLocked(su *suite, corpID, code string, rec *Request) (*install, int) {
	inst := su.installs[corpKey(corpID)]
	if inst == nil || inst.cancelled || code == "" || code != inst.code {
		return nil, CodeInvalidPermanentCode
	}
	rec.CorpID, rec.AgentID = inst.corpID, inst.agentID
	return inst, CodeOK
}

// handleCorpToken serves POST /cgi-bin/service/get_corp_token?suite_access_token=
// with {"auth_corpid","permanent_code"}: the corp's access_token for
// message/send. Success has no errcode.
func (s *Sim) handleCorpToken(r *http.Request, body []byte, rec *Request) reply {
	var req struct {
		AuthCorpID    string `json:"auth_corpid"`
		PermanentCode string `json:"permanent_code"`
	}
	if json.Unmarshal(body, &req) != nil {
		return errReply(rec, CodeInvalidParam)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	su, code := s.suiteAuthLocked(r, now)
	if code != CodeOK {
		return errReply(rec, code)
	}
	inst, code := s.tenantLocked(su, req.AuthCorpID, req.PermanentCode, rec)
	if code != CodeOK {
		return errReply(rec, code)
	}
	a := inst.app
	a.fetches++
	t := s.appTokenLocked(a, now)
	return okResp(rec, map[string]any{"access_token": t.value, "expires_in": int64(t.expires.Sub(now) / time.Second)})
}

// handlePermanentCode serves POST /cgi-bin/service/v2/get_permanent_code with
// {"auth_code"}: 40078 for an auth_code unknown, used, expired or of another
// suite. A reset_permanent_code auth_code issues a new permanent code.
func (s *Sim) handlePermanentCode(r *http.Request, body []byte, rec *Request) reply {
	var req struct {
		AuthCode string `json:"auth_code"`
	}
	if json.Unmarshal(body, &req) != nil {
		return errReply(rec, CodeInvalidParam)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	su, code := s.suiteAuthLocked(r, now)
	if code != CodeOK {
		return errReply(rec, code)
	}
	ac := s.authCodes[req.AuthCode]
	if ac == nil || ac.used || !now.Before(ac.expires) || ac.install.suite != su {
		return errReply(rec, CodeInvalidAuthCode)
	}
	ac.used = true
	inst := ac.install
	if ac.reset {
		inst.code = s.randIDLocked(43)
		if su.Custom {
			inst.app.Secret = inst.code
		}
	}
	rec.CorpID, rec.AgentID = inst.corpID, inst.agentID
	return okResp(rec, map[string]any{
		"errcode": CodeOK, "errmsg": errMsg(CodeOK),
		"permanent_code": inst.code,
		"auth_corp_info": map[string]any{"corpid": inst.corpID, "corp_name": inst.corpName},
		"auth_user_info": map[string]any{"userid": "", "open_userid": "", "name": "", "avatar": ""},
		"state":          "",
	})
}

// handleAuthInfo serves POST /cgi-bin/service/v2/get_auth_info with
// {"auth_corpid","permanent_code"}: the corp (corp_user_max) and the app's
// agentid.
func (s *Sim) handleAuthInfo(r *http.Request, body []byte, rec *Request) reply {
	var req struct {
		AuthCorpID    string `json:"auth_corpid"`
		PermanentCode string `json:"permanent_code"`
	}
	if json.Unmarshal(body, &req) != nil {
		return errReply(rec, CodeInvalidParam)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	su, code := s.suiteAuthLocked(r, s.clock())
	if code != CodeOK {
		return errReply(rec, code)
	}
	inst, code := s.tenantLocked(su, req.AuthCorpID, req.PermanentCode, rec)
	if code != CodeOK {
		return errReply(rec, code)
	}
	return okResp(rec, map[string]any{
		"errcode": CodeOK, "errmsg": errMsg(CodeOK),
		"auth_corp_info": map[string]any{"corpid": inst.corpID, "corp_name": inst.corpName, "corp_user_max": inst.userMax},
		"auth_info":      map[string]any{"agent": []map[string]any{{"agentid": inst.agentID, "name": "app"}}},
	})
}
