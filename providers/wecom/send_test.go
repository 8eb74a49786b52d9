package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Send POSTs the part's bytes unchanged to message/send with the token in the
// query string, and the token comes from gettoken (fixture) with its expires_in.
func TestSendRequestShape(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reply(pathGettoken, http.StatusOK, string(fixture(t, "gettoken_response.json")))
	part := b.textPart("zhangsan")
	if _, err := b.client.Send(context.Background(), part); err != nil {
		t.Fatalf("Send: %v", err)
	}
	gt := b.got(pathGettoken)
	if len(gt) != 1 || gt[0].method != http.MethodGet || gt[0].query.Get("corpid") != testCorpID || gt[0].query.Get("corpsecret") != testSecret {
		t.Fatalf("gettoken requests %+v", gt)
	}
	if ttl := b.store.ttl(testKey); ttl != 7200*time.Second {
		t.Errorf("token cached for %v, want expires_in 7200s", ttl)
	}
	sent := b.got(pathSend)
	if len(sent) != 1 {
		t.Fatalf("%d send requests, want 1", len(sent))
	}
	r := sent[0]
	if r.method != http.MethodPost {
		t.Errorf("method %s", r.method)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if len(r.query) != 1 || r.query.Get("access_token") != "accesstoken000001" {
		t.Errorf("query %v, want only the fixture's access_token", r.query)
	}
	if !bytes.Equal(r.body, part.Body) {
		t.Errorf("body\n%s\nwant the part's bytes\n%s", r.body, part.Body)
	}
}

// Responses (fixtures from WeCom's API documentation) decode into the expected Result,
// in both shapes of the id lists; 81013 returns a Result and a permanent error.
func TestSendDecodesResponseFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		fixture   string
		users     []string
		want      *providers.Result
		wantClass providers.Class // ClassUnknown: no error
		wantCode  int
	}{
		{
			desc:    "accepted, empty lists as empty strings",
			fixture: "send_response_ok.json",
			users:   []string{"userid1"},
			want:    &providers.Result{ProviderMessageID: "xxxx", State: json.RawMessage(`{"response_code":"xyzxyz"}`)},
		},
		{
			desc:    "partial failure, lists as strings",
			fixture: "send_response_partial_string.json",
			users:   []string{"UserID1", "userid2", "userid3", "ok"},
			want: &providers.Result{
				ProviderMessageID: "xxxx", State: json.RawMessage(`{"response_code":"xyzxyz"}`),
				Invalid:    providers.Recipients{Users: []string{"UserID1", "userid2"}, Depts: []string{"partyid1", "partyid2"}, Tags: []string{"tagid1", "tagid2"}},
				Unlicensed: []string{"userid3"},
			},
		},
		{
			desc:    "partial failure, lists as arrays",
			fixture: "send_response_partial_array.json",
			users:   []string{"userid1", "userid2", "ok"},
			want: &providers.Result{
				ProviderMessageID: "xxxx", State: json.RawMessage(`{"response_code":"xyzxyz"}`),
				Invalid: providers.Recipients{Users: []string{"userid1", "userid2"}, Depts: []string{"2", "3"}, Tags: []string{"44"}},
			},
		},
		{
			desc:      "all recipients invalid",
			fixture:   "send_response_81013.json",
			users:     []string{"userid1", "userid2"},
			want:      &providers.Result{ProviderMessageID: "b2FhLx3YdWlY1cvMhUk0cWl4wY7j9FvQ", Invalid: providers.Recipients{Users: []string{"userid1", "userid2"}}},
			wantClass: providers.ClassPermanent,
			wantCode:  81013,
		},
		{
			desc:      "app forbidden with array-shaped empty lists",
			fixture:   "send_response_48002_arrays.json",
			users:     []string{"userid1"},
			wantClass: providers.ClassAppDisabled,
			wantCode:  48002,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.reply(pathSend, http.StatusOK, string(fixture(t, tt.fixture)))
			res, err := b.client.Send(context.Background(), b.textPart(tt.users...))
			if !reflect.DeepEqual(res, tt.want) {
				t.Errorf("result %+v\nwant %+v", res, tt.want)
			}
			if tt.wantClass == providers.ClassUnknown {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			pe := providerError(t, err)
			if pe.Class != tt.wantClass || pe.Code != tt.wantCode || pe.Op != "message/send" || pe.Provider != "wecom" || pe.Message == "" {
				t.Errorf("error %+v, want class %v code %d with op and errmsg", pe, tt.wantClass, tt.wantCode)
			}
		})
	}
}

// Every class of the errcode table, through a real response.
func TestSendClassifiesErrcodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		code       int
		wantClass  providers.Class
		wantAfter  time.Duration
		wantSends  int
		wantGetTok int
	}{
		{desc: "system busy", code: -1, wantClass: providers.ClassRetryable, wantSends: 1},
		{desc: "data version conflict", code: 6000, wantClass: providers.ClassRetryable, wantSends: 1},
		{desc: "maintenance", code: 81026, wantClass: providers.ClassRetryable, wantSends: 1},
		{desc: "frequency limit", code: 45009, wantClass: providers.ClassThrottled, wantAfter: time.Minute, wantSends: 1},
		{desc: "concurrency limit", code: 45033, wantClass: providers.ClassThrottled, wantAfter: 3 * time.Second, wantSends: 1},
		{desc: "invalid userid", code: 40003, wantClass: providers.ClassPermanent, wantSends: 1},
		{desc: "unicode escape", code: 40033, wantClass: providers.ClassPermanent, wantSends: 1},
		{desc: "card field", code: 42031, wantClass: providers.ClassPermanent, wantSends: 1},
		{desc: "missing access token", code: 41001, wantClass: providers.ClassPermanent, wantSends: 1},
		{desc: "unmapped", code: 99999, wantClass: providers.ClassPermanent, wantSends: 1},
		{desc: "api forbidden", code: 48002, wantClass: providers.ClassAppDisabled, wantSends: 1},
		{desc: "ip not allowed", code: 60020, wantClass: providers.ClassAppDisabled, wantSends: 1},
		{desc: "corp invalid", code: 2000002, wantClass: providers.ClassAppDisabled, wantSends: 1},
		{desc: "token expired again after refresh", code: 42001, wantClass: providers.ClassRetryable, wantSends: 2, wantGetTok: 1},
		{desc: "token invalid again after refresh", code: 40014, wantClass: providers.ClassRetryable, wantSends: 2, wantGetTok: 1},
		{desc: "secret invalid again after refresh", code: 40001, wantClass: providers.ClassAppDisabled, wantSends: 2, wantGetTok: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.withToken("tok-cached")
			b.reply(pathSend, http.StatusOK, `{"errcode":`+itoa(tt.code)+`,"errmsg":"errmsg of the test"}`)
			res, err := b.client.Send(context.Background(), b.textPart("a"))
			if res != nil {
				t.Errorf("result %+v, want nil", res)
			}
			pe := providerError(t, err)
			if pe.Provider != "wecom" || pe.Op != "message/send" || pe.Code != tt.code || pe.Message != "errmsg of the test" {
				t.Errorf("error context %+v", pe)
			}
			if pe.Class != tt.wantClass || pe.RetryAfter != tt.wantAfter {
				t.Errorf("class %v after %v, want %v after %v", pe.Class, pe.RetryAfter, tt.wantClass, tt.wantAfter)
			}
			if n := len(b.got(pathSend)); n != tt.wantSends {
				t.Errorf("%d sends, want %d", n, tt.wantSends)
			}
			if n := len(b.got(pathGettoken)); n != tt.wantGetTok {
				t.Errorf("%d gettoken calls, want %d", n, tt.wantGetTok)
			}
		})
	}
}

func itoa(n int) string {
	b, _ := encodeJSON(n)
	return string(b)
}

// A token WeCom calls expired or invalid is invalidated, fetched again exactly
// once, and the same body bytes are re-sent with the new token.
func TestSendRefreshesTokenOnce(t *testing.T) {
	t.Parallel()
	for _, code := range []int{42001, 40014, 40001} {
		t.Run(itoa(code), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.handle(pathSend, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					io.WriteString(w, `{"errcode":`+itoa(code)+`,"errmsg":"token"}`)
					return
				}
				io.WriteString(w, `{"errcode":0,"errmsg":"ok","msgid":"second"}`)
			})
			part := b.textPart("a")
			res, err := b.client.Send(context.Background(), part)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.ProviderMessageID != "second" {
				t.Errorf("msgid %q", res.ProviderMessageID)
			}
			if n := len(b.got(pathGettoken)); n != 2 {
				t.Errorf("%d gettoken calls, want 2 (first fetch and one re-fetch)", n)
			}
			sent := b.got(pathSend)
			if len(sent) != 2 {
				t.Fatalf("%d sends, want 2", len(sent))
			}
			if !bytes.Equal(sent[0].body, part.Body) || !bytes.Equal(sent[1].body, part.Body) {
				t.Errorf("bodies differ:\n%s\n%s", sent[0].body, sent[1].body)
			}
			if sent[0].query.Get("access_token") != "tok-1" || sent[1].query.Get("access_token") != "tok-2" {
				t.Errorf("tokens %q then %q", sent[0].query.Get("access_token"), sent[1].query.Get("access_token"))
			}
			if got := b.store.invalidated(); !reflect.DeepEqual(got, []invalidation{{testKey, "tok-1"}}) {
				t.Errorf("invalidations %v", got)
			}
		})
	}
}

// Invalidation is compare-and-delete: when another process already replaced the
// rejected token, the client keeps the new one, does not call gettoken, and
// retries with it.
func TestSendInvalidatesOnlyTheRejectedToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.withToken("tok-old")
	b.handle(pathSend, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			b.store.set(testKey, "tok-new") // refreshed meanwhile by another process
			io.WriteString(w, `{"errcode":40014,"errmsg":"invalid access_token"}`)
			return
		}
		io.WriteString(w, `{"errcode":0,"errmsg":"ok","msgid":"m"}`)
	})
	if _, err := b.client.Send(context.Background(), b.textPart("a")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := b.store.invalidated(); !reflect.DeepEqual(got, []invalidation{{testKey, "tok-old"}}) {
		t.Errorf("invalidations %v, want the rejected token only", got)
	}
	if tok, _ := b.store.get(testKey); tok != "tok-new" {
		t.Errorf("store holds %q, want tok-new kept", tok)
	}
	if n := len(b.got(pathGettoken)); n != 0 {
		t.Errorf("%d gettoken calls, want 0", n)
	}
	if sent := b.got(pathSend); len(sent) != 2 || sent[1].query.Get("access_token") != "tok-new" {
		t.Errorf("retry did not use tok-new: %+v", sent)
	}
}

// HTTP and transport failures are classified by whether the request may have
// been applied.
func TestSendClassifiesHTTPFailures(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		desc       string
		handler    handlerFunc
		wantClass  providers.Class
		wantStatus int
		wantAfter  time.Duration
	}{
		{
			desc:      "429 with Retry-After seconds",
			handler:   status(http.StatusTooManyRequests, "Retry-After", "7"),
			wantClass: providers.ClassThrottled, wantStatus: 429, wantAfter: 7 * time.Second,
		},
		{
			desc:      "503 with Retry-After date",
			handler:   status(http.StatusServiceUnavailable, "Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)),
			wantClass: providers.ClassThrottled, wantStatus: 503, wantAfter: 90 * time.Second,
		},
		{
			desc:      "503 with Retry-After date in the past",
			handler:   status(http.StatusServiceUnavailable, "Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)),
			wantClass: providers.ClassThrottled, wantStatus: 503, wantAfter: 0,
		},
		{
			desc:      "503 without Retry-After",
			handler:   status(http.StatusServiceUnavailable, "", ""),
			wantClass: providers.ClassThrottled, wantStatus: 503, wantAfter: defaultThrottleDelay,
		},
		{desc: "500", handler: status(http.StatusInternalServerError, "", ""), wantClass: providers.ClassUnknownOutcome, wantStatus: 500},
		{desc: "502", handler: status(http.StatusBadGateway, "", ""), wantClass: providers.ClassUnknownOutcome, wantStatus: 502},
		{desc: "504", handler: status(http.StatusGatewayTimeout, "", ""), wantClass: providers.ClassUnknownOutcome, wantStatus: 504},
		{desc: "408", handler: status(http.StatusRequestTimeout, "", ""), wantClass: providers.ClassRetryable, wantStatus: 408},
		{desc: "404 (wrong base_url)", handler: status(http.StatusNotFound, "", ""), wantClass: providers.ClassAppDisabled, wantStatus: 404},
		{desc: "403 (proxy)", handler: status(http.StatusForbidden, "", ""), wantClass: providers.ClassAppDisabled, wantStatus: 403},
		{desc: "400", handler: status(http.StatusBadRequest, "", ""), wantClass: providers.ClassPermanent, wantStatus: 400},
		{desc: "413", handler: status(http.StatusRequestEntityTooLarge, "", ""), wantClass: providers.ClassPermanent, wantStatus: 413},
		{
			desc:      "200 with HTML",
			handler:   func(n int, w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>gateway</html>") },
			wantClass: providers.ClassUnknownOutcome,
		},
		{
			desc:      "200 without errcode",
			handler:   func(n int, w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"msgid":"x"}`) },
			wantClass: providers.ClassUnknownOutcome,
		},
		{
			desc: "connection closed after the request was read",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				conn.Close()
			},
			wantClass: providers.ClassUnknownOutcome,
		},
		{
			desc: "body cut short",
			handler: func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, `{"errcode":0,`)
			},
			wantClass: providers.ClassUnknownOutcome,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.client.now = func() time.Time { return now }
			b.withToken("tok")
			b.handle(pathSend, tt.handler)
			res, err := b.client.Send(context.Background(), b.textPart("a"))
			if res != nil {
				t.Errorf("result %+v, want nil", res)
			}
			pe := providerError(t, err)
			if pe.Class != tt.wantClass || pe.HTTPStatus != tt.wantStatus || pe.RetryAfter != tt.wantAfter || pe.Op != "message/send" || pe.Provider != "wecom" {
				t.Errorf("error %+v (%v), want class %v status %d after %v", pe, err, tt.wantClass, tt.wantStatus, tt.wantAfter)
			}
			if n := len(b.got(pathSend)); n != 1 {
				t.Errorf("%d sends, want 1", n)
			}
		})
	}
}

func status(code int, header, value string) handlerFunc {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		if header != "" {
			w.Header().Set(header, value)
		}
		w.WriteHeader(code)
	}
}

// A request that never left (server down, context already done) is retryable;
// one cancelled after it was written has an unknown outcome.
func TestSendClassifiesTransportFailures(t *testing.T) {
	t.Parallel()
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.withToken("tok-in-url-9c8d")
		b.srv.Close()
		_, err := b.client.Send(context.Background(), b.textPart("a"))
		if pe := providerError(t, err); pe.Class != providers.ClassRetryable || pe.Err == nil {
			t.Errorf("error %+v, want retryable with the transport error", pe)
		}
		assertNoSecret(t, err, "tok-in-url-9c8d")
	})
	t.Run("context done before sending", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.withToken("tok")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.client.Send(ctx, b.textPart("a"))
		if pe := providerError(t, err); pe.Class != providers.ClassRetryable {
			t.Errorf("error %+v, want retryable", pe)
		}
		if n := len(b.got(pathSend)); n != 0 {
			t.Errorf("%d sends, want 0", n)
		}
	})
	t.Run("context done after the request was written", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.withToken("tok")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b.handle(pathSend, func(n int, w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		})
		_, err := b.client.Send(ctx, b.textPart("a"))
		if pe := providerError(t, err); pe.Class != providers.ClassUnknownOutcome {
			t.Errorf("error %+v, want unknown outcome", pe)
		}
	})
}

func TestSendEmptyPart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, part := range []*providers.Part{nil, {}} {
		_, err := b.client.Send(context.Background(), part)
		if pe := providerError(t, err); pe.Class != providers.ClassPermanent {
			t.Errorf("error %+v, want permanent", pe)
		}
	}
	if n := len(b.got(pathSend)) + len(b.got(pathGettoken)); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}
