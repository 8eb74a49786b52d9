package wecom

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom/msgcrypt"
)

// Defaults of [CallbackOptions].
const (
	// DefaultCallbackTimeout bounds the work a callback request does before it
	// is answered. WeCom wants URL verification answered within a second, and
	// reset_permanent_code within 1000 ms (WeCom's API documentation).
	DefaultCallbackTimeout = 900 * time.Millisecond
	// DefaultCallbackDedupeTTL is how long a data callback is remembered to drop
	// WeCom's repeats of it (it retries three times within seconds).
	DefaultCallbackDedupeTTL = time.Hour
	// DefaultCallbackMaxBody is the largest callback body read (64 KiB).
	DefaultCallbackMaxBody = 64 << 10
)

// ResponseCodeTTL is how long the ResponseCode of a card click can update the
// card ("72小时内有效，且只能使用一次", WeCom's API documentation).
const ResponseCodeTTL = 72 * time.Hour

// Data-callback events the handler acts on (WeCom's API documentation).
const (
	EventTemplateCard     = "template_card_event"
	EventTemplateCardMenu = "template_card_menu_event"
)

// Types of the [CallbackEvent]s the handler publishes.
const (
	// EventTypeCardClick is a click on a template card's button, or a submit
	// of its selections (template_card_event).
	EventTypeCardClick = "wecom.card_click"
	// EventTypeCardMenuClick is a click in a template card's action menu
	// (template_card_menu_event).
	EventTypeCardMenuClick = "wecom.card_menu_click"
)

// CallbackSink is where the callback handler keeps what data callbacks tell.
// The dispatcher's implementation writes response codes with internal/respcode
// and events with internal/record.
type CallbackSink interface {
	// PutResponseCode stores the single-use ResponseCode of a card click for
	// (tenant, taskID, user) for ttl; a later click's code replaces it.
	PutResponseCode(ctx context.Context, tenant, taskID, user, code string, ttl time.Duration) error
	// PublishOnce appends ev to the app's events stream unless dedupeKey was
	// published within ttl (SET NX and append in one atomic step); it reports
	// whether ev was appended.
	PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *CallbackEvent) (bool, error)
}

// CallbackEvent is a verified card click, as published to the app's events
// stream. It holds no ResponseCode (a credential, stored apart).
type CallbackEvent struct {
	// ID is stable: "wecom-cb-" and 32 hex digits of the callback's dedupe key.
	ID string
	// Type is EventTypeCardClick or EventTypeCardMenuClick.
	Type string
	// Tenant is the authorising corp of a multi-tenant app; "" for a self-built app.
	Tenant string
	// User is the member who clicked (FromUserName), as WeCom sent it.
	User string
	// AgentID is the app's agentid in the corp.
	AgentID int64
	// TaskID is the card's task_id; EventKey the key of the button or menu item.
	TaskID   string
	EventKey string
	// CardType is the card's card_type (empty for menu clicks).
	CardType string
	// Selected are the answers of vote and multiple-choice cards.
	Selected []SelectedItem
	// At is the click's CreateTime.
	At time.Time
}

// SelectedItem is one answered question of a card.
type SelectedItem struct {
	// QuestionKey is the question's question_key.
	QuestionKey string `json:"question_key"`
	// OptionIDs are the ids of the options chosen.
	OptionIDs []string `json:"option_ids"`
}

// CallbackOptions configure a [CallbackHandler].
type CallbackOptions struct {
	// App is the configured app name. Required.
	App string
	// Config is the app's wecom block: its mode, ids and callback
	// credentials (CallbackToken and EncodingAESKey required).
	Config Config
	// Tenants, Tickets and Auth serve the instruction callbacks of a
	// multi-tenant app: cancel_auth disables a tenant, suite_ticket is stored,
	// create_auth, change_auth and reset_permanent_code are queued for
	// [Client.ProcessAuth]. Required for modes third_party and custom.
	Tenants TenantStore
	Tickets TicketStore
	Auth    AuthQueue
	// Sink stores card-click response codes and publishes clicks. Required.
	Sink CallbackSink
	// Now is the clock for timestamp checks. Default time.Now.
	Now func() time.Time
	// Logger receives one record per refused or failed callback (never a
	// secret or decrypted content). Default: discard.
	Logger *slog.Logger
	// Timeout bounds the work of one callback. Default DefaultCallbackTimeout.
	Timeout time.Duration
	// DedupeTTL is how long a data callback is remembered. Default
	// DefaultCallbackDedupeTTL.
	DedupeTTL time.Duration
	// MaxBody is the largest body read. Default DefaultCallbackMaxBody.
	MaxBody int64
}

// CallbackHandler is the http.Handler of one app's WeCom callback URL (the
// dispatcher serves it at /callbacks/wecom/{app}). It serves both the
// instruction URL (指令回调) and the data URL (数据回调) of a third-party or
// custom app, and the callback URL of a self-built app:
//
//   - GET is URL verification: msg_signature is checked, echostr decrypted and
//     its plain text written back at once.
//   - POST is a callback: msg_signature is checked in constant time, the body
//     decrypted with every check of WeCom's API documentation (package msgcrypt), and
//     timestamps more than 5 minutes away from the clock refused. The receive
//     id must be the suite id for instruction callbacks, and the corp id (a
//     self-built app's, or a known tenant's) for data callbacks.
//   - Instruction callbacks are answered "success": suite_ticket is stored;
//     cancel_auth disables the tenant (its messages wait, none is archived);
//     create_auth, change_auth and reset_permanent_code are queued on the
//     AuthQueue, whose worker calls WeCom (never inside the callback).
//   - Data callbacks template_card_event and template_card_menu_event store
//     the click's ResponseCode per (tenant, task_id, user) for ResponseCodeTTL
//     and publish the click once: repeats are recognised by MsgId, else by
//     FromUserName + CreateTime + Event + EventKey + TaskId (§8.3). They are
//     answered with an empty body; other data callbacks too.
//
// Refused requests get 400 (malformed) or 403 (signature, timestamp, receive
// id) with a short body that says no more; a failure to store gets 500, so
// that WeCom repeats the callback.
type CallbackHandler struct {
	o      CallbackOptions
	crypto *msgcrypt.Crypto
	log    *slog.Logger
}

// NewCallbackHandler returns the handler of o.App's callbacks. It fails when a
// required option is missing or the callback credentials are invalid; errors
// never contain them.
func NewCallbackHandler(o CallbackOptions) (*CallbackHandler, error) {
	switch {
	case o.App == "":
		return nil, errors.New("wecom: callback handler: App is required")
	case !o.Config.ReceivesCallbacks():
		return nil, fmt.Errorf("wecom: callback handler of app %s: callback_token and encoding_aes_key are required", o.App)
	case o.Sink == nil:
		return nil, fmt.Errorf("wecom: callback handler of app %s: Sink is required", o.App)
	case o.Config.MultiTenant() && (o.Tenants == nil || o.Tickets == nil || o.Auth == nil):
		return nil, fmt.Errorf("wecom: callback handler of app %s (mode %s): Tenants, Tickets and Auth are required", o.App, o.Config.EffectiveMode())
	case o.Config.MultiTenant() && o.Config.SuiteID == "":
		return nil, fmt.Errorf("wecom: callback handler of app %s: suite_id is required", o.App)
	case !o.Config.MultiTenant() && o.Config.CorpID == "":
		return nil, fmt.Errorf("wecom: callback handler of app %s: corp_id is required", o.App)
	}
	cr, err := msgcrypt.New(o.Config.CallbackToken, o.Config.EncodingAESKey) // receive ids are checked here
	if err != nil {
		return nil, fmt.Errorf("wecom: callback handler of app %s: %w", o.App, err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cr.Now = o.Now
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultCallbackTimeout
	}
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = DefaultCallbackDedupeTTL
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultCallbackMaxBody
	}
	return &CallbackHandler{o: o, crypto: cr, log: o.Logger.With("app", o.App)}, nil
}

// callbackXML is the decrypted content of a callback: the fields of the
// instruction callbacks and of the template-card events.
type callbackXML struct {
	XMLName xml.Name `xml:"xml"`
	// Instruction callbacks.
	SuiteID     string `xml:"SuiteId"`
	InfoType    string `xml:"InfoType"`
	TimeStamp   string `xml:"TimeStamp"`
	SuiteTicket string `xml:"SuiteTicket"`
	AuthCode    string `xml:"AuthCode"`
	AuthCorpID  string `xml:"AuthCorpId"`
	// Data callbacks.
	ToUserName    string `xml:"ToUserName"`
	FromUserName  string `xml:"FromUserName"`
	CreateTime    string `xml:"CreateTime"`
	MsgType       string `xml:"MsgType"`
	MsgID         string `xml:"MsgId"`
	Event         string `xml:"Event"`
	EventKey      string `xml:"EventKey"`
	TaskID        string `xml:"TaskId"`
	CardType      string `xml:"CardType"`
	ResponseCode  string `xml:"ResponseCode"`
	AgentID       string `xml:"AgentID"`
	SelectedItems struct {
		Items []struct {
			QuestionKey string `xml:"QuestionKey"`
			OptionIDs   struct {
				IDs []string `xml:"OptionId"`
			} `xml:"OptionIds"`
		} `xml:"SelectedItem"`
	} `xml:"SelectedItems"`
}

// refusal is a callback refused before any state changed.
type refusal struct {
	status int
	reason string
}

// Error returns the reason, for logs (never for the caller of the URL).
func (r *refusal) Error() string { return r.reason }

func refuse(status int, format string, args ...any) error {
	return &refusal{status: status, reason: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one callback request (see [CallbackHandler]).
func (h *CallbackHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	var (
		reply []byte
		err   error
	)
	switch r.Method {
	case http.MethodGet:
		reply, err = h.verifyURL(ctx, r)
	case http.MethodPost:
		reply, err = h.receive(ctx, w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		var rf *refusal
		if errors.As(err, &rf) {
			h.log.Warn("wecom callback refused", "method", r.Method, "status", rf.status, "reason", rf.reason)
			http.Error(w, http.StatusText(rf.status), rf.status)
			return
		}
		h.log.Error("wecom callback failed; WeCom will repeat it", "method", r.Method, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(reply)
}

// verifyURL answers URL verification with the decrypted echostr.
func (h *CallbackHandler) verifyURL(ctx context.Context, r *http.Request) ([]byte, error) {
	q := r.URL.Query()
	if q.Get("echostr") == "" {
		return nil, refuse(http.StatusBadRequest, "URL verification without echostr")
	}
	// Decrypt applies every check VerifyURL applies and also returns the
	// receive id, checked below against every id this URL may serve.
	echo, rid, err := h.crypto.Decrypt(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), q.Get("echostr"))
	if err != nil {
		return nil, cryptoRefusal(err)
	}
	if err := h.checkVerifyReceiveID(ctx, rid); err != nil {
		return nil, err
	}
	return echo, nil
}

// checkVerifyReceiveID accepts the receive ids a verification of this URL may
// carry: the self-built corp id, the suite id, the provider's corp id, or a
// known tenant.
func (h *CallbackHandler) checkVerifyReceiveID(ctx context.Context, rid string) error {
	cfg := h.o.Config
	if rid != "" && (rid == cfg.CorpID && !cfg.MultiTenant() || rid == cfg.SuiteID && cfg.MultiTenant() || rid == cfg.ProviderCorpID) {
		return nil
	}
	if cfg.MultiTenant() && rid != "" {
		if ok, err := h.knownTenant(ctx, rid); err != nil || ok {
			return err
		}
	}
	return refuse(http.StatusForbidden, "receive id %.64q is not this app's", rid)
}

// receive handles a POST callback and returns the reply body.
func (h *CallbackHandler) receive(ctx context.Context, w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	q := r.URL.Query()
	plain, rid, err := h.crypto.DecryptXML(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), body)
	if err != nil {
		return nil, cryptoRefusal(err)
	}
	var m callbackXML
	if err := xml.Unmarshal(plain, &m); err != nil {
		// The parser's message quotes the decrypted text, which may hold a
		// ticket or auth code: only the line is told.
		line := 0
		if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
			line = se.Line
		}
		return nil, refuse(http.StatusBadRequest, "decrypted callback is not XML (line %d)", line)
	}
	switch {
	case m.InfoType != "":
		return h.instruction(ctx, rid, &m)
	case m.MsgType != "":
		return h.data(ctx, rid, &m)
	default:
		return nil, refuse(http.StatusBadRequest, "callback has neither InfoType nor MsgType")
	}
}

// instruction handles an instruction callback and answers "success".
func (h *CallbackHandler) instruction(ctx context.Context, rid string, m *callbackXML) ([]byte, error) {
	cfg := h.o.Config
	if !cfg.MultiTenant() {
		return nil, refuse(http.StatusForbidden, "instruction callback %q for an app of mode self_built", m.InfoType)
	}
	if rid != cfg.SuiteID || (m.SuiteID != "" && m.SuiteID != cfg.SuiteID) {
		return nil, refuse(http.StatusForbidden, "instruction callback for suite %.64q (receive id %.64q), want %s", m.SuiteID, rid, cfg.SuiteID)
	}
	at := h.callbackTime(m.TimeStamp)
	success := []byte("success")
	switch m.InfoType {
	case InfoSuiteTicket:
		if m.SuiteTicket == "" {
			return nil, refuse(http.StatusBadRequest, "suite_ticket callback without SuiteTicket")
		}
		if err := h.o.Tickets.PutTicket(ctx, cfg.SuiteID, m.SuiteTicket, at); err != nil {
			return nil, fmt.Errorf("storing the suite_ticket: %w", err)
		}
	case InfoCreateAuth, InfoResetPermanentCode:
		if m.AuthCode == "" {
			return nil, refuse(http.StatusBadRequest, "%s callback without AuthCode", m.InfoType)
		}
		job := AuthJob{InfoType: m.InfoType, AuthCode: m.AuthCode, AuthCorpID: m.AuthCorpID, At: at}
		if err := h.o.Auth.EnqueueAuth(ctx, job); err != nil {
			return nil, fmt.Errorf("queueing %s: %w", m.InfoType, err)
		}
		h.log.Info("wecom authorisation queued", "info_type", m.InfoType, "auth_corp_id", m.AuthCorpID)
	case InfoChangeAuth:
		if m.AuthCorpID == "" {
			return nil, refuse(http.StatusBadRequest, "change_auth callback without AuthCorpId")
		}
		if err := h.o.Auth.EnqueueAuth(ctx, AuthJob{InfoType: m.InfoType, AuthCorpID: m.AuthCorpID, At: at}); err != nil {
			return nil, fmt.Errorf("queueing change_auth: %w", err)
		}
	case InfoCancelAuth:
		if m.AuthCorpID == "" {
			return nil, refuse(http.StatusBadRequest, "cancel_auth callback without AuthCorpId")
		}
		reason := "the corp cancelled its authorisation (cancel_auth at " + at.UTC().Format(time.RFC3339) + ")"
		if err := h.o.Tenants.DisableTenant(ctx, m.AuthCorpID, reason, at); err != nil {
			return nil, fmt.Errorf("disabling tenant %s: %w", m.AuthCorpID, err)
		}
		h.log.Info("wecom tenant disabled: authorisation cancelled", "tenant", m.AuthCorpID)
	default:
		// change_contact, change_external_contact, …: not used by the dispatcher.
		h.log.Debug("wecom instruction callback ignored", "info_type", m.InfoType)
	}
	return success, nil
}

// data handles a data callback and answers with an empty body.
func (h *CallbackHandler) data(ctx context.Context, rid string, m *callbackXML) ([]byte, error) {
	cfg := h.o.Config
	tenant := ""
	if cfg.MultiTenant() {
		tenant = m.ToUserName
		if tenant == "" || (rid != tenant && rid != cfg.ProviderCorpID && rid != cfg.SuiteID) {
			return nil, refuse(http.StatusForbidden, "data callback for corp %.64q with receive id %.64q", tenant, rid)
		}
		ok, err := h.knownTenant(ctx, tenant)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, refuse(http.StatusForbidden, "data callback for unknown tenant %.64q", tenant)
		}
	} else if rid != cfg.CorpID {
		return nil, refuse(http.StatusForbidden, "receive id %.64q is not corp %s", rid, cfg.CorpID)
	}
	if m.MsgType != "event" || (m.Event != EventTemplateCard && m.Event != EventTemplateCardMenu) {
		h.log.Debug("wecom data callback ignored", "msg_type", m.MsgType, "event", m.Event)
		return nil, nil
	}
	at := h.callbackTime(m.CreateTime)
	user := NormalizeUser(cfg.EffectiveMode(), m.FromUserName)
	if m.ResponseCode != "" && m.TaskID != "" && user != "" {
		if err := h.o.Sink.PutResponseCode(ctx, tenant, m.TaskID, user, m.ResponseCode, ResponseCodeTTL); err != nil {
			return nil, fmt.Errorf("storing the response code: %w", err)
		}
	}
	key := dedupeKey(tenant, m)
	ev := &CallbackEvent{
		ID: "wecom-cb-" + key, Type: EventTypeCardClick, Tenant: tenant, User: m.FromUserName,
		TaskID: m.TaskID, EventKey: m.EventKey, CardType: m.CardType, At: at,
	}
	if m.Event == EventTemplateCardMenu {
		ev.Type = EventTypeCardMenuClick
	}
	ev.AgentID, _ = strconv.ParseInt(strings.TrimSpace(m.AgentID), 10, 64)
	for _, it := range m.SelectedItems.Items {
		ev.Selected = append(ev.Selected, SelectedItem{QuestionKey: it.QuestionKey, OptionIDs: it.OptionIDs.IDs})
	}
	if _, err := h.o.Sink.PublishOnce(ctx, key, h.o.DedupeTTL, ev); err != nil {
		return nil, fmt.Errorf("publishing the click: %w", err)
	}
	return nil, nil
}

// dedupeKey identifies a data callback across WeCom's repeats: MsgId when it
// has one, else FromUserName + CreateTime + Event + EventKey + TaskId
// (WeCom's API documentation), per tenant: 32 hex digits of their SHA-256.
func dedupeKey(tenant string, m *callbackXML) string {
	parts := []string{tenant, "msgid", m.MsgID}
	if m.MsgID == "" {
		parts = []string{tenant, "event", m.FromUserName, m.CreateTime, m.Event, m.EventKey, m.TaskID}
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// knownTenant reports whether corpID is a tenant of the app (disabled ones
// included: their clicks still happened).
func (h *CallbackHandler) knownTenant(ctx context.Context, corpID string) (bool, error) {
	_, err := h.o.Tenants.Tenant(ctx, corpID)
	switch {
	case errors.Is(err, ErrUnknownTenant):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading tenant %s: %w", corpID, err)
	}
	return true, nil
}

// callbackTime reads a callback's TimeStamp or CreateTime (unix seconds); an
// absent or unreadable one is now.
func (h *CallbackHandler) callbackTime(s string) time.Time {
	if secs, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && secs > 0 {
		return time.Unix(secs, 0)
	}
	return h.o.Now()
}

// cryptoRefusal maps a msgcrypt error to a refusal: 403 for a request that
// is not authentic or not fresh, 400 for one that is malformed.
func cryptoRefusal(err error) error {
	switch {
	case errors.Is(err, msgcrypt.ErrSignature), errors.Is(err, msgcrypt.ErrStale), errors.Is(err, msgcrypt.ErrReceiveID):
		return refuse(http.StatusForbidden, "%v", err)
	default:
		return refuse(http.StatusBadRequest, "%v", err)
	}
}
