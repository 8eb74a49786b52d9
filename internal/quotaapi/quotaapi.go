// Package quotaapi is the HTTP face of the quota authority for senders
// outside msgdispatch (producer.Reserve, Release, Reservations):
//
//	POST /v1/apps/{app}/quota/reserve                   {tenant?, recipients[], at?, urgent?}
//	POST /v1/apps/{app}/quota/release                   {reservation_id}
//	GET  /v1/apps/{app}/quota/{recipient}/reservations  [?tenant=T]
//
// The handlers do no authentication: mount them behind the Service API's
// (internal/httpapi) with [Register]'s wrap. Errors are
// {"error":{"code","message","field"}} with the field at fault, as the Service
// API's; bodies are capped at [MaxBody]. A request refused is charged nothing.
package quotaapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/producer"
)

// Authority reserves and releases; *producer.Client is one.
type Authority interface {
	Reserve(ctx context.Context, app, tenant string, recipients []string, at time.Time, urgent bool) (*producer.Reservation, error)
	Release(ctx context.Context, app, reservationID string) ([]string, error)
	Reservations(ctx context.Context, app, tenant, recipient string) ([]producer.Held, error)
}

// Options configure the handlers.
type Options struct {
	// Config names the apps (an unknown app is a 404) and gives the horizon
	// of a reservation (worker.message_ttl). Required.
	Config *config.Config
	// Authority does the work. Required.
	Authority Authority
	// Logger logs internal errors (their text is not shown to the caller).
	// Default slog.Default().
	Logger *slog.Logger
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// MaxRecipients is the most recipients one reservation may name (WeCom's
// touser limit).
const MaxRecipients = 1000

// Routes are the handlers' patterns (http.ServeMux syntax).
const (
	RouteReserve      = "POST /v1/apps/{app}/quota/reserve"
	RouteRelease      = "POST /v1/apps/{app}/quota/release"
	RouteReservations = "GET /v1/apps/{app}/quota/{recipient}/reservations"
)

// Register mounts the three handlers on mux, each wrapped by wrap (the
// Service API's authentication; nil: none).
func Register(mux *http.ServeMux, o Options, wrap func(http.Handler) http.Handler) {
	if wrap == nil {
		wrap = func(h http.Handler) http.Handler { return h }
	}
	mux.Handle(RouteReserve, wrap(Reserve(o)))
	mux.Handle(RouteRelease, wrap(Release(o)))
	mux.Handle(RouteReservations, wrap(Reservations(o)))
}

// app returns the {app} of r's path, or a 404 naming "app".
func (o Options) app(r *http.Request) (config.App, string, *Error) {
	name := r.PathValue("app")
	a, ok := o.Config.Apps[name]
	if !ok {
		return config.App{}, name, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Field: "app", Message: "no app " + quote(name)}
	}
	return a, name, nil
}

// checkTenant: a multi-tenant app needs the tenant (its corp id); a
// single-tenant app takes none.
func checkTenant(a config.App, name, tenant string) *Error {
	switch {
	case a.MultiTenant() && tenant == "":
		return invalid("tenant", "app %s is multi-tenant: give the tenant (the corp id)", name)
	case !a.MultiTenant() && tenant != "":
		return invalid("tenant", "app %s has no tenants: leave tenant out", name)
	case len(tenant) > 128:
		return invalid("tenant", "longer than 128 bytes")
	}
	for _, c := range tenant {
		if c == '~' || c == ':' || c == '{' || c == '}' || c < ' ' {
			return invalid("tenant", "must not contain %q", c)
		}
	}
	return nil
}

// internal answers 500 and logs err.
func (o Options) internal(w http.ResponseWriter, r *http.Request, err error) {
	o.logger().Error("quota api", "path", r.URL.Path, "err", err)
	writeError(w, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "the dispatcher failed; see its log"})
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}
