package wps365

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The official KSO-1 vectors (the WPS open-platform documentation).
func TestSignOfficialVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, method, uri, ct, date, body, want string
	}{
		{desc: "GET with empty body", method: "GET", uri: "/v7/test?key=value", ct: "application/json",
			date: "Mon, 02 Jan 2006 15:04:05 GMT", body: "",
			want: "KSO-1 AK123456:ce8df66877175e5198c8ea1362ffddf82e4941c6f25a4ca205a1ad09d0faaf03"},
		{desc: "POST with body", method: "POST", uri: "/v7/test/body", ct: "application/json",
			date: "Mon, 02 Jan 2006 15:04:05 GMT", body: `{"key": "value"}`,
			want: "KSO-1 AK123456:c46e6c988130818ecba2484d51ac685948fbbef6814602c7874d6bfc41dc17b3"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got := Authorization("AK123456", Sign("sk098765", tc.method, tc.uri, tc.ct, tc.date, []byte(tc.body)))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			now, _ := time.Parse(http.TimeFormat, tc.date)
			if err := Verify("AK123456", "sk098765", tc.method, tc.uri, tc.ct, tc.date, tc.want, []byte(tc.body), now, 0); err != nil {
				t.Fatalf("Verify of the official vector: %v", err)
			}
		})
	}
}

func TestBodyHashEmptyIsEmptyString(t *testing.T) {
	t.Parallel()
	if h := bodyHash(nil); h != "" {
		t.Fatalf("hash of empty body = %q, want empty", h)
	}
	if h := bodyHash([]byte(`{"key": "value"}`)); h != "9724c1e20e6e3e4d7f57ed25f9d4efb006e508590d528c90da597f6a775c13e5" {
		t.Fatalf("hash = %s", h)
	}
}

func TestSignRequestStripsUnsignedPrefixAndUsesGMT(t *testing.T) {
	t.Parallel()
	body := []byte(`{"key": "value"}`)
	req, _ := http.NewRequest(http.MethodPost, "https://wps.example.com/openapi/v7/test/body", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	now := time.Date(2006, 1, 2, 23, 4, 5, 0, time.FixedZone("CST", 8*3600))
	date := SignRequest(req, "AK123456", "sk098765", "/openapi", body, now)
	if date != "Mon, 02 Jan 2006 15:04:05 GMT" || req.Header.Get(HeaderDate) != date {
		t.Fatalf("date %q header %q", date, req.Header.Get(HeaderDate))
	}
	want := "KSO-1 AK123456:c46e6c988130818ecba2484d51ac685948fbbef6814602c7874d6bfc41dc17b3"
	if got := req.Header.Get(HeaderAuthorization); got != want {
		t.Fatalf("authorization %s, want %s (the /openapi prefix must not be signed)", got, want)
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	date := "Mon, 02 Jan 2006 15:04:05 GMT"
	now, _ := time.Parse(http.TimeFormat, date)
	body := []byte(`{"key": "value"}`)
	good := Authorization("AK123456", Sign("sk098765", "POST", "/cb", "application/json", date, body))
	tests := []struct {
		desc       string
		auth, date string
		body       string
		now        time.Time
		want       error
	}{
		{desc: "one changed body byte", auth: good, date: date, body: `{"key": "valuf"}`, now: now, want: ErrBadSignature},
		{desc: "other app", auth: strings.Replace(good, "AK123456", "AK999", 1), date: date, body: string(body), now: now, want: ErrBadSignature},
		{desc: "not KSO-1", auth: strings.Replace(good, "KSO-1", "WPS-4", 1), date: date, body: string(body), now: now, want: ErrBadSignature},
		{desc: "stale date", auth: good, date: date, body: string(body), now: now.Add(6 * time.Minute), want: ErrStaleDate},
		{desc: "future date", auth: good, date: date, body: string(body), now: now.Add(-6 * time.Minute), want: ErrStaleDate},
		{desc: "no date", auth: good, date: "", body: string(body), now: now, want: ErrStaleDate},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			err := Verify("AK123456", "sk098765", "POST", "/cb", "application/json", tc.date, tc.auth, []byte(tc.body), tc.now, 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "sk098765") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}
