package quotaapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/producer"
	_ "github.com/msgdispatch/msgdispatch/providers/all"
)

const testToken = "t0ken-of-the-test"

// testBundle is the handlers on a private Redis, behind a bearer check
// standing for the Service API's authentication.
type testBundle struct {
	t   *testing.T
	ctx context.Context
	rdb *redis.Client
	srv *httptest.Server
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	rs := redistest.Start(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
redis: {addr: %q}
peak: {enabled: false}
apps:
  hr:
    provider: wecom
    wecom: {base_url: "http://127.0.0.1:1", corp_id: ww1, agent_id: 1000002, secret: s}
    limits: {per_recipient: [{count: 3, window: 1s}], margin: 100ms}
`, rs.Addr)), nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb := rs.Client()
	mux := http.NewServeMux()
	auth := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+testToken {
				writeError(w, &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Field: "authorization", Message: "no token"})
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	Register(mux, Options{Config: cfg, Authority: producer.New(cfg, rdb)}, auth)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &testBundle{t: t, ctx: ctx, rdb: rdb, srv: srv}
}

// do sends a request with the token and returns the status and body.
func (b *testBundle) do(method, path, contentType, body string) (int, []byte) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.ctx, method, b.srv.URL+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, data
}

func (b *testBundle) decode(data []byte, v any) {
	b.t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		b.t.Fatalf("%v: %s", err, data)
	}
}

// charges returns how many arrivals the app's windows hold.
func (b *testBundle) charges() int {
	b.t.Helper()
	keys, err := b.rdb.Keys(b.ctx, "rl:{hr}:r:*").Result()
	if err != nil {
		b.t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		n += int(b.rdb.ZCard(b.ctx, k).Val())
	}
	return n
}

// Four reservations to zhangsan under 3 per 1s: three now, the fourth at a
// later slot; the GET lists them; releasing the fourth refunds it and a
// second release of it is a 404.
func TestReserveListRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	var got reserveResponse
	for i := range 4 {
		status, data := b.do("POST", "/v1/apps/hr/quota/reserve", "application/json", `{"recipients":["zhangsan"]}`)
		if status != http.StatusOK {
			t.Fatalf("reserve %d: %d %s", i, status, data)
		}
		b.decode(data, &got)
		ids = append(ids, got.ReservationID)
		want := "now"
		if i == 3 {
			want = "a slot time"
			if _, err := time.Parse(time.RFC3339Nano, got.Recipients["zhangsan"]); err != nil {
				t.Errorf("reserve %d: %s, want %s", i, data, want)
			}
		} else if got.Recipients["zhangsan"] != want {
			t.Errorf("reserve %d: %s, want %s", i, data, want)
		}
	}
	var list struct {
		Reservations []heldJSON `json:"reservations"`
	}
	status, data := b.do("GET", "/v1/apps/hr/quota/zhangsan/reservations", "", "")
	b.decode(data, &list)
	if status != http.StatusOK || len(list.Reservations) != 4 || list.Reservations[3].State != "booked" || list.Reservations[0].State != "admitted" || list.Reservations[3].ReservationID != ids[3] {
		t.Errorf("reservations: %d %s", status, data)
	}
	status, data = b.do("POST", "/v1/apps/hr/quota/release", "application/json", `{"reservation_id":"`+ids[3]+`"}`)
	if status != http.StatusOK || !strings.Contains(string(data), `"released":["zhangsan"]`) {
		t.Errorf("release: %d %s", status, data)
	}
	if n := b.charges(); n != 3 {
		t.Errorf("%d charges after the release, want 3", n)
	}
	status, data = b.do("POST", "/v1/apps/hr/quota/release", "application/json", `{"reservation_id":"`+ids[3]+`"}`)
	if status != http.StatusNotFound || !strings.Contains(string(data), `"field":"reservation_id"`) {
		t.Errorf("second release: %d %s, want 404 naming reservation_id", status, data)
	}
	_, data = b.do("GET", "/v1/apps/hr/quota/zhangsan/reservations", "", "")
	b.decode(data, &list)
	if len(list.Reservations) != 3 {
		t.Errorf("after the release: %s, want 3 reservations", data)
	}
}

// Every malformed request is refused with the field at fault, and nothing
// is charged.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	many := make([]string, MaxRecipients+1)
	for i := range many {
		many[i] = fmt.Sprintf("u%d", i)
	}
	manyJSON, _ := json.Marshal(map[string]any{"recipients": many})
	far := time.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	for _, tt := range []struct {
		desc, method, path, ctype, body string
		status                          int
		field                           string
	}{
		{desc: "not JSON", path: "/v1/apps/hr/quota/reserve", body: `recipients=zhangsan`, status: 400, field: "request_body"},
		{desc: "empty body", path: "/v1/apps/hr/quota/reserve", body: ``, status: 400, field: "request_body"},
		{desc: "truncated", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"`, status: 400, field: "request_body"},
		{desc: "trailing data", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"]} {}`, status: 400, field: "request_body"},
		{desc: "no recipients", path: "/v1/apps/hr/quota/reserve", body: `{"urgent":true}`, status: 400, field: "recipients"},
		{desc: "empty recipients", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":[]}`, status: 400, field: "recipients"},
		{desc: "recipients a string", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":"zhangsan"}`, status: 400, field: "recipients"},
		{desc: "an empty recipient", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"," "]}`, status: 400, field: "recipients[1]"},
		{desc: "a repeated recipient", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan","lisi","zhangsan"]}`, status: 400, field: "recipients[2]"},
		{desc: "a '|' in a recipient", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan|lisi"]}`, status: 400, field: "recipients[0]"},
		{desc: "too many recipients", path: "/v1/apps/hr/quota/reserve", body: string(manyJSON), status: 400, field: "recipients"},
		{desc: "at not RFC 3339", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"],"at":"tomorrow"}`, status: 400, field: "at"},
		{desc: "at a number", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"],"at":1741572000}`, status: 400, field: "at"},
		{desc: "at beyond the message TTL", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"],"at":"` + far + `"}`, status: 400, field: "at"},
		{desc: "urgent a string", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"],"urgent":"yes"}`, status: 400, field: "urgent"},
		{desc: "unknown field", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"],"priority":1}`, status: 400, field: "priority"},
		{desc: "tenant on a single-tenant app", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"],"tenant":"ww2"}`, status: 400, field: "tenant"},
		{desc: "unknown app", path: "/v1/apps/nope/quota/reserve", body: `{"recipients":["zhangsan"]}`, status: 404, field: "app"},
		{desc: "not application/json", path: "/v1/apps/hr/quota/reserve", ctype: "text/plain", body: `{"recipients":["zhangsan"]}`, status: 415, field: "content-type"},
		{desc: "over 1 MiB", path: "/v1/apps/hr/quota/reserve", body: `{"recipients":["zhangsan"],"at":"` + strings.Repeat("x", MaxBody) + `"}`, status: 413, field: "request_body"},
		{desc: "release without an id", path: "/v1/apps/hr/quota/release", body: `{}`, status: 400, field: "reservation_id"},
		{desc: "release of a number", path: "/v1/apps/hr/quota/release", body: `{"reservation_id":7}`, status: 400, field: "reservation_id"},
		{desc: "release of another app's id", path: "/v1/apps/hr/quota/release", body: `{"reservation_id":"crm.06h4qr2kkaew5f69ay784h1k94~ww1"}`, status: 400, field: "reservation_id"},
		{desc: "release of an unknown id", path: "/v1/apps/hr/quota/release", body: `{"reservation_id":"hr.06h4qr2kkaew5f69ay784h1k94~ww1"}`, status: 404, field: "reservation_id"},
		{desc: "list with a tenant on a single-tenant app", method: "GET", path: "/v1/apps/hr/quota/zhangsan/reservations?tenant=ww2", status: 400, field: "tenant"},
	} {
		method, ctype := tt.method, tt.ctype
		if method == "" {
			method = "POST"
		}
		if ctype == "" && method == "POST" {
			ctype = "application/json"
		}
		status, data := b.do(method, tt.path, ctype, tt.body)
		var e struct {
			Error *Error `json:"error"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Error == nil {
			t.Errorf("%s: %d %.200s: not an error body", tt.desc, status, data)
			continue
		}
		if status != tt.status || e.Error.Field != tt.field || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d naming %q", tt.desc, status, e.Error, tt.status, tt.field)
		}
	}
	if n := b.charges(); n != 0 {
		t.Errorf("%d charges after malformed requests only, want 0", n)
	}
}

// The handlers are mounted behind the wrap given to Register: without the
// token nothing is reserved.
func TestRegisterWraps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Post(b.srv.URL+"/v1/apps/hr/quota/reserve", "application/json", strings.NewReader(`{"recipients":["zhangsan"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
	if n := b.charges(); n != 0 {
		t.Errorf("%d charges, want 0", n)
	}
}
