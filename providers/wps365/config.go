package wps365

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// DefaultBaseURL is the WPS 365 public-cloud API host.
const DefaultBaseURL = "https://openapi.wps.cn"

// DefaultTokenPath is the path of the token endpoint under the base URL and
// unsigned prefix (POST {base_url}{unsigned_prefix}/oauth2/token).
const DefaultTokenPath = "/oauth2/token"

// Config is the wps365 block of an app in the dispatcher config.
//
// A public-cloud app needs only app_id and app_secret. A private deployment
// sets base_url to its domain and unsigned_prefix to "/openapi": requests go
// to {domain}/openapi/v7/... and the token to {domain}/openapi/oauth2/token,
// while KSO-1 signs /v7/... only.
type Config struct {
	// BaseURL is the API host, without a path. Default DefaultBaseURL
	// (https://openapi.wps.cn); a simulator's URL in tests.
	BaseURL string `yaml:"base_url"`
	// AppID is the app's APPID (client_id, the KSO-1 access key). Required.
	AppID string `yaml:"app_id"`
	// AppSecret is the app's APPKEY (client_secret, the KSO-1 and event key).
	// Required; use ${ENV} in the config file. Never logged or printed.
	AppSecret string `yaml:"app_secret"`
	// UnsignedPrefix is a gateway prefix put before every path but left out
	// of the KSO-1 signature: "/openapi" on a private deployment. Default ""
	// (public cloud).
	UnsignedPrefix string `yaml:"unsigned_prefix"`
	// TokenPath is the token endpoint after the prefix. Default
	// DefaultTokenPath ("/oauth2/token").
	TokenPath string `yaml:"token_path"`
	// CompanyID is the company (tenant) id, used when a message is sent to
	// everyone (Recipients.All: a batch_create receiver of type company).
	// Optional.
	CompanyID string `yaml:"company_id"`
	// CallbackMaxSkew is how far a callback's X-Kso-Date or an event's time
	// may be from now. Default DefaultMaxSkew (5m).
	CallbackMaxSkew time.Duration `yaml:"callback_max_skew"`
}

// Defaults returns c with every unset optional key at its default and
// BaseURL without a trailing "/".
func (c Config) Defaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	c.UnsignedPrefix = strings.TrimRight(c.UnsignedPrefix, "/")
	if c.TokenPath == "" {
		c.TokenPath = DefaultTokenPath
	}
	if c.CallbackMaxSkew <= 0 {
		c.CallbackMaxSkew = DefaultMaxSkew
	}
	return c
}

// Validate checks c (after [Config.Defaults]) and returns every problem
// joined, each a *providers.ValidationError whose Field is its yaml key
// ("app_id: required"). The secret's value never appears.
func (c Config) Validate() error {
	c = c.Defaults()
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, providers.Invalid(field, format, args...))
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("base_url", "must be an http(s) URL with a host")
	} else if u.Path != "" || u.RawQuery != "" {
		add("base_url", "must have no path or query (put a gateway prefix in unsigned_prefix)")
	}
	if c.AppID == "" {
		add("app_id", "required")
	}
	if c.AppSecret == "" {
		add("app_secret", "required")
	}
	if c.UnsignedPrefix != "" && !strings.HasPrefix(c.UnsignedPrefix, "/") {
		add("unsigned_prefix", `must start with "/" (e.g. "/openapi")`)
	}
	if !strings.HasPrefix(c.TokenPath, "/") {
		add("token_path", `must start with "/"`)
	}
	return errors.Join(errs...)
}

// String describes c without its secret.
func (c Config) String() string {
	secret := "unset"
	if c.AppSecret != "" {
		secret = "set"
	}
	return fmt.Sprintf("wps365{base_url=%s app_id=%s app_secret=(%s) unsigned_prefix=%q company_id=%s}",
		c.BaseURL, c.AppID, secret, c.UnsignedPrefix, c.CompanyID)
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return c.String() }

// RequiredKeys are the keys a wps365 block needs: base_url, app_id and
// app_secret.
func (c Config) RequiredKeys() []string { return []string{"base_url", "app_id", "app_secret"} }

// MultiTenant is false: a WPS 365 app sends for one company.
func (c Config) MultiTenant() bool { return false }

// Company is the company the app sends to: company_id when set, else
// app_id (the app belongs to one company). tenant is ignored.
func (c Config) Company(string) string {
	if c.CompanyID != "" {
		return c.CompanyID
	}
	return c.AppID
}

// NormalizeRecipient trims spaces around id; WPS ids keep their case (no
// documentation says they are case-insensitive).
func (c Config) NormalizeRecipient(id string) string { return strings.TrimSpace(id) }

// Capabilities: update (kind card, sent as shared cards with
// messages/create, one receiver per part), recall and reply; parts of at
// most [MaxBatchUsers] users and [MaxBatchDepts] departments
// (batch_create). DedupeWindow is 0: WPS documents no duplicate check for
// messages/create, so a part whose outcome is unknown must not be re-sent.
// RecallWindow is 0: no recall time limit is documented.
func (c Config) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		Update:           true,
		Recall:           true,
		Reply:            true,
		UpdatableKinds:   []providers.Kind{providers.KindCard},
		MaxUsersPerPart:  MaxBatchUsers,
		MaxGroupsPerPart: MaxBatchDepts,
		DedupeWindow:     0,
		RecallWindow:     0,
	}
}
