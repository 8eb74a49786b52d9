package wps365

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// KSO-1 header names and the version literal (the WPS open-platform documentation).
const (
	// HeaderDate is the header carrying the signed date, in [http.TimeFormat]
	// ("Mon, 02 Jan 2006 15:04:05 GMT").
	HeaderDate = "X-Kso-Date"
	// HeaderAuthorization carries "KSO-1 {app_id}:{hex signature}".
	HeaderAuthorization = "X-Kso-Authorization"
	// KSO1 is the version literal that starts both the string to sign and the
	// header value.
	KSO1 = "KSO-1"
)

// DefaultMaxSkew is how far a signed date may be from the verifier's clock
// before [Verify] refuses it as stale (5 minutes).
const DefaultMaxSkew = 5 * time.Minute

// Verification failures of [Verify]. They never carry the secret or the
// expected signature.
var (
	// ErrBadSignature: the X-Kso-Authorization header is missing, malformed,
	// names another app, or its signature does not match the request.
	ErrBadSignature = errors.New("wps365: bad KSO-1 signature")
	// ErrStaleDate: X-Kso-Date is missing, unreadable, or further than the
	// allowed skew from now.
	ErrStaleDate = errors.New("wps365: stale or missing X-Kso-Date")
)

// bodyHash is the sha256 part of the string to sign: the lowercase hex
// SHA-256 of body, or "" when body is empty (not the hash of "").
func bodyHash(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// Sign returns the KSO-1 signature (64 lowercase hex digits) of one request:
// HEX(HMAC-SHA256(secret, "KSO-1" + method + requestURI + contentType + date +
// sha256hex(body))), with no separators and an empty string for the hash of
// an empty body. requestURI is the path and query without host and without
// an unsigned gateway prefix ("/openapi" of a private deployment); date is
// the exact X-Kso-Date string sent.
func Sign(secret, method, requestURI, contentType, date string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(KSO1))
	m.Write([]byte(strings.ToUpper(method)))
	m.Write([]byte(requestURI))
	m.Write([]byte(contentType))
	m.Write([]byte(date))
	m.Write([]byte(bodyHash(body)))
	return hex.EncodeToString(m.Sum(nil))
}

// Authorization returns the X-Kso-Authorization value "KSO-1 {appID}:{signature}".
func Authorization(appID, signature string) string {
	return KSO1 + " " + appID + ":" + signature
}

// SignRequest sets X-Kso-Date (now in [http.TimeFormat], always GMT) and
// X-Kso-Authorization on req for body, which must be the exact bytes req
// sends. The signed URI is req.URL.RequestURI() without unsignedPrefix (""
// on the public cloud). The Content-Type header must already be set: its
// exact value is signed. It returns the date string it set.
func SignRequest(req *http.Request, appID, secret, unsignedPrefix string, body []byte, now time.Time) string {
	date := now.UTC().Format(http.TimeFormat)
	uri := strings.TrimPrefix(req.URL.RequestURI(), unsignedPrefix)
	sig := Sign(secret, req.Method, uri, req.Header.Get("Content-Type"), date, body)
	req.Header.Set(HeaderDate, date)
	req.Header.Set(HeaderAuthorization, Authorization(appID, sig))
	return date
}

// Verify checks a KSO-1 signed request that arrived with these parts: the
// X-Kso-Authorization value must name appID and carry the signature of
// (method, requestURI, contentType, date, body) under secret (compared in
// constant time), and date must parse (RFC1123 with GMT or a zone,
// RFC1123Z, or RFC850-like "Monday, 02 Jan 2006 15:04:05 MST") and lie
// within maxSkew of now (maxSkew <= 0 means [DefaultMaxSkew]). It returns
// nil, or an error wrapping [ErrBadSignature] or [ErrStaleDate].
func Verify(appID, secret, method, requestURI, contentType, date, authorization string, body []byte, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	t, ok := parseKsoDate(date)
	if !ok {
		return fmt.Errorf("%w: unreadable date", ErrStaleDate)
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("%w: date is %s away from now", ErrStaleDate, d.Round(time.Second))
	}
	rest, ok := strings.CutPrefix(authorization, KSO1+" ")
	if !ok {
		return fmt.Errorf("%w: not a KSO-1 authorization", ErrBadSignature)
	}
	id, sig, ok := strings.Cut(rest, ":")
	if !ok || id != appID {
		return fmt.Errorf("%w: signed by another app", ErrBadSignature)
	}
	want := Sign(secret, method, requestURI, contentType, date, body)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) != 1 {
		return ErrBadSignature
	}
	return nil
}

// parseKsoDate reads the date formats the official verification sample
// accepts (the WPS open-platform documentation).
func parseKsoDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Monday, 02 Jan 2006 15:04:05 MST"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
