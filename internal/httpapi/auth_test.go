package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAuth: no token or an unknown one is 401 naming authorization (with
// WWW-Authenticate), a token of another app is 403 naming the app's field,
// on every authenticated route; a token given as token_sha256 works.
func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *setupOpts) { o.noWorker = true })
	wpsID := wpsApp + ".01jd8x7c3k9f2m4q6r8t0v2w4y"
	send := jsonBody(map[string]any{"app": wpsApp, "to": map[string]any{"users": []string{"u1"}}, "kind": "text", "text": "hi"})
	routes := []struct {
		desc, method, path, body, field403 string
	}{
		{"send", "POST", "/v1/messages", send, "app"},
		{"status", "GET", "/v1/messages/" + wpsID, "", "id"},
		{"update", "POST", "/v1/messages/" + wpsID + "/updates", `{"kind":"card","body":{}}`, "id"},
		{"cancel", "DELETE", "/v1/messages/" + wpsID, "", "id"},
		{"pause", "POST", "/v1/apps/" + wpsApp + "/pause", "", "app"},
		{"resume", "POST", "/v1/apps/" + wpsApp + "/resume", "", "app"},
		{"quota", "GET", "/v1/apps/" + wpsApp + "/quota/u1", "", "app"},
		{"events", "GET", "/v1/apps/" + wpsApp + "/events?wait=0s", "", "app"},
		{"catalog", "GET", "/v1/apps", "", ""},
		{"quota reserve", "POST", "/v1/apps/" + wpsApp + "/quota/reserve", `{"recipients":["u1"]}`, "app"},
		{"quota release", "POST", "/v1/apps/" + wpsApp + "/quota/release", `{"reservation_id":"x"}`, "app"},
		{"quota reservations", "GET", "/v1/apps/" + wpsApp + "/quota/u1/reservations", "", "app"},
	}
	for _, rt := range routes {
		t.Run(rt.desc, func(t *testing.T) {
			for _, auth := range []struct {
				desc, header string
			}{{"none", ""}, {"unknown token", "Bearer nope"}, {"basic", "Basic dXNlcjpwdw=="}, {"empty bearer", "Bearer "}} {
				var r reply
				if auth.header == "" {
					r = b.do(rt.method, rt.path, "", rt.body)
				} else {
					r = b.do(rt.method, rt.path, "", rt.body, "Authorization", auth.header)
				}
				if r.status != http.StatusUnauthorized || r.errField() != "authorization" || r.errCode() != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: HTTP %d %s, want 401 naming authorization with WWW-Authenticate", auth.desc, r.status, r.raw)
				}
			}
			if rt.field403 == "" {
				return
			}
			r := b.do(rt.method, rt.path, tokenHR, rt.body)
			if r.status != http.StatusForbidden || r.errField() != rt.field403 || r.errCode() != "forbidden" {
				t.Errorf("token of another app: HTTP %d %s, want 403 naming %s", r.status, r.raw, rt.field403)
			}
		})
	}
	// the hashed token may use its own app
	r := b.must(b.do("GET", "/v1/apps", tokenHR, ""), 200)
	apps := r.json["apps"].([]any)
	if len(apps) != 1 || apps[0].(map[string]any)["app"] != wecomApp {
		t.Errorf("catalog of hr-only = %s, want hr only", r.raw)
	}
}

// The quota authority is served by the API behind its tokens: a reservation
// made through the router is listed and released.
func TestQuotaAuthorityThroughTheAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.must(b.do("POST", "/v1/apps/hr/quota/reserve", tokenHR, `{"recipients":["zhangsan"]}`), http.StatusOK)
	if !strings.Contains(string(r.raw), "reservation_id") {
		t.Fatalf("reserve: %s, want a reservation id", r.raw)
	}
	b.must(b.do("GET", "/v1/apps/hr/quota/zhangsan/reservations", tokenHR, ""), http.StatusOK)
	var res struct {
		ReservationID string `json:"reservation_id"`
	}
	if err := json.Unmarshal(r.raw, &res); err != nil || res.ReservationID == "" {
		t.Fatalf("reserve answer %s: %v", r.raw, err)
	}
	b.must(b.do("POST", "/v1/apps/hr/quota/release", tokenHR, `{"reservation_id":"`+res.ReservationID+`"}`), http.StatusOK)
}
