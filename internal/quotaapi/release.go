package quotaapi

import (
	"net/http"
	"strings"
	"time"
)

// releaseRequest is the body of POST …/quota/release.
type releaseRequest struct {
	ReservationID string `json:"reservation_id"`
}

// releaseResponse lists the recipients whose charge was refunded.
type releaseResponse struct {
	ReservationID string   `json:"reservation_id"`
	Released      []string `json:"released"`
}

// Release is POST /v1/apps/{app}/quota/release: it refunds every recipient
// of a reservation not used (admitted or booked). A reservation with
// nothing left to refund (released, used and marked, or unknown) is a 404.
func Release(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, app, e := o.app(r)
		if e != nil {
			writeError(w, e)
			return
		}
		var req releaseRequest
		if e := decodeBody(w, r, &req); e != nil {
			writeError(w, e)
			return
		}
		id := req.ReservationID
		switch {
		case id == "":
			writeError(w, invalid("reservation_id", "required: the id reserve answered"))
			return
		case !strings.HasPrefix(id, app+".") || !strings.Contains(id, "~") || len(id) > 300:
			writeError(w, invalid("reservation_id", "%s is not a reservation of app %s", quote(id), app))
			return
		}
		done, err := o.Authority.Release(r.Context(), app, id)
		if err != nil {
			o.internal(w, r, err)
			return
		}
		if len(done) == 0 {
			writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Field: "reservation_id", Message: "nothing to release: " + quote(id) + " was released already, or is unknown"})
			return
		}
		writeJSON(w, http.StatusOK, releaseResponse{ReservationID: id, Released: done})
	})
}

// heldJSON is one reservation in the GET answer.
type heldJSON struct {
	ReservationID string    `json:"reservation_id"`
	At            time.Time `json:"at"`
	State         string    `json:"state"`
}

// Reservations is GET /v1/apps/{app}/quota/{recipient}/reservations
// [?tenant=T]: the recipient's reservations not released, oldest slot first.
func Reservations(o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, app, e := o.app(r)
		if e != nil {
			writeError(w, e)
			return
		}
		rcpt := r.PathValue("recipient")
		tenant := r.URL.Query().Get("tenant")
		if e := checkTenant(a, app, tenant); e != nil {
			writeError(w, e)
			return
		}
		if strings.TrimSpace(rcpt) == "" || len(rcpt) > 256 {
			writeError(w, invalid("recipient", "not a recipient id"))
			return
		}
		hs, err := o.Authority.Reservations(r.Context(), app, tenant, rcpt)
		if err != nil {
			o.internal(w, r, err)
			return
		}
		out := struct {
			Recipient    string     `json:"recipient"`
			Reservations []heldJSON `json:"reservations"`
		}{Recipient: rcpt, Reservations: []heldJSON{}}
		for _, h := range hs {
			out.Reservations = append(out.Reservations, heldJSON{ReservationID: h.ID, At: h.At.UTC(), State: h.State})
		}
		writeJSON(w, http.StatusOK, out)
	})
}
