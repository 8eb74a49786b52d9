package xiezuo

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/msgdispatch/msgdispatch/providers"
)

// Public-cloud defaults (the WPS open-platform documentation).
const (
	// DefaultBaseURL is the public-cloud API host.
	DefaultBaseURL = "https://openapi.wps.cn"
	// DefaultCompanyTokenPath is the public-cloud company_token endpoint of a
	// self-built app, GET ?app_id={app_key}, WPS-3 signed.
	DefaultCompanyTokenPath = "/oauthapi/v3/inner/company/token"
	// DefaultSendPathWPS3 is the public-cloud v2 send path (WPS-3).
	DefaultSendPathWPS3 = "/kopen/woa/v2/dev/app/messages"
	// DefaultSendPathWPS4 is the private-deployment v2 send path (WPS-4), under
	// the gateway prefix /o/woa.
	DefaultSendPathWPS4 = "/o/woa/api/v2/developer/app/messages"
	// DefaultUnsignedPrefixWPS4 is the private-deployment gateway prefix left
	// out of WPS-4 signatures ("不包含/o/{cid}部分").
	DefaultUnsignedPrefixWPS4 = "/o/woa"
	// DefaultUpdateMethod is the update method when update_path is set.
	DefaultUpdateMethod = http.MethodPost
)

// Config is the xiezuo block of an app in the dispatcher config. Zero fields
// take the defaults of [Config.Defaults]; [Config.Validate] names a bad key by
// its path in the block.
type Config struct {
	// BaseURL is the API host, e.g. https://openapi.wps.cn or a private
	// deployment's {配置域名}. Default [DefaultBaseURL].
	BaseURL string `yaml:"base_url"`
	// AppKey is the app's AK (AppID), sent as app_key and used as the signing
	// key id. Required.
	AppKey string `yaml:"app_key"`
	// AppSecret is the app's SecretKey. Required; use ${ENV}. Never printed.
	AppSecret string `yaml:"app_secret"`
	// Signature is wps3 (public cloud, the default) or wps4 (private deployment).
	Signature string `yaml:"signature"`
	// HeaderStyle is the WPS-4 header pair: wps_docs (Wps-Docs-Date and
	// Wps-Docs-Authorization, the default) or plain (Date and Authorization).
	// Ignored for wps3.
	HeaderStyle string `yaml:"header_style"`
	// UnsignedPrefix is the gateway prefix left out of the signed URI (e.g.
	// /o/woa, /open). Default /o/woa for wps4, none for wps3.
	UnsignedPrefix string `yaml:"unsigned_prefix"`
	// CompanyTokenPath is the company_token endpoint (GET ?app_id={app_key},
	// signed like every call). Default [DefaultCompanyTokenPath] (public cloud).
	// No document gives the private-deployment (wps4) endpoint: a wps4 app must
	// set it from the deployment's documentation.
	CompanyTokenPath string `yaml:"company_token_path"`
	// SendPath is the send endpoint. Default [DefaultSendPathWPS3] for wps3,
	// [DefaultSendPathWPS4] for wps4.
	SendPath string `yaml:"send_path"`
	// UpdatePath is the card-update endpoint. No document we hold gives it
	// (the WPS open-platform documentation): there is no default, and Update is disabled
	// (Capabilities.Update false) until it is set from the deployment's
	// documentation. The request carries ?company_token= and the body
	// described at [Client.Update].
	UpdatePath string `yaml:"update_path"`
	// UpdateMethod is the HTTP method of UpdatePath. Default POST.
	UpdateMethod string `yaml:"update_method"`
	// BizType is sent as biz_type ("消息所属业务类型"); a message may override
	// it (see [Client.Prepare]). Default none.
	BizType string `yaml:"biz_type"`
	// CompanyID is the app's company id: the company of every recipient
	// (to_users.company_id, to_depts.company_id, to_companies) and the
	// producer company (company_id). Required.
	CompanyID string `yaml:"company_id"`
	// CompanyUID is the producer (消息生产者) id sent as company_uid, which
	// WPS needs on messages that will be updated. Required.
	CompanyUID string `yaml:"company_uid"`
}

// Defaults returns c with the defaults filled in (see each field).
func (c Config) Defaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Signature == "" {
		c.Signature = SignatureWPS3
	}
	if c.Signature == SignatureWPS4 {
		if c.HeaderStyle == "" {
			c.HeaderStyle = HeaderStyleWPSDocs
		}
		if c.UnsignedPrefix == "" {
			c.UnsignedPrefix = DefaultUnsignedPrefixWPS4
		}
		if c.SendPath == "" {
			c.SendPath = DefaultSendPathWPS4
		}
	} else {
		if c.SendPath == "" {
			c.SendPath = DefaultSendPathWPS3
		}
		if c.CompanyTokenPath == "" {
			c.CompanyTokenPath = DefaultCompanyTokenPath
		}
	}
	if c.UpdatePath != "" && c.UpdateMethod == "" {
		c.UpdateMethod = DefaultUpdateMethod
	}
	c.UpdateMethod = strings.ToUpper(c.UpdateMethod)
	return c
}

// Validate checks c with its [Config.Defaults] applied and returns every
// problem, errors.Join of *providers.ValidationError whose Field is the key in
// the block, e.g. "app_key: required". No message shows a secret.
func (c Config) Validate() error {
	c = c.Defaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, providers.Invalid(key, format, args...))
	}
	if u, err := url.Parse(c.BaseURL); c.BaseURL == "" {
		bad("base_url", "required")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("base_url", "must be an absolute http(s) URL, got %q", c.BaseURL)
	}
	if c.AppKey == "" {
		bad("app_key", "required")
	}
	if c.AppSecret == "" {
		bad("app_secret", "required")
	}
	switch c.Signature {
	case SignatureWPS3, SignatureWPS4:
	default:
		bad("signature", "must be %s or %s, got %q", SignatureWPS4, SignatureWPS3, c.Signature)
	}
	switch c.HeaderStyle {
	case "", HeaderStyleWPSDocs, HeaderStylePlain:
	default:
		bad("header_style", "must be %s or %s, got %q", HeaderStyleWPSDocs, HeaderStylePlain, c.HeaderStyle)
	}
	if c.UnsignedPrefix != "" && !strings.HasPrefix(c.UnsignedPrefix, "/") {
		bad("unsigned_prefix", "must start with /, got %q", c.UnsignedPrefix)
	}
	for _, p := range []struct{ key, v string }{{"company_token_path", c.CompanyTokenPath}, {"send_path", c.SendPath}, {"update_path", c.UpdatePath}} {
		if p.v != "" && (!strings.HasPrefix(p.v, "/") || strings.ContainsAny(p.v, "?#")) {
			bad(p.key, "must be a path starting with / and without query, got %q", p.v)
		}
	}
	if c.CompanyTokenPath == "" {
		bad("company_token_path", "required for signature %s: no document gives the private-deployment company_token endpoint; set it from the deployment's documentation", c.Signature)
	}
	if c.SendPath == "" {
		bad("send_path", "required")
	}
	if c.UpdatePath != "" {
		switch c.UpdateMethod {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
		default:
			bad("update_method", "must be POST, PUT or PATCH, got %q", c.UpdateMethod)
		}
	}
	if len(c.BizType) > 64 {
		bad("biz_type", "at most 64 bytes")
	}
	if c.CompanyID == "" {
		bad("company_id", "required: the company of the app's recipients")
	}
	if c.CompanyUID == "" {
		bad("company_uid", "required: the producer id (消息生产者 id) WPS needs on updatable messages")
	}
	return errors.Join(errs...)
}

// String describes c without its secret.
func (c Config) String() string {
	secret := ""
	if c.AppSecret != "" {
		secret = "REDACTED"
	}
	return fmt.Sprintf("xiezuo.Config{base_url=%s app_key=%s app_secret=%s signature=%s header_style=%s unsigned_prefix=%q company_token_path=%s send_path=%s update=%s %s biz_type=%q company_id=%s company_uid=%s}",
		c.BaseURL, c.AppKey, secret, c.Signature, c.HeaderStyle, c.UnsignedPrefix, c.CompanyTokenPath, c.SendPath, c.UpdateMethod, c.UpdatePath, c.BizType, c.CompanyID, c.CompanyUID)
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return c.String() }

// signer is the Signer of the app.
func (c Config) signer() Signer {
	return Signer{Scheme: c.Signature, HeaderStyle: c.HeaderStyle, AppID: c.AppKey, Secret: c.AppSecret, UnsignedPrefix: c.UnsignedPrefix}
}
