package wps365sim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// This file is the simulator's own KSO-1 code, written from the WPS open-platform documentation
// §1.1 apart from the client's signer, so that a bug in one is caught by
// the other.

// ksoString builds the string to sign: "KSO-1" + METHOD + URI +
// Content-Type + date + sha256hex(body), the hash part empty for an empty
// body.
func ksoString(method, uri, contentType, date string, body []byte) string {
	var sb strings.Builder
	sb.WriteString("KSO-1")
	sb.WriteString(method)
	sb.WriteString(uri)
	sb.WriteString(contentType)
	sb.WriteString(date)
	if len(body) != 0 {
		h := sha256.New()
		h.Write(body)
		sb.WriteString(fmt.Sprintf("%x", h.Sum(nil)))
	}
	return sb.String()
}

// ksoSignature is hex HMAC-SHA256(secret, ksoString(…)).
func ksoSignature(secret, method, uri, contentType, date string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ksoString(method, uri, contentType, date, body)))
	return hex.EncodeToString(mac.Sum(nil))
}

// checkKSO1 verifies a request's KSO-1 headers for the app (appID,
// secret), signing uri. It returns "" or what is wrong.
func checkKSO1(r *http.Request, uri string, body []byte, appID, secret string, now time.Time, skew time.Duration) string {
	date := r.Header.Get("X-Kso-Date")
	auth := r.Header.Get("X-Kso-Authorization")
	if date == "" || auth == "" {
		return "missing X-Kso-Date or X-Kso-Authorization"
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return "X-Kso-Date is not an RFC1123 GMT date"
	}
	if d := now.Sub(t); d > skew || d < -skew {
		return "X-Kso-Date too far from server time"
	}
	want := "KSO-1 " + appID + ":" + ksoSignature(secret, r.Method, uri, r.Header.Get("Content-Type"), date, body)
	if !hmac.Equal([]byte(auth), []byte(want)) {
		return "KSO-1 signature mismatch"
	}
	return ""
}

// signKSO1 sets the KSO-1 headers on a request the simulator sends (a
// callback to the dispatcher).
func signKSO1(r *http.Request, appID, secret string, body []byte, at time.Time) {
	date := at.UTC().Format(http.TimeFormat)
	r.Header.Set("X-Kso-Date", date)
	r.Header.Set("X-Kso-Authorization", "KSO-1 "+appID+":"+ksoSignature(secret, r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), date, body))
}
