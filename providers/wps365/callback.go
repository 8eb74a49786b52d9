package wps365

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Defaults of [CallbackOptions].
const (
	// DefaultCallbackTimeout bounds the work of one callback: WPS wants card
	// callbacks answered within 3 s and the URL check within 1 s
	// (the WPS open-platform documentation).
	DefaultCallbackTimeout = 2500 * time.Millisecond
	// DefaultCallbackDedupeTTL is how long a callback is remembered to drop a
	// replay of it (longer than the 5-minute date window).
	DefaultCallbackDedupeTTL = 15 * time.Minute
	// DefaultCallbackMaxBody is the largest callback body read (64 KiB).
	DefaultCallbackMaxBody = 64 << 10
)

// Types of the [CallbackEvent]s the handler publishes.
const (
	// EventTypeCardClick is an action on a card (callback_name "xz_card").
	EventTypeCardClick = "wps365.card_click"
	// EventTypeEvent is a subscribed event that arrived encrypted (§1.5).
	EventTypeEvent = "wps365.event"
)

// CallbackSink publishes what callbacks tell to the app's events stream.
type CallbackSink interface {
	// PublishOnce appends ev unless dedupeKey was published within ttl (SET NX
	// and append in one atomic step); it reports whether ev was appended.
	PublishOnce(ctx context.Context, dedupeKey string, ttl time.Duration, ev *CallbackEvent) (bool, error)
}

// CallbackEvent is a verified callback, as published.
type CallbackEvent struct {
	// ID is stable: "wps365-cb-" and 32 hex digits of the dedupe key.
	ID string
	// Type is EventTypeCardClick or EventTypeEvent.
	Type string
	// App is the configured app name.
	App string
	// CompanyID is data.company_id of a card callback.
	CompanyID string
	// AppCtxID is data.app_ctx_id of a card callback: the context id the card
	// was sent with, which the core maps to its dispatcher message id.
	AppCtxID string
	// User is data.user_id when the callback carries one (not documented).
	User string
	// Action is content.action (the button's key); Values are the other keys
	// of content (inputs, selectors) as strings or JSON text.
	Action string
	Values map[string]string
	// Topic, Operation and Data are an event's topic, operation and
	// decrypted JSON.
	Topic     string
	Operation string
	Data      json.RawMessage
	// At is when the callback was signed.
	At time.Time
}

// CallbackOptions configure a [CallbackHandler].
type CallbackOptions struct {
	// App is the configured app name. Required.
	App string
	// Config is the app's wps365 block (app_id and app_secret required).
	Config Config
	// Sink publishes verified callbacks. Required.
	Sink CallbackSink
	// Now is the clock of date checks. Default time.Now.
	Now func() time.Time
	// Logger gets one record per refused or failed callback (never a secret
	// or callback content). Default: discard.
	Logger *slog.Logger
	// Timeout bounds the work of one callback. Default DefaultCallbackTimeout.
	Timeout time.Duration
	// DedupeTTL is how long a callback is remembered. Default
	// DefaultCallbackDedupeTTL.
	DedupeTTL time.Duration
	// MaxBody is the largest body read. Default DefaultCallbackMaxBody.
	MaxBody int64
	// StripPrefix is removed from the request URI before KSO-1 verification,
	// for a proxy that serves the configured callback URL under a longer path.
	// Default "".
	StripPrefix string
}

// CallbackHandler is the http.Handler of one app's WPS 365 callback URL
// (the dispatcher serves it at /callbacks/wps365/{app}). Every request is a
// POST of JSON:
//
//   - {"challenge":…}: the URL check. The challenge is echoed at once as
//     {"challenge":…}; nothing is published. (Whether WPS signs the check is
//     not documented; it is answered without verification, which reveals
//     nothing.)
//   - {"callback_name":"xz_card",…}: a card action. KSO-1 is verified over
//     the request URI, Content-Type, X-Kso-Date and body with the app
//     secret; a date more than callback_max_skew (5 min) away is stale. The
//     action is published once (dedupe key: the signed date and body) and
//     answered {"code":0,"msg":"ok"} within the timeout.
//   - {"encrypted_data":…,"signature":…}: an encrypted event (§1.5): the
//     signature and time are checked, the data decrypted; a decrypted
//     xz_card callback is handled as above, anything else is published as
//     EventTypeEvent (dedupe key: topic, nonce, time).
//
// A bad signature or stale date is 401 and nothing is published; a
// malformed body 400; a sink failure 500.
type CallbackHandler struct {
	o   CallbackOptions
	log *slog.Logger
}

// NewCallbackHandler returns the handler of o.App's callbacks; it fails when
// a required option is missing. Errors never contain the secret.
func NewCallbackHandler(o CallbackOptions) (*CallbackHandler, error) {
	switch {
	case o.App == "":
		return nil, errors.New("wps365: callback handler: App is required")
	case o.Config.AppID == "" || o.Config.AppSecret == "":
		return nil, fmt.Errorf("wps365: callback handler of app %s: app_id and app_secret are required", o.App)
	case o.Sink == nil:
		return nil, fmt.Errorf("wps365: callback handler of app %s: Sink is required", o.App)
	}
	o.Config = o.Config.Defaults()
	if o.Now == nil {
		o.Now = time.Now
	}
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
	return &CallbackHandler{o: o, log: o.Logger.With("provider", ProviderName, "app", o.App)}, nil
}

// callbackBody is every shape of callback body.
type callbackBody struct {
	Challenge    *string `json:"challenge"`
	CallbackName string  `json:"callback_name"`
	AppID        string  `json:"app_id"`
	Data         struct {
		CompanyID string                     `json:"company_id"`
		AppCtxID  string                     `json:"app_ctx_id"`
		UserID    string                     `json:"user_id"`
		Content   map[string]json.RawMessage `json:"content"`
	} `json:"data"`
	EventEnvelope
}

// ServeHTTP answers one callback (see [CallbackHandler]).
func (h *CallbackHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.o.MaxBody+1))
	if err != nil || int64(len(body)) > h.o.MaxBody {
		h.refuse(w, http.StatusBadRequest, "body unreadable or too large")
		return
	}
	var cb callbackBody
	if err := json.Unmarshal(body, &cb); err != nil {
		h.refuse(w, http.StatusBadRequest, "body is not JSON")
		return
	}
	if cb.Challenge != nil && cb.CallbackName == "" && cb.EncryptedData == "" {
		writeJSON(w, http.StatusOK, map[string]string{"challenge": *cb.Challenge})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	now := h.o.Now()
	switch {
	case cb.EncryptedData != "":
		h.event(ctx, w, &cb.EventEnvelope, now)
	case cb.CallbackName == "xz_card":
		uri := strings.TrimPrefix(r.URL.RequestURI(), h.o.StripPrefix)
		date := r.Header.Get(HeaderDate)
		if err := Verify(h.o.Config.AppID, h.o.Config.AppSecret, r.Method, uri, r.Header.Get("Content-Type"), date,
			r.Header.Get(HeaderAuthorization), body, now, h.o.Config.CallbackMaxSkew); err != nil {
			h.refuse(w, http.StatusUnauthorized, err.Error())
			return
		}
		at, _ := parseKsoDate(date)
		h.card(ctx, w, &cb, "card:"+date+":"+string(body), at)
	default:
		h.refuse(w, http.StatusBadRequest, "unknown callback (no challenge, callback_name or encrypted_data)")
	}
}

// event opens an encrypted event and publishes it.
func (h *CallbackHandler) event(ctx context.Context, w http.ResponseWriter, env *EventEnvelope, now time.Time) {
	plain, err := OpenEvent(h.o.Config.AppID, h.o.Config.AppSecret, env, now, h.o.Config.CallbackMaxSkew)
	if err != nil {
		h.refuse(w, http.StatusUnauthorized, err.Error())
		return
	}
	key := fmt.Sprintf("event:%s:%s:%d", env.Topic, env.Nonce, env.Time)
	at := time.Unix(env.Time, 0)
	var inner callbackBody
	if json.Unmarshal(plain, &inner) == nil && inner.CallbackName == "xz_card" {
		h.card(ctx, w, &inner, key, at)
		return
	}
	ev := &CallbackEvent{Type: EventTypeEvent, App: h.o.App, Topic: env.Topic, Operation: env.Operation, Data: json.RawMessage(plain), At: at}
	h.publish(ctx, w, key, ev)
}

// card publishes a verified card action.
func (h *CallbackHandler) card(ctx context.Context, w http.ResponseWriter, cb *callbackBody, key string, at time.Time) {
	if cb.AppID != "" && cb.AppID != h.o.Config.AppID {
		h.refuse(w, http.StatusUnauthorized, "callback for another app")
		return
	}
	ev := &CallbackEvent{Type: EventTypeCardClick, App: h.o.App, CompanyID: cb.Data.CompanyID, AppCtxID: cb.Data.AppCtxID,
		User: cb.Data.UserID, At: at}
	for k, v := range cb.Data.Content {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		if k == "action" {
			ev.Action = s
			continue
		}
		if ev.Values == nil {
			ev.Values = map[string]string{}
		}
		ev.Values[k] = s
	}
	h.publish(ctx, w, key, ev)
}

func (h *CallbackHandler) publish(ctx context.Context, w http.ResponseWriter, key string, ev *CallbackEvent) {
	sum := sha256.Sum256([]byte(key))
	dk := "wps365:cb:" + h.o.App + ":" + hex.EncodeToString(sum[:])
	ev.ID = "wps365-cb-" + hex.EncodeToString(sum[:16])
	if _, err := h.o.Sink.PublishOnce(ctx, dk, h.o.DedupeTTL, ev); err != nil {
		h.log.Error("wps365 callback: publishing failed", "type", ev.Type, "err", err)
		http.Error(w, "could not record the callback", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 0, "msg": "ok"})
}

func (h *CallbackHandler) refuse(w http.ResponseWriter, status int, reason string) {
	h.log.Warn("wps365 callback refused", "status", status, "reason", reason)
	http.Error(w, http.StatusText(status), status)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
