package httpapi

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/record"
)

// Long-poll bounds of GET /v1/apps/{app}/events.
const (
	defaultEventsWait  = 25 * time.Second
	maxEventsWait      = 60 * time.Second
	defaultEventsLimit = 100
	maxEventsLimit     = 1000
)

// streamID is a Redis stream id, or "0" for the start.
var streamID = regexp.MustCompile(`^[0-9]{1,20}(-[0-9]{1,20})?$`)

// eventsResponse answers GET /v1/apps/{app}/events.
type eventsResponse struct {
	// Events are the stream's entries after the given id, oldest first: each
	// has its stream position "id" and the entry's fields (event_id, type,
	// message_id, state, at, detail, …).
	Events []map[string]any `json:"events"`
	// Next is the id to pass as ?after= for the following events.
	Next string `json:"next"`
}

// events is GET /v1/apps/{app}/events?after=ID&wait=25s&limit=100: the app's
// events stream after ID ("0", the default, is the start), waiting up to
// wait for the first one (long poll; wait=0s answers at once).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	app, e := s.pathApp(r)
	if e != nil {
		writeError(w, e)
		return
	}
	q := r.URL.Query()
	after := q.Get("after")
	if after == "" {
		after = "0"
	}
	if !streamID.MatchString(after) {
		writeError(w, invalid("after", "want a stream id like 1712345678901-0 (the next of an earlier answer), or 0, got %q", after))
		return
	}
	wait := defaultEventsWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxEventsWait {
			writeError(w, invalid("wait", "want a duration from 0s to %s, got %q", maxEventsWait, v))
			return
		}
		wait = d
	}
	limit := defaultEventsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEventsLimit {
			writeError(w, invalid("limit", "want 1 to %d, got %q", maxEventsLimit, v))
			return
		}
		limit = n
	}
	extend(w, wait+10*time.Second)
	args := &redis.XReadArgs{Streams: []string{record.EventsKey(app), after}, Count: int64(limit), Block: -1}
	if wait > 0 {
		args.Block = wait
	}
	streams, err := s.rdb.XRead(r.Context(), args).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		s.fail(w, r, err)
		return
	}
	out := eventsResponse{Events: []map[string]any{}, Next: after}
	for _, st := range streams {
		for _, m := range st.Messages {
			ev := map[string]any{"id": m.ID}
			for k, v := range m.Values {
				if k != "id" {
					ev[k] = v
				}
			}
			out.Events = append(out.Events, ev)
			out.Next = m.ID
		}
	}
	writeJSON(w, http.StatusOK, out)
}
