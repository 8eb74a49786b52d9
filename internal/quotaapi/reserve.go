package quotaapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// reserveRequest is the body of POST …/quota/reserve.
type reserveRequest struct {
	Tenant     string   `json:"tenant"`
	Recipients []string `json:"recipients"`
	// At is the earliest time the sender means to send (RFC 3339); default now.
	At     string `json:"at"`
	Urgent bool   `json:"urgent"`
}

// reserveResponse answers it: recipient → "now", the slot (RFC 3339), or
// "late" (no slot before the app's message TTL: nothing charged).
type reserveResponse struct {
	ReservationID string            `json:"reservation_id"`
	Recipients    map[string]string `json:"recipients"`
}

// Reserve is POST /v1/apps/{app}/quota/reserve: it charges or books the
// recipients exactly as the worker's admission (producer.Reserve) and
// answers, per recipient, "now", the slot time, or "late", with the
// reservation id Release takes.
func Reserve(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, app, e := o.app(r)
		if e != nil {
			writeError(w, e)
			return
		}
		var req reserveRequest
		if e := decodeBody(w, r, &req); e != nil {
			writeError(w, e)
			return
		}
		at, e := checkReserve(o, req)
		if e == nil {
			e = checkTenant(a, app, req.Tenant)
		}
		if e != nil {
			writeError(w, e)
			return
		}
		res, err := o.Authority.Reserve(r.Context(), app, req.Tenant, req.Recipients, at, req.Urgent)
		if err != nil {
			o.internal(w, r, err)
			return
		}
		out := reserveResponse{ReservationID: res.ID, Recipients: map[string]string{}}
		for _, u := range res.Now {
			out.Recipients[u] = "now"
		}
		for u, t := range res.Slots {
			out.Recipients[u] = t.UTC().Format(time.RFC3339Nano)
		}
		for _, u := range res.Late {
			out.Recipients[u] = "late"
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// checkReserve validates a reserve body and returns its at.
func checkReserve(o Options, req reserveRequest) (time.Time, *Error) {
	switch {
	case req.Recipients == nil:
		return time.Time{}, invalid("recipients", "required: the recipients' ids")
	case len(req.Recipients) == 0:
		return time.Time{}, invalid("recipients", "empty: give at least one recipient")
	case len(req.Recipients) > MaxRecipients:
		return time.Time{}, invalid("recipients", "%d recipients: at most %d", len(req.Recipients), MaxRecipients)
	}
	seen := map[string]int{}
	for i, u := range req.Recipients {
		f := fmt.Sprintf("recipients[%d]", i)
		switch {
		case strings.TrimSpace(u) == "":
			return time.Time{}, invalid(f, "empty recipient id")
		case len(u) > 256 || !utf8.ValidString(u):
			return time.Time{}, invalid(f, "not a recipient id (at most 256 bytes of UTF-8)")
		case strings.ContainsAny(u, "|\r\n"):
			return time.Time{}, invalid(f, "must not contain '|' or a line break")
		}
		if j, ok := seen[u]; ok {
			return time.Time{}, invalid(f, "repeats recipients[%d]", j)
		}
		seen[u] = i
	}
	if req.At == "" {
		return time.Time{}, nil
	}
	at, err := time.Parse(time.RFC3339Nano, req.At)
	if err != nil {
		return time.Time{}, invalid("at", "%s: want RFC 3339, e.g. 2026-03-10T10:00:00+08:00", quote(req.At))
	}
	if ttl := o.Config.Worker.MessageTTL; ttl > 0 && time.Until(at) > ttl {
		return time.Time{}, invalid("at", "more than the message TTL (%s) ahead", ttl)
	}
	return at, nil
}
