package xiezuosim

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// This file verifies request signatures with the simulator's own code, written
// from the documents (the WPS open-platform documentation), not with the client's signer,
// so that a bug in the client cannot hide behind the same bug here.

// stripPrefix is the request URI without the app's unsigned gateway prefix.
func stripPrefix(r *http.Request, prefix string) string {
	path := r.URL.EscapedPath()
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" && (path == prefix || strings.HasPrefix(path, prefix+"/")) {
		path = strings.TrimPrefix(path, prefix)
		if path == "" {
			path = "/"
		}
	}
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	return path
}

// checkWPS4 reports whether r carries the app's WPS-4 signature in the app's
// header pair, and the date it signed.
func checkWPS4(r *http.Request, body []byte, a *App) (date string, ok bool) {
	dh, ah := "Wps-Docs-Date", "Wps-Docs-Authorization"
	if a.HeaderStyle == "plain" {
		dh, ah = "Date", "Authorization"
	}
	date, auth := r.Header.Get(dh), r.Header.Get(ah)
	ct := r.Header.Get("Content-Type")
	digest := ""
	if len(body) > 0 && (strings.Contains(ct, "application/json") || strings.Contains(ct, "application/x-www-form-urlencoded")) {
		d := sha256.Sum256(body)
		digest = hex.EncodeToString(d[:])
	}
	mac := hmac.New(sha256.New, []byte(a.Secret))
	for _, s := range []string{"WPS-4", r.Method, stripPrefix(r, a.UnsignedPrefix), ct, date, digest} {
		mac.Write([]byte(s))
	}
	want := "WPS-4 " + a.Key + ":" + hex.EncodeToString(mac.Sum(nil))
	return date, date != "" && hmac.Equal([]byte(auth), []byte(want))
}

// checkWPS3 reports whether r carries the app's WPS-3 X-Auth and a matching
// Content-Md5, and the date it signed.
func checkWPS3(r *http.Request, body []byte, a *App) (date string, ok bool) {
	date = r.Header.Get("Date")
	md := md5.Sum(body)
	contentMD5 := hex.EncodeToString(md[:])
	if r.Header.Get("Content-Md5") != contentMD5 {
		return date, false
	}
	h := sha1.New()
	for _, s := range []string{strings.ToLower(a.Secret), contentMD5, stripPrefix(r, a.UnsignedPrefix), r.Header.Get("Content-Type"), date} {
		h.Write([]byte(s))
	}
	want := "WPS-3:" + a.Key + ":" + hex.EncodeToString(h.Sum(nil))
	return date, date != "" && hmac.Equal([]byte(r.Header.Get("X-Auth")), []byte(want))
}

// verify checks r's signature by the app's scheme and its date against now:
// CodeOK, CodeBadSignature or CodeBadDate.
func verify(r *http.Request, body []byte, a *App, now time.Time, skew time.Duration) int {
	var date string
	var ok bool
	if a.Signature == "wps3" {
		date, ok = checkWPS3(r, body, a)
	} else {
		date, ok = checkWPS4(r, body, a)
	}
	if !ok {
		return CodeBadSignature
	}
	t, err := time.Parse(time.RFC1123, date)
	if err != nil || !strings.HasSuffix(date, " GMT") {
		return CodeBadDate
	}
	if d := now.Sub(t); d > skew || d < -skew {
		return CodeBadDate
	}
	return CodeOK
}

// signWPS4 signs a callback the simulator sends (WPS → the app), with the
// simulator's own code.
func signWPS4(req *http.Request, body []byte, a *App, style string, now time.Time) {
	date := now.UTC().Format("Mon, 02 Jan 2006 15:04:05") + " GMT"
	ct := req.Header.Get("Content-Type")
	d := sha256.Sum256(body)
	mac := hmac.New(sha256.New, []byte(a.Secret))
	for _, s := range []string{"WPS-4", req.Method, stripPrefix(req, ""), ct, date, hex.EncodeToString(d[:])} {
		mac.Write([]byte(s))
	}
	dh, ah := "Wps-Docs-Date", "Wps-Docs-Authorization"
	if style == "plain" {
		dh, ah = "Date", "Authorization"
	}
	req.Header.Set(dh, date)
	req.Header.Set(ah, "WPS-4 "+a.Key+":"+hex.EncodeToString(mac.Sum(nil)))
}
