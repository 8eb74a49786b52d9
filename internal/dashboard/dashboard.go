// Package dashboard serves the asynq dashboard (asynqmon) at /monitoring
// behind a login: an api token with a dashboard scope (api.tokens[].dashboard:
// read_only or full) is typed into a login page, which sets an HttpOnly,
// SameSite=Strict session cookie signed with a key kept in Redis (so every
// api process accepts it) and the token's hash (so changing the token ends
// its sessions). read_only sessions get asynqmon's read-only mode. Payloads
// are shown through PayloadFormatter: never a message's content.
package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
)

// Root is where the dashboard is served.
const Root = "/monitoring"

// CookieName is the session cookie.
const CookieName = "msgd_dashboard"

// SessionTTL is how long a login lasts.
const SessionTTL = 12 * time.Hour

// keyName is the Redis key of the session signing key (32 random bytes).
const keyName = "msgd:dashboard:key"

// Options configure the dashboard.
type Options struct {
	// Tokens are api.tokens; those with a dashboard scope may log in.
	Tokens []config.APIToken
	// Redis is the dispatcher's Redis (asynq's and the signing key's). Required.
	Redis redis.UniversalClient
	// Open serves the dashboard without a login, with full rights (dev, on
	// loopback only). Default false.
	Open bool
	// Logger receives login failures. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// user is a token that may log in.
type user struct {
	name     string
	sum      [sha256.Size]byte
	readOnly bool
}

// Dashboard is the /monitoring handler.
type Dashboard struct {
	opts     Options
	users    []user
	full, ro http.Handler
	log      *slog.Logger

	mu  sync.Mutex
	key []byte
}

// shared makes asynqmon use the dispatcher's Redis client.
type shared struct{ c redis.UniversalClient }

// MakeRedisClient implements asynq.RedisConnOpt.
func (s shared) MakeRedisClient() any { return s.c }

// New builds the dashboard handler, to be mounted at Root+"/".
func New(opts Options) (*Dashboard, error) {
	if opts.Redis == nil {
		return nil, fmt.Errorf("dashboard: Redis is required")
	}
	d := &Dashboard{opts: opts, log: opts.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.opts.Now == nil {
		d.opts.Now = time.Now
	}
	for _, t := range opts.Tokens {
		if t.Dashboard == config.DashboardNone {
			continue
		}
		u := user{name: t.Name, readOnly: t.Dashboard == config.DashboardReadOnly}
		if t.Token != "" {
			u.sum = sha256.Sum256([]byte(t.Token))
		} else if b, err := hex.DecodeString(t.TokenSHA256); err == nil && len(b) == sha256.Size {
			copy(u.sum[:], b)
		} else {
			return nil, fmt.Errorf("dashboard: token %s: bad token_sha256", t.Name)
		}
		d.users = append(d.users, u)
	}
	mk := func(ro bool) http.Handler {
		return asynqmon.New(asynqmon.Options{RootPath: Root, RedisConnOpt: shared{opts.Redis}, ReadOnly: ro,
			PayloadFormatter: PayloadFormatter, ResultFormatter: ResultFormatter})
	}
	d.full, d.ro = mk(false), mk(true)
	return d, nil
}

// Register mounts the dashboard on mux.
func (d *Dashboard) Register(mux *http.ServeMux) {
	mux.Handle(Root+"/", d)
	mux.Handle(Root, http.RedirectHandler(Root+"/", http.StatusFound))
}

// ServeHTTP serves the login page, the logout, and asynqmon to a session.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if d.opts.Open {
		d.full.ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case Root + "/login":
		d.login(w, r)
		return
	case Root + "/logout":
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: Root, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		http.Redirect(w, r, Root+"/login", http.StatusSeeOther)
		return
	}
	u := d.session(r)
	if u == nil {
		if strings.HasPrefix(r.URL.Path, Root+"/api/") || r.Method != http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprint(w, `{"error":{"code":"unauthorized","message":"log in at `+Root+`/login","field":"cookie"}}`)
			return
		}
		http.Redirect(w, r, Root+"/login", http.StatusFound)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if u.readOnly {
		d.ro.ServeHTTP(w, r)
		return
	}
	d.full.ServeHTTP(w, r)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>msgdispatch · log in</title>
<style>body{font-family:sans-serif;max-width:24rem;margin:6rem auto}input{width:100%;padding:.4rem;margin:.4rem 0}.err{color:#b00}</style></head>
<body><h1>msgdispatch</h1><p>Log in to the queue dashboard with an API token that has a dashboard scope.</p>
{{if .}}<p class="err" id="error">{{.}}</p>{{end}}
<form method="post" action="login"><label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<input id="login" type="submit" value="Log in"></form></body></html>
`))

// login shows the form (GET) or checks the token and sets the session (POST).
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		_ = loginPage.Execute(w, "")
		return
	case http.MethodPost:
	default:
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	secret := r.PostFormValue("token")
	sum := sha256.Sum256([]byte(secret))
	var found *user
	for i := range d.users {
		if subtle.ConstantTimeCompare(sum[:], d.users[i].sum[:]) == 1 {
			found = &d.users[i]
		}
	}
	if secret == "" || found == nil {
		d.log.Warn("dashboard: login refused", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusUnauthorized)
		_ = loginPage.Execute(w, "Unknown token, or one without a dashboard scope.")
		return
	}
	v, err := d.sign(r.Context(), found, d.opts.Now().Add(SessionTTL))
	if err != nil {
		d.log.Error("dashboard: session key", "err", err)
		http.Error(w, "the dashboard failed; try again", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v, Path: Root, MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, Root+"/", http.StatusSeeOther)
}

// signingKey returns the session key kept in Redis, creating it once.
func (d *Dashboard) signingKey(ctx context.Context) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.key != nil {
		return d.key, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if err := d.opts.Redis.SetNX(ctx, keyName, hex.EncodeToString(fresh), 0).Err(); err != nil {
		return nil, err
	}
	s, err := d.opts.Redis.Get(ctx, keyName).Result()
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %s is not hex", keyName)
	}
	d.key = k
	return k, nil
}

// mac is the session MAC of (name, exp) for u.
func mac(key []byte, u *user, exp int64) string {
	m := hmac.New(sha256.New, key)
	m.Write(u.sum[:])
	fmt.Fprintf(m, "\x00%s\x00%d", u.name, exp)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sign returns the cookie value of a session of u until exp.
func (d *Dashboard) sign(ctx context.Context, u *user, exp time.Time) (string, error) {
	key, err := d.signingKey(ctx)
	if err != nil {
		return "", err
	}
	e := exp.Unix()
	return base64.RawURLEncoding.EncodeToString([]byte(u.name)) + "." + strconv.FormatInt(e, 10) + "." + mac(key, u, e), nil
}

// session returns the user of r's valid session cookie, or nil.
func (d *Dashboard) session(r *http.Request) *user {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return nil
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || d.opts.Now().Unix() > exp {
		return nil
	}
	key, err := d.signingKey(r.Context())
	if err != nil {
		return nil
	}
	for i := range d.users {
		u := &d.users[i]
		if u.name == string(name) && hmac.Equal([]byte(mac(key, u, exp)), []byte(parts[2])) {
			return u
		}
	}
	return nil
}
