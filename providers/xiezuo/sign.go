package xiezuo

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Signature schemes, the values of [Config.Signature].
const (
	// SignatureWPS4 is WPS-4 (private deployments, {domain}/o/woa/api/v2/...):
	// hex HMAC-SHA256 over "WPS-4"+method+URI+Content-Type+date+sha256hex(body),
	// keyed by the app secret (the WPS open-platform documentation).
	SignatureWPS4 = "wps4"
	// SignatureWPS3 is WPS-3 (public cloud, openapi.wps.cn/kopen/...): hex
	// SHA-1 over lower(secret)+Content-Md5+URI+Content-Type+date, sent as
	// X-Auth "WPS-3:{app}:{sig}" (the WPS open-platform documentation).
	SignatureWPS3 = "wps3"
)

// Header styles of WPS-4, the values of [Config.HeaderStyle].
const (
	// HeaderStyleWPSDocs sends Wps-Docs-Date and Wps-Docs-Authorization (the
	// private-deployment documents). The default.
	HeaderStyleWPSDocs = "wps_docs"
	// HeaderStylePlain sends Date and Authorization (the public-cloud 协作
	// document's variant).
	HeaderStylePlain = "plain"
)

// WPS-4 and WPS-3 header names.
const (
	HeaderWPSDocsDate          = "Wps-Docs-Date"
	HeaderWPSDocsAuthorization = "Wps-Docs-Authorization"
	HeaderDate                 = "Date"
	HeaderAuthorization        = "Authorization"
	HeaderContentMD5           = "Content-Md5"
	HeaderXAuth                = "X-Auth"
)

// ContentTypeJSON is the Content-Type every request of this package carries and signs.
const ContentTypeJSON = "application/json"

// Version literals at the head of the string to sign / the authorization value.
const (
	verWPS4 = "WPS-4"
	verWPS3 = "WPS-3"
)

// Signing errors, matched with errors.Is by verifiers' callers.
var (
	// ErrNoSignature: the request carries no authorization header of the scheme.
	ErrNoSignature = errors.New("no signature")
	// ErrBadSignature: the signature, app id or body digest does not match.
	ErrBadSignature = errors.New("signature mismatch")
	// ErrStaleDate: the signed date is missing, unreadable or too far from now.
	ErrStaleDate = errors.New("date missing, unreadable or out of range")
)

// SignedURI is the URI a signature covers: path plus "?query" (when the query
// is not empty), without the host and without the unsigned gateway prefix
// (e.g. "/o/woa" or "/open"; "" strips nothing). The prefix is stripped only
// when path starts with it followed by "/" or the end.
func SignedURI(path, rawQuery, unsignedPrefix string) string {
	p := strings.TrimRight(unsignedPrefix, "/")
	if p != "" && strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/') {
		path = path[len(p):]
		if path == "" {
			path = "/"
		}
	}
	if rawQuery != "" {
		return path + "?" + rawQuery
	}
	return path
}

// bodyDigest is lowercase hex SHA-256 of body, or "" for an empty body (the
// WPS-4 / KSO-1 rule "如果为空时, sha256(RequestBody)部分取空串"). When
// contentType names neither application/json nor
// application/x-www-form-urlencoded the body is not signed either (WPS-4
// integration-docking page).
func bodyDigest(contentType string, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	ct := strings.ToLower(contentType)
	if !strings.Contains(ct, "application/json") && !strings.Contains(ct, "application/x-www-form-urlencoded") {
		return ""
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// hmacSign is the construction WPS-4 shares with KSO-1 (the WPS open-platform documentation,
// §1.2): lowercase hex HMAC-SHA256(secret, ver+method+uri+contentType+date+
// sha256hex(body)), no separators.
func hmacSign(ver, secret, method, uri, contentType, date string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ver + strings.ToUpper(method) + uri + contentType + date + bodyDigest(contentType, body)))
	return hex.EncodeToString(m.Sum(nil))
}

// WPS4Signature returns the hex WPS-4 signature of a request: method, the
// signed URI (see [SignedURI]), the exact Content-Type header value, the exact
// date header value and the exact body bytes.
func WPS4Signature(secret, method, uri, contentType, date string, body []byte) string {
	return hmacSign(verWPS4, secret, method, uri, contentType, date, body)
}

// WPS4Authorization is the authorization header value "WPS-4 {appID}:{sig}".
func WPS4Authorization(appID, signature string) string {
	return verWPS4 + " " + appID + ":" + signature
}

// ContentMD5 is the WPS-3 Content-Md5 value: lowercase hex MD5 of body (of ""
// for an empty body: d41d8cd98f00b204e9800998ecf8427e).
func ContentMD5(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}

// WPS3Signature returns the hex WPS-3 signature: SHA-1 of
// lower(secret)+contentMD5+uri+contentType+date (the WPS open-platform documentation; the key is
// lower-cased as open-xz documents and most clients do).
func WPS3Signature(secret, contentMD5, uri, contentType, date string) string {
	sum := sha1.Sum([]byte(strings.ToLower(secret) + contentMD5 + uri + contentType + date))
	return hex.EncodeToString(sum[:])
}

// WPS3XAuth is the X-Auth header value "WPS-3:{appID}:{sig}".
func WPS3XAuth(appID, signature string) string {
	return verWPS3 + ":" + appID + ":" + signature
}

// Signer signs outgoing requests of one app. The body passed is exactly the
// body the request sends.
type Signer struct {
	// Scheme is SignatureWPS4 or SignatureWPS3.
	Scheme string
	// HeaderStyle is HeaderStyleWPSDocs or HeaderStylePlain (WPS-4 only).
	HeaderStyle string
	// AppID is the app's AK (app_key in config); Secret its SecretKey.
	AppID  string
	Secret string
	// UnsignedPrefix is the gateway prefix left out of the signed URI.
	UnsignedPrefix string
}

// String describes the signer without its secret.
func (s Signer) String() string {
	return fmt.Sprintf("xiezuo.Signer{%s %s app=%s prefix=%q}", s.Scheme, s.HeaderStyle, s.AppID, s.UnsignedPrefix)
}

// Sign sets Content-Type (application/json when body is not empty and none is
// set), the date header in exact http.TimeFormat form of now, and the
// authorization headers of the scheme on req, whose body must be body.
func (s Signer) Sign(req *http.Request, body []byte, now time.Time) {
	date := now.UTC().Format(http.TimeFormat)
	ct := req.Header.Get("Content-Type")
	if ct == "" && len(body) > 0 {
		ct = ContentTypeJSON
		req.Header.Set("Content-Type", ct)
	}
	uri := SignedURI(req.URL.EscapedPath(), req.URL.RawQuery, s.UnsignedPrefix)
	switch s.Scheme {
	case SignatureWPS3:
		md := ContentMD5(body)
		req.Header.Set(HeaderContentMD5, md)
		req.Header.Set(HeaderDate, date)
		req.Header.Set(HeaderXAuth, WPS3XAuth(s.AppID, WPS3Signature(s.Secret, md, uri, ct, date)))
	default:
		dh, ah := wps4Headers(s.HeaderStyle)
		req.Header.Set(dh, date)
		req.Header.Set(ah, WPS4Authorization(s.AppID, WPS4Signature(s.Secret, req.Method, uri, ct, date, body)))
	}
}

// wps4Headers are the date and authorization header names of a style.
func wps4Headers(style string) (date, auth string) {
	if style == HeaderStylePlain {
		return HeaderDate, HeaderAuthorization
	}
	return HeaderWPSDocsDate, HeaderWPSDocsAuthorization
}

// VerifyOptions say what a verifier accepts.
type VerifyOptions struct {
	// AppID and Secret are the app's credentials.
	AppID  string
	Secret string
	// UnsignedPrefix is stripped from the request path before verifying.
	UnsignedPrefix string
	// Now is the verifier's clock; MaxSkew how far the signed date may be from
	// it (0 means no date check).
	Now     time.Time
	MaxSkew time.Duration
}

// VerifyWPS4 checks the WPS-4 signature of r, whose body is body, accepting
// either header pair (Wps-Docs-Date/Wps-Docs-Authorization, else
// Date/Authorization). It returns nil, or an error wrapping ErrNoSignature,
// ErrBadSignature or ErrStaleDate; the comparison is constant-time and no
// error holds the expected signature.
func VerifyWPS4(r *http.Request, body []byte, o VerifyOptions) error {
	date, auth := r.Header.Get(HeaderWPSDocsDate), r.Header.Get(HeaderWPSDocsAuthorization)
	if auth == "" {
		date, auth = r.Header.Get(HeaderDate), r.Header.Get(HeaderAuthorization)
	}
	if auth == "" {
		return fmt.Errorf("xiezuo: WPS-4: %w", ErrNoSignature)
	}
	if err := checkDate(date, o); err != nil {
		return err
	}
	app, sig, ok := strings.Cut(strings.TrimPrefix(auth, verWPS4+" "), ":")
	if !strings.HasPrefix(auth, verWPS4+" ") || !ok || app != o.AppID {
		return fmt.Errorf("xiezuo: WPS-4: authorization is not %q for this app: %w", verWPS4+" {app}:{sig}", ErrBadSignature)
	}
	uri := SignedURI(r.URL.EscapedPath(), r.URL.RawQuery, o.UnsignedPrefix)
	want := WPS4Signature(o.Secret, r.Method, uri, r.Header.Get("Content-Type"), date, body)
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return fmt.Errorf("xiezuo: WPS-4: %w", ErrBadSignature)
	}
	return nil
}

// VerifyWPS3 checks the WPS-3 X-Auth of r, whose body is body: Content-Md5 must
// be the MD5 of body and X-Auth the signature over it. Errors as VerifyWPS4.
func VerifyWPS3(r *http.Request, body []byte, o VerifyOptions) error {
	auth := r.Header.Get(HeaderXAuth)
	if auth == "" {
		return fmt.Errorf("xiezuo: WPS-3: %w", ErrNoSignature)
	}
	date := r.Header.Get(HeaderDate)
	if err := checkDate(date, o); err != nil {
		return err
	}
	md := r.Header.Get(HeaderContentMD5)
	if md != ContentMD5(body) {
		return fmt.Errorf("xiezuo: WPS-3: Content-Md5 does not match the body: %w", ErrBadSignature)
	}
	uri := SignedURI(r.URL.EscapedPath(), r.URL.RawQuery, o.UnsignedPrefix)
	want := WPS3XAuth(o.AppID, WPS3Signature(o.Secret, md, uri, r.Header.Get("Content-Type"), date))
	if subtle.ConstantTimeCompare([]byte(auth), []byte(want)) != 1 {
		return fmt.Errorf("xiezuo: WPS-3: %w", ErrBadSignature)
	}
	return nil
}

// checkDate checks a signed date against o.Now and o.MaxSkew.
func checkDate(date string, o VerifyOptions) error {
	if date == "" {
		return fmt.Errorf("xiezuo: no date header: %w", ErrStaleDate)
	}
	if o.MaxSkew <= 0 {
		return nil
	}
	t, err := http.ParseTime(date)
	if err != nil {
		return fmt.Errorf("xiezuo: date %q: %w", date, ErrStaleDate)
	}
	if d := o.Now.Sub(t); d > o.MaxSkew || d < -o.MaxSkew {
		return fmt.Errorf("xiezuo: date %s is %s from now: %w", date, d.Round(time.Second), ErrStaleDate)
	}
	return nil
}
