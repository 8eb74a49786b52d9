package xiezuo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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
	fuzzKey    = "AKFUZZ"
	fuzzSecret = "sk-fuzz-DO-NOT-LOG"
	fuzzPath   = "/callbacks/xiezuo/approvals"
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

// Mutations of a signed callback; all but fuzzAsSigned must be refused.
const (
	fuzzAsSigned   = iota
	fuzzBodyByte   // one body byte changed (or a byte added to an empty body)
	fuzzQueryAdded // a query parameter added after signing
	fuzzOtherApp   // the authorization names another app key
	fuzzWrongKey   // signed with another secret
	fuzzStale      // dated 6 minutes ago
	fuzzMutations
)

// fuzzRequest signs body for the callback URL with WPS-4 (header style by
// plain) and applies mutation.
func fuzzRequest(body []byte, query string, plain bool, mutation uint8) *http.Request {
	target := fuzzPath
	if query != "" {
		target += "?" + query
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.URL.RawQuery = query
	r.URL.Path = fuzzPath
	r.RequestURI = target
	style := HeaderStyleWPSDocs
	if plain {
		style = HeaderStylePlain
	}
	s := Signer{Scheme: SignatureWPS4, HeaderStyle: style, AppID: fuzzKey, Secret: fuzzSecret}
	when := fuzzNow
	switch mutation {
	case fuzzOtherApp:
		s.AppID = "AKOTHER"
	case fuzzWrongKey:
		s.Secret = "sk-other"
	case fuzzStale:
		when = when.Add(-6 * time.Minute)
	}
	s.Sign(r, body, when)
	sent := body
	switch mutation {
	case fuzzBodyByte:
		sent = append([]byte(nil), body...)
		if len(sent) == 0 {
			sent = []byte{'{'}
		} else {
			sent[len(sent)/2] ^= 0x20
		}
	case fuzzQueryAdded:
		if r.URL.RawQuery != "" {
			r.URL.RawQuery += "&"
		}
		r.URL.RawQuery += "extra=1"
	}
	r.Body = http.NoBody
	if len(sent) > 0 {
		r.Body = ioNopCloser(string(sent))
	}
	r.ContentLength = int64(len(sent))
	return r
}

// FuzzCallbackHandler posts arbitrary signed bodies to the card-callback
// handler. Invariants: nothing panics; a request mutated after signing, or
// signed for another app, with another secret or at a stale date, is
// answered 401 and publishes nothing; an accepted request publishes exactly
// one event; the logs never hold the secret.
func FuzzCallbackHandler(f *testing.F) {
	f.Add([]byte(`{"data":{"company_id":"c1","app_ctx_id":"h0123","company_uid":"u1","content":{"action":"approve","note":"ok"}}}`), "", false, uint8(fuzzAsSigned))
	f.Add([]byte(`{"data":{"company_id":"c1","app_ctx_id":"h0123","company_uid":"u1","content":{"action":"approve"}}}`), "a=1", true, uint8(fuzzBodyByte))
	f.Add([]byte(`{"ctx_id":"x","user_id":"u","content":{"action":1,"n":[1,2]}}`), "", false, uint8(fuzzQueryAdded))
	f.Add([]byte(`{"ctx_id":"x"}`), "", true, uint8(fuzzOtherApp))
	f.Add([]byte(`{"ctx_id":"x"}`), "", false, uint8(fuzzWrongKey))
	f.Add([]byte(`{"ctx_id":"x"}`), "", false, uint8(fuzzStale))
	f.Add([]byte(strings.Repeat(`{"a":`, 5000)), "", false, uint8(fuzzAsSigned))
	f.Add([]byte("\xff\xfe"), "", false, uint8(fuzzAsSigned))
	f.Add([]byte(nil), "", false, uint8(fuzzAsSigned))
	f.Fuzz(func(t *testing.T, body []byte, query string, plain bool, mutation uint8) {
		mutation %= fuzzMutations
		var logs strings.Builder
		sink := &fuzzSink{}
		h, err := NewCallbackHandler(CallbackOptions{App: "approvals", Config: Config{AppKey: fuzzKey, AppSecret: fuzzSecret},
			Sink: sink, Now: func() time.Time { return fuzzNow }, Logger: newTextLogger(&logs)})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, fuzzRequest(body, query, plain, mutation))
		switch {
		case mutation != fuzzAsSigned && (w.Code != http.StatusUnauthorized || sink.n != 0):
			t.Fatalf("mutation %d: status %d, %d published", mutation, w.Code, sink.n)
		case w.Code == http.StatusOK && sink.n != 1:
			t.Fatalf("accepted, %d published", sink.n)
		case w.Code != http.StatusOK && sink.n != 0:
			t.Fatalf("status %d, %d published", w.Code, sink.n)
		}
		if strings.Contains(logs.String(), fuzzSecret) {
			t.Fatalf("logs hold the secret: %s", logs.String())
		}
	})
}

// FuzzVerify checks WPS-4 and WPS-3 verification of arbitrary requests:
// a request signed with the secret verifies; after any one change (body
// byte, method, path, content type) it is refused with ErrBadSignature.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "POST", "/v7/messages/create", "application/json", uint8(0), uint16(3))
	f.Add([]byte(nil), "GET", "/o/woa/api/v2/x", "", uint8(1), uint16(0))
	f.Add([]byte("\x00\xff"), "PUT", "/a%20b", "text/plain; charset=utf-8", uint8(2), uint16(1))
	f.Fuzz(func(t *testing.T, body []byte, method, path, contentType string, what uint8, at uint16) {
		if !validToken(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path+contentType, "\x00\r\n?#") || !validHeader(contentType) {
			return
		}
		r, err := http.NewRequest(method, "http://wps.example"+path, nil)
		if err != nil {
			return
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		wps3 := what&1 == 1
		scheme := SignatureWPS4
		verify := VerifyWPS4
		if wps3 {
			scheme, verify = SignatureWPS3, VerifyWPS3
		}
		Signer{Scheme: scheme, HeaderStyle: HeaderStyleWPSDocs, AppID: fuzzKey, Secret: fuzzSecret}.Sign(r, body, fuzzNow)
		o := VerifyOptions{AppID: fuzzKey, Secret: fuzzSecret, Now: fuzzNow, MaxSkew: time.Minute}
		if err := verify(r, body, o); err != nil {
			t.Fatalf("%s: signed request refused: %v", scheme, err)
		}
		changed := append([]byte(nil), body...)
		switch (what >> 1) % 3 {
		case 0:
			if len(changed) == 0 {
				changed = []byte{0}
			} else {
				changed[int(at)%len(changed)] ^= 1
			}
		case 1:
			r.URL.Path += "x"
		case 2:
			r.Header.Set("Content-Type", contentType+"x")
		}
		if !wps3 && (what>>1)%3 == 0 && bodyDigest(contentType, body) == "" && bodyDigest(contentType, changed) == "" {
			return // WPS-4 signs no body of this content type (see bodyDigest); the handler refuses such bodies
		}
		err = verify(r, changed, o)
		if !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s: changed request: %v, want ErrBadSignature", scheme, err)
		}
		if strings.Contains(err.Error(), fuzzSecret) {
			t.Fatalf("error holds the secret: %v", err)
		}
	})
}

// FuzzValidate feeds Validate arbitrary messages: nothing panics, the
// verdict is the same twice, and a refusal starts with the field it is
// about.
func FuzzValidate(f *testing.F) {
	f.Add("text", "hello", []byte(nil), "u1|u2", "", "")
	f.Add("card", "", []byte(`{"header":{"title":{"tag":"text","content":{"type":"plainText","text":"t"}}},"elements":[{"tag":"text","content":{"type":"plainText","text":"x"}}]}`), "", "d1", "")
	f.Add("raw", "", []byte(`{"msg_type":1,"content":{"text":"x"}}`), "", "", "chat1")
	f.Add("markdown", strings.Repeat("x", 6000), []byte(nil), "u", "", "")
	f.Add("card", "", []byte(strings.Repeat("[", 10000)), "u", "", "")
	f.Add("text", "a\xffb", []byte(nil), "a\x00b", "", "")
	f.Fuzz(func(t *testing.T, kind, text string, body []byte, users, depts, chats string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "|")
		}
		msg := &providers.Message{App: "approvals", Kind: providers.Kind(kind), Text: text,
			To: providers.Recipients{Users: split(users), Depts: split(depts), Chats: split(chats)}}
		if len(body) > 0 {
			msg.Body = json.RawMessage(body)
		}
		err1, err2 := Validate(msg), Validate(msg)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("verdicts differ: %v / %v", err1, err2)
		}
		if err1 != nil && !fuzzNamesField(err1.Error()) {
			t.Fatalf("refusal %q does not start with the field it is about", err1)
		}
	})
}

// fuzzNamesField reports whether a validation error starts with a message field.
func fuzzNamesField(s string) bool {
	for _, p := range []string{"to", "kind", "text", "body", "reply_to", "app", "tenant"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

func validHeader(s string) bool {
	for _, c := range s {
		if c < ' ' || c >= 0x7f {
			return false
		}
	}
	return strings.TrimSpace(s) == s
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
