package xiezuo

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSharedConstructionKSO1 runs KSO-1's official vectors (the WPS open-platform documentation)
// through hmacSign, the construction WPS-4 uses with another version literal.
func TestSharedConstructionKSO1(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, method, uri, body, want string
	}{
		{desc: "official vector 1: GET, empty body", method: "GET", uri: "/v7/test?key=value",
			want: "ce8df66877175e5198c8ea1362ffddf82e4941c6f25a4ca205a1ad09d0faaf03"},
		{desc: "official vector 2: POST with body", method: "POST", uri: "/v7/test/body", body: `{"key": "value"}`,
			want: "c46e6c988130818ecba2484d51ac685948fbbef6814602c7874d6bfc41dc17b3"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got := hmacSign("KSO-1", "sk098765", tc.method, tc.uri, "application/json", "Mon, 02 Jan 2006 15:04:05 GMT", []byte(tc.body))
			if got != tc.want {
				t.Fatalf("KSO-1 signature = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWPS4Signature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, method, uri, date, body, want string
	}{
		{desc: "derived: v2 send with company_token", method: "POST", uri: "/api/v2/developer/app/messages?company_token=abc",
			date: "Wed, 20 Apr 2022 01:33:07 GMT", body: `{"key": "value"}`,
			want: "68069078740ef9b241872edca0f27ec7788890c2dfc23ba8220ee0b03556cf95"},
		{desc: "derived: GET, empty body", method: "GET", uri: "/v7/test?key=value",
			date: "Mon, 02 Jan 2006 15:04:05 GMT",
			want: "f716884055cf3d46972cdfed5849ba12bbc33fc553c1cae7ec7aae7da4b9ae04"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if got := WPS4Signature("sk098765", tc.method, tc.uri, "application/json", tc.date, []byte(tc.body)); got != tc.want {
				t.Fatalf("WPS-4 signature = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWPS3Signature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, body, wantMD5, wantXAuth string
	}{
		{desc: "official: empty body", wantMD5: "d41d8cd98f00b204e9800998ecf8427e",
			wantXAuth: "WPS-3:AK123:695229194add4899ffde601d691a1f2d398e7fab"},
		{desc: "official: JSON body", body: `{"key":"value"}`, wantMD5: "a7353f7cddce808de0032747a0b7be50",
			wantXAuth: "WPS-3:AK123:995beeb31091d56cf6f203ff2eddbf04d65ac4b8"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			md := ContentMD5([]byte(tc.body))
			if md != tc.wantMD5 {
				t.Fatalf("Content-Md5 = %s, want %s", md, tc.wantMD5)
			}
			got := WPS3XAuth("AK123", WPS3Signature("sk456", md, "/api/v1/dosomething?name=xiaoming&age=18", "application/json", "Wed, 03 Nov 2021 02:55:55 GMT"))
			if got != tc.wantXAuth {
				t.Fatalf("X-Auth = %s, want %s", got, tc.wantXAuth)
			}
		})
	}
}

func TestSignedURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, path, query, prefix, want string
	}{
		{desc: "private gateway prefix stripped", path: "/o/woa/api/v2/developer/app/messages", query: "company_token=T", prefix: "/o/woa", want: "/api/v2/developer/app/messages?company_token=T"},
		{desc: "prefix with trailing slash", path: "/open/api/x", prefix: "/open/", want: "/api/x"},
		{desc: "no prefix configured", path: "/kopen/woa/v2/dev/app/messages", query: "company_token=T", want: "/kopen/woa/v2/dev/app/messages?company_token=T"},
		{desc: "prefix only matches whole segments", path: "/openapi/v7/x", prefix: "/open", want: "/openapi/v7/x"},
		{desc: "path not under prefix", path: "/api/x", prefix: "/o/woa", want: "/api/x"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if got := SignedURI(tc.path, tc.query, tc.prefix); got != tc.want {
				t.Fatalf("SignedURI = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSignerMatchesVectors: the Signer puts the vector's values in the headers
// of a real request, prefix stripped, date in http.TimeFormat.
func TestSignerMatchesVectors(t *testing.T) {
	t.Parallel()
	now := time.Date(2022, 4, 20, 1, 33, 7, 0, time.UTC)
	body := []byte(`{"key": "value"}`)
	tests := []struct {
		desc, style, dateHdr, authHdr string
	}{
		{desc: "wps_docs headers", style: HeaderStyleWPSDocs, dateHdr: HeaderWPSDocsDate, authHdr: HeaderWPSDocsAuthorization},
		{desc: "plain headers", style: HeaderStylePlain, dateHdr: HeaderDate, authHdr: HeaderAuthorization},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "http://wps.example/o/woa/api/v2/developer/app/messages?company_token=abc", bytes.NewReader(body))
			s := Signer{Scheme: SignatureWPS4, HeaderStyle: tc.style, AppID: "AK123456", Secret: "sk098765", UnsignedPrefix: "/o/woa"}
			s.Sign(req, body, now)
			if got := req.Header.Get(tc.dateHdr); got != "Wed, 20 Apr 2022 01:33:07 GMT" {
				t.Fatalf("%s = %q", tc.dateHdr, got)
			}
			want := "WPS-4 AK123456:68069078740ef9b241872edca0f27ec7788890c2dfc23ba8220ee0b03556cf95"
			if got := req.Header.Get(tc.authHdr); got != want {
				t.Fatalf("%s = %q, want %q", tc.authHdr, got, want)
			}
			o := VerifyOptions{AppID: "AK123456", Secret: "sk098765", UnsignedPrefix: "/o/woa", Now: now.Add(time.Minute), MaxSkew: 5 * time.Minute}
			if err := VerifyWPS4(req, body, o); err != nil {
				t.Fatalf("VerifyWPS4 of own signature: %v", err)
			}
			tampered := bytes.Clone(body)
			tampered[3] ^= 1
			if err := VerifyWPS4(req, tampered, o); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifyWPS4 of a changed body = %v, want ErrBadSignature", err)
			}
			o.Now = now.Add(6 * time.Minute)
			if err := VerifyWPS4(req, body, o); !errors.Is(err, ErrStaleDate) {
				t.Fatalf("VerifyWPS4 6 minutes later = %v, want ErrStaleDate", err)
			}
		})
	}
}

func TestSignerWPS3Vector(t *testing.T) {
	t.Parallel()
	body := []byte(`{"key":"value"}`)
	now := time.Date(2021, 11, 3, 2, 55, 55, 0, time.UTC)
	req := httptest.NewRequest(http.MethodPost, "http://wps.example/open/api/v1/dosomething?name=xiaoming&age=18", bytes.NewReader(body))
	s := Signer{Scheme: SignatureWPS3, AppID: "AK123", Secret: "sk456", UnsignedPrefix: "/open"}
	s.Sign(req, body, now)
	if got := req.Header.Get(HeaderXAuth); got != "WPS-3:AK123:995beeb31091d56cf6f203ff2eddbf04d65ac4b8" {
		t.Fatalf("X-Auth = %q", got)
	}
	if got := req.Header.Get(HeaderContentMD5); got != "a7353f7cddce808de0032747a0b7be50" {
		t.Fatalf("Content-Md5 = %q", got)
	}
	o := VerifyOptions{AppID: "AK123", Secret: "sk456", UnsignedPrefix: "/open", Now: now, MaxSkew: time.Minute}
	if err := VerifyWPS3(req, body, o); err != nil {
		t.Fatalf("VerifyWPS3: %v", err)
	}
	if err := VerifyWPS3(req, []byte(`{"key":"valuf"}`), o); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VerifyWPS3 of a changed body = %v, want ErrBadSignature", err)
	}
	if s := s.String(); bytes.Contains([]byte(s), []byte("sk456")) {
		t.Fatalf("Signer.String leaks the secret: %s", s)
	}
}
