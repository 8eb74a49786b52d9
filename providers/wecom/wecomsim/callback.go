package wecomsim

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom/msgcrypt"
)

// CallbackConfig is where a self-built app's callbacks go and how they are
// signed and encrypted.
type CallbackConfig struct {
	// URL receives the callbacks.
	URL string
	// Token and EncodingAESKey sign and encrypt them (43 characters).
	Token          string
	EncodingAESKey string
}

// Callback is one signed, encrypted callback request as WeCom sends it: a POST
// of the XML envelope Body to URL, whose query holds msg_signature, timestamp
// and nonce. [Sim.Deliver] sends it (again); tests may alter it first.
type Callback struct {
	// Kind is the InfoType of an instruction callback or the Event of a data
	// callback.
	Kind string
	// URL is the callback URL with msg_signature, timestamp and nonce.
	URL string
	// Body is the XML envelope (<xml><ToUserName/><Encrypt/><AgentID/></xml>).
	Body []byte
}

// CardClick is a member clicking a template card (template_card_event) or
// its action menu (template_card_menu_event).
type CardClick struct {
	// SuiteID names the suite of a tenant; empty for a self-built app.
	SuiteID string
	// CorpID is the corp (the tenant, or the self-built app's corp).
	CorpID string
	// AgentID is the self-built app's agentid (a tenant's comes from its
	// installation).
	AgentID int64
	// User is the member who clicked. Required.
	User string
	// TaskID, EventKey and CardType are those of the card and its button.
	TaskID   string
	EventKey string
	CardType string
	// Menu makes it a template_card_menu_event.
	Menu bool
	// Selected are the answers of a vote or multiple-choice card.
	Selected []Selection
}

// Selection is one answered question of a card.
type Selection struct {
	// QuestionKey is the question's key; OptionIDs the options chosen.
	QuestionKey string
	OptionIDs   []string
}

// SetAppCallback configures where the self-built app's data callbacks go
// ([Sim.FireCardClick]).
func (s *Sim) SetAppCallback(corpID string, agentID int64, cfg CallbackConfig) error {
	if _, err := msgcrypt.New(cfg.Token, cfg.EncodingAESKey); err != nil {
		return fmt.Errorf("wecomsim: SetAppCallback: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[appKey{corp: corpKey(corpID), agent: agentID}]
	if a == nil {
		return fmt.Errorf("wecomsim: SetAppCallback: no app %d in %s", agentID, corpID)
	}
	a.callback = &cfg
	return nil
}

// FireSuiteTicket issues a new suite_ticket ([Sim.RotateTicket]) and pushes it
// to the suite's CallbackURL (InfoType suite_ticket), as WeCom does every ten
// minutes. It fails unless the answer is "success".
func (s *Sim) FireSuiteTicket(ctx context.Context, suiteID string) (string, Callback, error) {
	s.mu.Lock()
	su := s.suites[suiteID]
	if su == nil {
		s.mu.Unlock()
		return "", Callback{}, fmt.Errorf("wecomsim: unknown suite %q", suiteID)
	}
	ticket := s.rotateTicketLocked(su)
	cb, err := s.instructionLocked(su, "suite_ticket", "SuiteTicket", ticket)
	s.mu.Unlock()
	if err != nil {
		return "", Callback{}, err
	}
	return ticket, cb, s.deliverInstruction(ctx, cb)
}

// FireCreateAuth pushes create_auth with authCode (from [Sim.InstallTenant])
// to the suite's CallbackURL. It fails unless the answer is "success".
func (s *Sim) FireCreateAuth(ctx context.Context, suiteID, authCode string) (Callback, error) {
	s.mu.Lock()
	su := s.suites[suiteID]
	if su == nil {
		s.mu.Unlock()
		return Callback{}, fmt.Errorf("wecomsim: unknown suite %q", suiteID)
	}
	cb, err := s.instructionLocked(su, "create_auth", "AuthCode", authCode, "State", "")
	s.mu.Unlock()
	if err != nil {
		return Callback{}, err
	}
	return cb, s.deliverInstruction(ctx, cb)
}

// FireCancelAuth cancels the corp's authorisation ([Sim.CancelTenant]) and
// pushes cancel_auth to the suite's CallbackURL. It fails unless the answer is
// "success".
func (s *Sim) FireCancelAuth(ctx context.Context, suiteID, corpID string) (Callback, error) {
	s.mu.Lock()
	inst, err := s.installLocked(suiteID, corpID)
	if err != nil {
		s.mu.Unlock()
		return Callback{}, err
	}
	inst.cancelled = true
	cb, err := s.instructionLocked(inst.suite, "cancel_auth", "AuthCorpId", inst.corpID)
	s.mu.Unlock()
	if err != nil {
		return Callback{}, err
	}
	return cb, s.deliverInstruction(ctx, cb)
}

// FireResetPermanentCode issues a reset auth_code ([Sim.ResetPermanentCode])
// and pushes reset_permanent_code to the suite's CallbackURL.
func (s *Sim) FireResetPermanentCode(ctx context.Context, suiteID, corpID string) (Callback, error) {
	s.mu.Lock()
	inst, err := s.installLocked(suiteID, corpID)
	if err != nil {
		s.mu.Unlock()
		return Callback{}, err
	}
	code := s.newAuthCodeLocked(inst, true)
	cb, err := s.instructionLocked(inst.suite, "reset_permanent_code", "AuthCode", code, "AuthCorpId", inst.corpID)
	s.mu.Unlock()
	if err != nil {
		return Callback{}, err
	}
	return cb, s.deliverInstruction(ctx, cb)
}

// CardClickCallback builds the data callback of click with a fresh
// ResponseCode, without sending it. For a tenant the callback goes to its
// suite's CallbackURL with the tenant's corp id as receive id; for a
// self-built app to its SetAppCallback URL with its corp id.
func (s *Sim) CardClickCallback(click CardClick) (Callback, string, error) {
	if click.User == "" {
		return Callback{}, "", errors.New("wecomsim: CardClick: User is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		cr      *msgcrypt.Crypto
		target  string
		corpID  = click.CorpID
		agentID = click.AgentID
	)
	if click.SuiteID != "" {
		inst, err := s.installLocked(click.SuiteID, click.CorpID)
		if err != nil {
			return Callback{}, "", err
		}
		cr, target, corpID, agentID = inst.suite.crypto, inst.suite.CallbackURL, inst.corpID, inst.agentID
	} else {
		a := s.apps[appKey{corp: corpKey(click.CorpID), agent: click.AgentID}]
		if a == nil || a.callback == nil {
			return Callback{}, "", fmt.Errorf("wecomsim: CardClick: app %d of %s has no callback configuration", click.AgentID, click.CorpID)
		}
		cfg := a.callback
		c, err := msgcrypt.New(cfg.Token, cfg.EncodingAESKey)
		if err != nil {
			return Callback{}, "", err
		}
		cr, target, corpID = c, cfg.URL, a.CorpID
	}
	if cr == nil || target == "" {
		return Callback{}, "", errors.New("wecomsim: CardClick: no callback URL or credentials configured")
	}
	event := "template_card_event"
	if click.Menu {
		event = "template_card_menu_event"
	}
	code := s.randIDLocked(43)
	s.noteClickCodeLocked(corpID, agentID, click.TaskID, code) // update.go: the code updates the card once
	var x xmlBuilder
	x.field("ToUserName", corpID)
	x.field("FromUserName", click.User)
	x.raw("CreateTime", strconv.FormatInt(s.clock().Unix(), 10))
	x.field("MsgType", "event")
	x.field("Event", event)
	x.field("EventKey", click.EventKey)
	x.field("TaskId", click.TaskID)
	if !click.Menu {
		x.field("CardType", click.CardType)
	}
	x.field("ResponseCode", code)
	x.raw("AgentID", strconv.FormatInt(agentID, 10))
	if len(click.Selected) > 0 {
		x.b.WriteString("<SelectedItems>")
		for _, sel := range click.Selected {
			x.b.WriteString("<SelectedItem>")
			x.field("QuestionKey", sel.QuestionKey)
			x.b.WriteString("<OptionIds>")
			for _, id := range sel.OptionIDs {
				x.field("OptionId", id)
			}
			x.b.WriteString("</OptionIds></SelectedItem>")
		}
		x.b.WriteString("</SelectedItems>")
	}
	cb, err := s.sealLocked(cr, target, event, x.doc(), corpID, corpID, strconv.FormatInt(agentID, 10))
	return cb, code, err
}

// FireCardClick builds the click's callback ([Sim.CardClickCallback]) and
// sends it; it fails unless the answer is 200. It returns the callback (to
// send again) and the click's ResponseCode.
func (s *Sim) FireCardClick(ctx context.Context, click CardClick) (Callback, string, error) {
	cb, code, err := s.CardClickCallback(click)
	if err != nil {
		return Callback{}, "", err
	}
	status, body, err := s.Deliver(ctx, cb)
	if err != nil {
		return cb, code, err
	}
	if status != http.StatusOK {
		return cb, code, fmt.Errorf("wecomsim: %s callback answered %d %q", cb.Kind, status, body)
	}
	return cb, code, nil
}

// Deliver POSTs cb and returns the HTTP status and the answer.
func (s *Sim) Deliver(ctx context.Context, cb Callback) (status int, answer string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(cb.Body))
	if err != nil {
		return 0, "", fmt.Errorf("wecomsim: deliver %s: %w", cb.Kind, err)
	}
	req.Header.Set("Content-Type", "text/xml")
	hc := s.opts.CallbackClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("wecomsim: deliver %s: %w", cb.Kind, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
}

// VerifyURL sends the GET URL verification WeCom sends when a callback URL is
// configured, for receiveID (the suite id, or a corp id), and returns the
// status and the answer, which must be echo.
func (s *Sim) VerifyURL(ctx context.Context, suiteID, receiveID, echo string) (status int, answer string, err error) {
	s.mu.Lock()
	su := s.suites[suiteID]
	if su == nil || su.crypto == nil || su.CallbackURL == "" {
		s.mu.Unlock()
		return 0, "", fmt.Errorf("wecomsim: suite %q has no callback configuration", suiteID)
	}
	cr, target := su.crypto, su.CallbackURL
	ts, nonce := strconv.FormatInt(s.clock().Unix(), 10), s.randIDLocked(16)
	s.mu.Unlock()
	enc, err := cr.Seal([]byte(echo), receiveID)
	if err != nil {
		return 0, "", err
	}
	q := url.Values{"msg_signature": {cr.Signature(ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {enc}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target+sep(target)+q.Encode(), nil)
	if err != nil {
		return 0, "", err
	}
	hc := s.opts.CallbackClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), nil
}

// deliverInstruction sends an instruction callback, which must be answered
// "success" ("服务商在收到推送后都必须直接返回字符串 \"success\"").
func (s *Sim) deliverInstruction(ctx context.Context, cb Callback) error {
	status, body, err := s.Deliver(ctx, cb)
	if err != nil {
		return err
	}
	if status != http.StatusOK || body != "success" {
		return fmt.Errorf("wecomsim: %s callback answered %d %q, want 200 \"success\"", cb.Kind, status, body)
	}
	return nil
}

// instructionLocked builds an instruction callback of su with the extra
// fields (name, value pairs).
func (s *Sim) instructionLocked(su *suite, infoType string, fields ...string) (Callback, error) {
	if su.crypto == nil || su.CallbackURL == "" {
		return Callback{}, fmt.Errorf("wecomsim: suite %s has no callback configuration (CallbackURL, Token, EncodingAESKey)", su.ID)
	}
	var x xmlBuilder
	x.field("SuiteId", su.ID)
	x.field("InfoType", infoType)
	x.raw("TimeStamp", strconv.FormatInt(s.clock().Unix(), 10))
	for i := 0; i+1 < len(fields); i += 2 {
		x.field(fields[i], fields[i+1])
	}
	return s.sealLocked(su.crypto, su.CallbackURL, infoType, x.doc(), su.ID, su.ID, "")
}

// sealLocked encrypts msg for receiveID, signs it and wraps it in the POST
// envelope WeCom sends.
func (s *Sim) sealLocked(cr *msgcrypt.Crypto, target, kind string, msg []byte, receiveID, toUser, agentID string) (Callback, error) {
	enc, err := cr.Seal(msg, receiveID)
	if err != nil {
		return Callback{}, err
	}
	ts, nonce := strconv.FormatInt(s.clock().Unix(), 10), s.randIDLocked(16)
	var env xmlBuilder
	env.field("ToUserName", toUser)
	env.field("Encrypt", enc)
	env.field("AgentID", agentID)
	q := url.Values{"msg_signature": {cr.Signature(ts, nonce, enc)}, "timestamp": {ts}, "nonce": {nonce}}
	return Callback{Kind: kind, URL: target + sep(target) + q.Encode(), Body: env.doc()}, nil
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

// xmlBuilder writes the flat <xml> documents of WeCom callbacks.
type xmlBuilder struct{ b bytes.Buffer }

// field writes <name>value</name> with value escaped.
func (x *xmlBuilder) field(name, value string) {
	x.b.WriteString("<" + name + ">")
	_ = xml.EscapeText(&x.b, []byte(value))
	x.b.WriteString("</" + name + ">")
}

// raw writes <name>value</name> for a value that needs no escaping (numbers).
func (x *xmlBuilder) raw(name, value string) {
	x.b.WriteString("<" + name + ">" + value + "</" + name + ">")
}

func (x *xmlBuilder) doc() []byte { return []byte("<xml>" + x.b.String() + "</xml>") }
