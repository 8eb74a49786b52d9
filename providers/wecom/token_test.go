package wecom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// assertNoSecret fails if the text of err, or of any error it wraps, contains
// the app secret or one of secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, s := range append([]string{testSecret}, secrets...) {
			for _, text := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
				if strings.Contains(text, s) {
					t.Errorf("error leaks %q: %s", s, text)
				}
			}
		}
	}
}

func TestTokenKey(t *testing.T) {
	t.Parallel()
	if got := TokenKey("ww1", 1000002); got != "wecom:tok:self:ww1:1000002" {
		t.Errorf("TokenKey = %q", got)
	}
	b := setup(t)
	if _, err := b.client.Send(context.Background(), b.textPart("a")); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.store.get(testKey); !ok {
		t.Errorf("token not stored under %s", testKey)
	}
}

// A wrong secret pauses the app: ClassAppDisabled, gettoken called once, nothing
// sent.
func TestSendWithWrongSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reply(pathGettoken, http.StatusOK, string(fixture(t, "gettoken_response_40001.json")))
	res, err := b.client.Send(context.Background(), b.textPart("a"))
	if res != nil {
		t.Errorf("result %+v", res)
	}
	pe := providerError(t, err)
	if pe.Class != providers.ClassAppDisabled || pe.Code != 40001 || pe.Op != "gettoken" || pe.Provider != "wecom" {
		t.Errorf("error %+v, want app_disabled errcode 40001 from gettoken", pe)
	}
	if n := len(b.got(pathGettoken)); n != 1 {
		t.Errorf("%d gettoken calls, want 1", n)
	}
	if n := len(b.got(pathSend)); n != 0 {
		t.Errorf("%d sends, want 0", n)
	}
	assertNoSecret(t, err)
}

// gettoken failures: credential problems pause the app, transient ones are
// retryable or throttled; gettoken is never called twice for one Send.
func TestGettokenFailures(t *testing.T) {
	t.Parallel()
	errcode := func(code int) handlerFunc {
		return func(n int, w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"errcode":%d,"errmsg":"from gettoken"}`, code)
		}
	}
	tests := []struct {
		desc      string
		handler   handlerFunc
		wantClass providers.Class
		wantCode  int
		wantAfter time.Duration
	}{
		{desc: "invalid corpid", handler: errcode(40013), wantClass: providers.ClassAppDisabled, wantCode: 40013},
		{desc: "invalid secret", handler: errcode(40091), wantClass: providers.ClassAppDisabled, wantCode: 40091},
		{desc: "invalid agentid", handler: errcode(40056), wantClass: providers.ClassAppDisabled, wantCode: 40056},
		{desc: "api forbidden", handler: errcode(48002), wantClass: providers.ClassAppDisabled, wantCode: 48002},
		{desc: "app disabled", handler: errcode(50003), wantClass: providers.ClassAppDisabled, wantCode: 50003},
		{desc: "ip not allowed", handler: errcode(60020), wantClass: providers.ClassAppDisabled, wantCode: 60020},
		{desc: "api calls forbidden", handler: errcode(60031), wantClass: providers.ClassAppDisabled, wantCode: 60031},
		{desc: "token of another agent", handler: errcode(301002), wantClass: providers.ClassAppDisabled, wantCode: 301002},
		{desc: "unmapped code", handler: errcode(41004), wantClass: providers.ClassAppDisabled, wantCode: 41004},
		{desc: "system busy", handler: errcode(-1), wantClass: providers.ClassRetryable, wantCode: -1},
		{desc: "frequency limit", handler: errcode(45009), wantClass: providers.ClassThrottled, wantCode: 45009, wantAfter: time.Minute},
		{desc: "HTTP 500", handler: status(http.StatusInternalServerError, "", ""), wantClass: providers.ClassRetryable},
		{desc: "HTTP 429", handler: status(http.StatusTooManyRequests, "Retry-After", "30"), wantClass: providers.ClassThrottled, wantAfter: 30 * time.Second},
		{desc: "HTTP 404", handler: status(http.StatusNotFound, "", ""), wantClass: providers.ClassAppDisabled},
		{
			desc:      "undecodable",
			handler:   func(n int, w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") },
			wantClass: providers.ClassRetryable,
		},
		{
			desc:      "no token",
			handler:   func(n int, w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`) },
			wantClass: providers.ClassRetryable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.handle(pathGettoken, tt.handler)
			_, err := b.client.Send(context.Background(), b.textPart("a"))
			pe := providerError(t, err)
			if pe.Class != tt.wantClass || pe.Code != tt.wantCode || pe.RetryAfter != tt.wantAfter || pe.Op != "gettoken" {
				t.Errorf("error %+v, want %v code %d after %v from gettoken", pe, tt.wantClass, tt.wantCode, tt.wantAfter)
			}
			if n := len(b.got(pathGettoken)); n != 1 {
				t.Errorf("%d gettoken calls, want 1", n)
			}
			if n := len(b.got(pathSend)); n != 0 {
				t.Errorf("%d sends, want 0", n)
			}
			assertNoSecret(t, err)
		})
	}
}

// 40001 on message/send triggers one refresh; a gettoken that then fails with
// 40001 stops there.
func TestSecretResetWhileSending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.withToken("tok-old")
	b.reply(pathSend, http.StatusOK, `{"errcode":40001,"errmsg":"invalid credential"}`)
	b.reply(pathGettoken, http.StatusOK, `{"errcode":40001,"errmsg":"invalid credential"}`)
	_, err := b.client.Send(context.Background(), b.textPart("a"))
	pe := providerError(t, err)
	if pe.Class != providers.ClassAppDisabled || pe.Op != "gettoken" {
		t.Errorf("error %+v, want app_disabled from gettoken", pe)
	}
	if n := len(b.got(pathGettoken)); n != 1 {
		t.Errorf("%d gettoken calls, want 1", n)
	}
	if n := len(b.got(pathSend)); n != 1 {
		t.Errorf("%d sends, want 1", n)
	}
}

// The secret never appears in errors: not from net/http's URL errors (which
// quote the full URL), not from a bad base URL, not from an errmsg.
func TestSecretIsRedacted(t *testing.T) {
	t.Parallel()
	t.Run("network down during gettoken", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.srv.Close()
		_, err := b.client.Send(context.Background(), b.textPart("a"))
		pe := providerError(t, err)
		if pe.Class != providers.ClassRetryable || pe.Op != "gettoken" || pe.Err == nil {
			t.Errorf("error %+v, want retryable gettoken with a transport error", pe)
		}
		if !strings.Contains(err.Error(), "corpsecret=REDACTED") {
			t.Errorf("error %q does not show the redacted URL", err)
		}
		assertNoSecret(t, err)
	})
	t.Run("unparsable base URL", func(t *testing.T) {
		t.Parallel()
		c := New(Config{BaseURL: "http://[::1", CorpID: testCorpID, AgentID: testAgentID, Secret: testSecret}, newFakeTokenStore(), nil)
		_, _, err := c.fetchToken(context.Background())
		if pe := providerError(t, err); pe.Class != providers.ClassAppDisabled {
			t.Errorf("error %+v, want app_disabled", pe)
		}
		assertNoSecret(t, err)
	})
	t.Run("errmsg quoting the secret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.reply(pathGettoken, http.StatusOK, `{"errcode":40001,"errmsg":"invalid credential `+testSecret+`"}`)
		_, err := b.client.Send(context.Background(), b.textPart("a"))
		assertNoSecret(t, err)
	})
}

// Without a TokenStore a client still prepares, but cannot call WeCom.
func TestNilTokenStore(t *testing.T) {
	t.Parallel()
	c := New(Config{CorpID: testCorpID, AgentID: testAgentID, Secret: testSecret}, nil, nil)
	parts, err := c.Prepare(context.Background(), &providers.Message{To: providers.Recipients{Users: []string{"a"}}, Kind: providers.KindText, Text: "x"}, providers.PrepareOptions{})
	if err != nil || len(parts) != 1 {
		t.Fatalf("Prepare: %v", err)
	}
	_, err = c.Send(context.Background(), &parts[0])
	if pe := providerError(t, err); pe.Class != providers.ClassAppDisabled {
		t.Errorf("error %+v, want app_disabled", pe)
	}
}

// A TokenStore failure that is not a provider error (Redis down) is retryable:
// nothing was sent.
func TestTokenStoreFailure(t *testing.T) {
	t.Parallel()
	c := New(Config{CorpID: testCorpID, AgentID: testAgentID, Secret: testSecret}, brokenStore{}, nil)
	_, err := c.Send(context.Background(), &providers.Part{Body: []byte(`{}`)})
	pe := providerError(t, err)
	if pe.Class != providers.ClassRetryable || !errors.Is(err, errStoreDown) {
		t.Errorf("error %+v, want retryable wrapping the store error", pe)
	}
}

var errStoreDown = errors.New("store down")

type brokenStore struct{}

func (brokenStore) Token(context.Context, string, providers.FetchFunc) (string, error) {
	return "", errStoreDown
}
func (brokenStore) Invalidate(context.Context, string, string) error { return errStoreDown }
