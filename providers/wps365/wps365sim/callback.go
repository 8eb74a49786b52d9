package wps365sim

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// CardClick is a user's action on a card, as WPS posts it to the app's
// callback URL (callback_name "xz_card", the WPS open-platform documentation).
type CardClick struct {
	// URL is the app's callback URL (the dispatcher's /callbacks/wps365/{app}).
	URL string
	// AppID is the app whose card was clicked; it signs the callback.
	AppID string
	// CompanyID, AppCtxID and UserID go into data; UserID is sent as
	// data.user_id (the operator field of real callbacks was not captured:
	// an assumption).
	CompanyID string
	AppCtxID  string
	UserID    string
	// Action is content.action, the key of the button; Values are the other
	// keys of content (inputs, selectors).
	Action string
	Values map[string]string
	// SignedAt is the X-Kso-Date; zero means the simulator's now.
	SignedAt time.Time
	// Tamper, when set, changes the body after it was signed (a forged or
	// corrupted callback).
	Tamper func(body []byte) []byte
	// Secret, when set, signs with this secret instead of the app's (forgery).
	Secret string
}

// CallbackResult is the dispatcher's answer to a fired callback.
type CallbackResult struct {
	Status int
	Body   []byte
}

// FireCardClick posts a KSO-1 signed xz_card callback to click.URL and
// returns the answer.
func (s *Sim) FireCardClick(ctx context.Context, click CardClick) (CallbackResult, error) {
	s.mu.Lock()
	a := s.apps[click.AppID]
	s.mu.Unlock()
	if a == nil {
		return CallbackResult{}, fmt.Errorf("wps365sim: no app %s", click.AppID)
	}
	content := map[string]string{"action": click.Action}
	for k, v := range click.Values {
		content[k] = v
	}
	data := map[string]any{"company_id": click.CompanyID, "app_ctx_id": click.AppCtxID, "content": content}
	if click.UserID != "" {
		data["user_id"] = click.UserID
	}
	body, err := json.Marshal(map[string]any{"callback_name": "xz_card", "app_id": a.id, "data": data})
	if err != nil {
		return CallbackResult{}, err
	}
	at := click.SignedAt
	if at.IsZero() {
		at = s.clock()
	}
	secret := a.secret
	if click.Secret != "" {
		secret = click.Secret
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, click.URL, nil)
	if err != nil {
		return CallbackResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	signKSO1(req, a.id, secret, body, at)
	if click.Tamper != nil {
		body = click.Tamper(bytes.Clone(body))
	}
	return s.deliver(req, body)
}

// FireChallenge posts the URL check {"challenge":…} (KSO-1 signed) to url
// and returns the answer; the app must echo the challenge within 1 s.
func (s *Sim) FireChallenge(ctx context.Context, url, appID, challenge string) (CallbackResult, error) {
	s.mu.Lock()
	a := s.apps[appID]
	s.mu.Unlock()
	if a == nil {
		return CallbackResult{}, fmt.Errorf("wps365sim: no app %s", appID)
	}
	body, _ := json.Marshal(map[string]string{"challenge": challenge})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return CallbackResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	signKSO1(req, a.id, a.secret, body, s.clock())
	return s.deliver(req, body)
}

// Event is a subscribed event the simulator posts encrypted (§1.5).
type Event struct {
	URL, AppID       string
	Topic, Operation string
	// Data is the plaintext JSON encrypted into encrypted_data.
	Data []byte
	// Nonce is the nonce (≥ 16 bytes); default a random 32-hex string.
	Nonce string
	// At is the event time; zero means now.
	At time.Time
	// Tamper, when set, changes the envelope after signing.
	Tamper func(env map[string]any)
}

// FireEvent encrypts and signs ev as §1.5 describes and posts it.
func (s *Sim) FireEvent(ctx context.Context, ev Event) (CallbackResult, error) {
	s.mu.Lock()
	a := s.apps[ev.AppID]
	nonce := ev.Nonce
	if nonce == "" {
		nonce = s.randHexLocked(32)
	}
	s.mu.Unlock()
	if a == nil {
		return CallbackResult{}, fmt.Errorf("wps365sim: no app %s", ev.AppID)
	}
	if len(nonce) < 16 {
		return CallbackResult{}, fmt.Errorf("wps365sim: nonce shorter than 16 bytes")
	}
	at := ev.At
	if at.IsZero() {
		at = s.clock()
	}
	key := md5.Sum([]byte(a.secret))
	block, err := aes.NewCipher([]byte(fmt.Sprintf("%x", key)))
	if err != nil {
		return CallbackResult{}, err
	}
	pad := aes.BlockSize - len(ev.Data)%aes.BlockSize
	buf := append(bytes.Clone(ev.Data), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, []byte(nonce[:16])).CryptBlocks(buf, buf)
	enc := base64.StdEncoding.EncodeToString(buf)
	ts := at.Unix()
	mac := hmac.New(sha256.New, []byte(a.secret))
	io.WriteString(mac, a.id+":"+ev.Topic+":"+nonce+":"+strconv.FormatInt(ts, 10)+":"+enc)
	env := map[string]any{"topic": ev.Topic, "operation": ev.Operation, "time": ts, "nonce": nonce,
		"signature": base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), "encrypted_data": enc}
	if ev.Tamper != nil {
		ev.Tamper(env)
	}
	body, _ := json.Marshal(env)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ev.URL, nil)
	if err != nil {
		return CallbackResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	return s.deliver(req, body)
}

func (s *Sim) deliver(req *http.Request, body []byte) (CallbackResult, error) {
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	resp, err := s.opts.CallbackClient.Do(req)
	if err != nil {
		return CallbackResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return CallbackResult{Status: resp.StatusCode, Body: b}, err
}
