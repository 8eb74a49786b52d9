package wps365

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

const (
	fuzzAppID  = "AK_FUZZ"
	fuzzSecret = "sk-fuzz-wps365-DO-NOT-LOG"
	fuzzPath   = "/callbacks/wps365/app1"
)

var fuzzNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fuzzSink counts what a handler publishes.
type fuzzSink struct {
	mu sync.Mutex
	n  int
}

func (s *fuzzSink) PublishOnce(context.Context, string, time.Duration, *CallbackEvent) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return true, nil
}

// fuzzSeal encrypts plain as WPS 365 does for an event (§1.5) and signs it.
func fuzzSeal(secret string, e *EventEnvelope, plain []byte) {
	n := aes.BlockSize - len(plain)%aes.BlockSize
	padded := append(append([]byte(nil), plain...), bytes.Repeat([]byte{byte(n)}, n)...)
	block, _ := aes.NewCipher(eventKey(secret))
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, []byte(e.Nonce[:aes.BlockSize])).CryptBlocks(ct, padded)
	e.EncryptedData = base64.StdEncoding.EncodeToString(ct)
	e.Signature = EventSignature(fuzzAppID, secret, e)
}

// FuzzOpenEvent seals arbitrary plaintext and checks: the sealed event opens
// to exactly that plaintext; after one changed byte of the signed fields, a
// wrong secret or a stale time it is refused with ErrBadEvent; arbitrary
// envelopes never panic.
func FuzzOpenEvent(f *testing.F) {
	f.Add([]byte(`{"chat_id":"c1"}`), "kso.app_chat.message", "nonce-0123456789abcdef", uint8(0), uint16(0), "", "")
	f.Add([]byte(nil), "t", "0123456789abcdef", uint8(1), uint16(5), "", "")
	f.Add([]byte(strings.Repeat("x", 4096)), "t", "0123456789abcdefXX", uint8(2), uint16(9), "", "")
	f.Add([]byte("x"), "t", "0123456789abcdef", uint8(3), uint16(0), "sig", "!!notbase64")
	f.Fuzz(func(t *testing.T, plain []byte, topic, nonce string, what uint8, at uint16, rawSig, rawData string) {
		if rawSig != "" || rawData != "" {
			e := &EventEnvelope{Topic: topic, Nonce: nonce, Time: fuzzNow.Unix(), Signature: rawSig, EncryptedData: rawData}
			if out, err := OpenEvent(fuzzAppID, fuzzSecret, e, fuzzNow, 0); err == nil && rawSig != EventSignature(fuzzAppID, fuzzSecret, e) {
				t.Fatalf("opened an event with a wrong signature: %q", out)
			} else if err != nil && (!errors.Is(err, ErrBadEvent) || strings.Contains(err.Error(), fuzzSecret)) {
				t.Fatalf("refusal %v", err)
			}
			return
		}
		if len(nonce) < aes.BlockSize {
			return
		}
		e := &EventEnvelope{Topic: topic, Operation: "create", Nonce: nonce, Time: fuzzNow.Unix()}
		fuzzSeal(fuzzSecret, e, plain)
		out, err := OpenEvent(fuzzAppID, fuzzSecret, e, fuzzNow, 0)
		if err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("sealed event opened to %q, %v; want %q", out, err, plain)
		}
		secret := fuzzSecret
		switch what % 4 {
		case 0:
			d := []byte(e.EncryptedData)
			d[int(at)%len(d)] ^= 1
			e.EncryptedData = string(d)
		case 1:
			e.Topic += "x"
		case 2:
			e.Time -= int64(DefaultMaxSkew/time.Second) + 1
			e.Signature = EventSignature(fuzzAppID, fuzzSecret, e) // authentic but stale
		case 3:
			secret = "sk-other"
		}
		if out, err := OpenEvent(fuzzAppID, secret, e, fuzzNow, 0); !errors.Is(err, ErrBadEvent) || out != nil {
			t.Fatalf("changed event (%d) = %q, %v; want ErrBadEvent", what%4, out, err)
		}
	})
}

// FuzzVerify checks KSO-1: a signed request verifies; after one change
// (body byte, method, URI, content type, another app, another secret, a
// stale date) it is refused with ErrBadSignature or ErrStaleDate.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "POST", "/v7/messages/create", "application/json", uint8(0), uint16(1))
	f.Add([]byte(nil), "GET", "/v7/x?y=1", "", uint8(0), uint16(0))
	f.Add([]byte("\x00"), "PUT", "/", "text/plain", uint8(6), uint16(0))
	f.Fuzz(func(t *testing.T, body []byte, method, uri, contentType string, what uint8, at uint16) {
		date := fuzzNow.Format(http.TimeFormat)
		sig := Sign(fuzzSecret, method, uri, contentType, date, body)
		auth := Authorization(fuzzAppID, sig)
		if err := Verify(fuzzAppID, fuzzSecret, method, uri, contentType, date, auth, body, fuzzNow, 0); err != nil {
			t.Fatalf("signed request refused: %v", err)
		}
		app, secret := fuzzAppID, fuzzSecret
		switch what % 7 {
		case 0:
			if len(body) == 0 {
				body = []byte{0}
			} else {
				body = append([]byte(nil), body...)
				body[int(at)%len(body)] ^= 1
			}
		case 1:
			method += "X"
		case 2:
			uri += "x"
		case 3:
			contentType += "x"
		case 4:
			app = "AK_OTHER"
		case 5:
			secret = "sk-other"
		case 6:
			date = fuzzNow.Add(-6 * time.Minute).Format(http.TimeFormat)
		}
		err := Verify(app, secret, method, uri, contentType, date, auth, body, fuzzNow, 0)
		if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrStaleDate) {
			t.Fatalf("changed request (%d): %v", what%7, err)
		}
		if strings.Contains(err.Error(), fuzzSecret) || strings.Contains(err.Error(), sig) {
			t.Fatalf("error reveals the secret or signature: %v", err)
		}
	})
}

// FuzzCallbackHandler posts arbitrary bodies, KSO-1 signed or not, to the
// callback handler. Invariants: nothing panics; an unsigned or badly signed
// card action, and an event not sealed with the secret, publish nothing; a
// challenge publishes nothing; logs never hold the secret.
func FuzzCallbackHandler(f *testing.F) {
	f.Add([]byte(`{"callback_name":"xz_card","app_id":"AK_FUZZ","data":{"company_id":"c","app_ctx_id":"x","content":{"action":"ok"}}}`), true, uint8(0))
	f.Add([]byte(`{"callback_name":"xz_card","data":{"app_ctx_id":"x"}}`), false, uint8(0))
	f.Add([]byte(`{"callback_name":"xz_card","app_id":"AK_OTHER","data":{"app_ctx_id":"x"}}`), true, uint8(0))
	f.Add([]byte(`{"challenge":"abc"}`), false, uint8(0))
	f.Add([]byte(`{"encrypted_data":"AAAA","signature":"x","nonce":"0123456789abcdef","time":1767323045,"topic":"t"}`), false, uint8(0))
	f.Add([]byte(strings.Repeat("[", 10000)), true, uint8(0))
	f.Add([]byte("\xff"), true, uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, signed bool, mutation uint8) {
		var logs bytes.Buffer
		sink := &fuzzSink{}
		h, err := NewCallbackHandler(CallbackOptions{App: "app1", Config: Config{AppID: fuzzAppID, AppSecret: fuzzSecret}, Sink: sink,
			Now: func() time.Time { return fuzzNow }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, fuzzPath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if signed {
			SignRequest(r, fuzzAppID, fuzzSecret, "", body, fuzzNow)
			if mutation%2 == 1 { // the body changed after signing
				changed := append(append([]byte(nil), body...), ' ')
				r.Body = http.NoBody
				r = httptest.NewRequest(http.MethodPost, fuzzPath, bytes.NewReader(changed))
				SignRequest(r, fuzzAppID, fuzzSecret, "", body, fuzzNow)
				signed = false
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var cb struct {
			Challenge     *string `json:"challenge"`
			CallbackName  string  `json:"callback_name"`
			EncryptedData string  `json:"encrypted_data"`
		}
		isJSON := json.Unmarshal(body, &cb) == nil
		switch {
		case !isJSON && (w.Code != http.StatusBadRequest || sink.n != 0):
			t.Fatalf("not JSON: status %d, %d published", w.Code, sink.n)
		case isJSON && cb.EncryptedData == "" && cb.CallbackName == "xz_card" && !signed && sink.n != 0:
			t.Fatalf("unsigned card action published (status %d)", w.Code)
		case isJSON && cb.EncryptedData != "" && sink.n != 0:
			t.Fatalf("an event not sealed with the secret was published (status %d)", w.Code)
		case w.Code != http.StatusOK && sink.n != 0:
			t.Fatalf("status %d but %d published", w.Code, sink.n)
		}
		if strings.Contains(logs.String(), fuzzSecret) {
			t.Fatalf("logs hold the secret: %s", logs.String())
		}
	})
}

// FuzzValidate feeds ValidateMessage arbitrary messages: nothing panics,
// the verdict is the same twice, and a refusal starts with the field it is
// about.
func FuzzValidate(f *testing.F) {
	f.Add("text", "hello", []byte(nil), "u1|u2", "", "", "")
	f.Add("card", "", []byte(`{"header":{"title":{"tag":"text","content":{"type":"plainText","content":"t"}}},"elements":[]}`), "", "d1", "", "")
	f.Add("markdown", "**x**", []byte(nil), "", "", "chat1", "")
	f.Add("text", "r", []byte(nil), "", "", "", "chat1")
	f.Add("card", "", []byte(strings.Repeat("{\"a\":", 3000)), "u", "", "", "")
	f.Add("text", "\xff", []byte(nil), "a\x00b", "", "", "")
	f.Fuzz(func(t *testing.T, kind, text string, body []byte, users, depts, chats, replyChat string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "|")
		}
		msg := &providers.Message{App: "app1", Kind: providers.Kind(kind), Text: text,
			To: providers.Recipients{Users: split(users), Depts: split(depts), Chats: split(chats)}}
		if len(body) > 0 {
			msg.Body = json.RawMessage(body)
		}
		if replyChat != "" {
			msg.ReplyTo = &providers.ReplyTo{Chat: replyChat, MessageID: "m1"}
		}
		c := Config{AppID: fuzzAppID, AppSecret: fuzzSecret}.Defaults()
		err1, err2 := c.ValidateMessage(msg), c.ValidateMessage(msg)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("verdicts differ: %v / %v", err1, err2)
		}
		if err1 != nil && strings.Contains(err1.Error(), fuzzSecret) {
			t.Fatalf("refusal holds the secret: %v", err1)
		}
	})
}
