package wecomsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// routeInspect registers the inspection and control API under /sim/. It answers
// JSON and never shows a secret or an access_token.
//
//	GET  /sim/deliveries?user=U   deliveries to U (case-insensitive), or all
//	GET  /sim/drops               silent drops
//	GET  /sim/suppressed          suppressed duplicates
//	GET  /sim/requests?endpoint=E requests (to E, e.g. message/send), or all
//	GET  /sim/counters?user=U     U's counters, or a map of everyone's
//	GET  /sim/messages/{msgid}    one accepted message
//	GET  /sim/stats               totals
//	GET  /sim/apps                apps (no secrets) with gettoken counts
//	GET  /sim/concurrency?corp=C&endpoint=E  {"current":n,"peak":n}
//	GET  /sim/faults              queued faults
//	POST /sim/faults              queue a fault: {"kind":"errcode","errcode":45009,
//	                              "endpoint":"message/send","count":2}; durations
//	                              ("latency","max_latency","retry_after") as "1.5s"
//	PUT  /sim/faults/rates        set FaultRates: {"system_busy":0.1,
//	                              "min_latency":"10ms","max_latency":"50ms",…}
//	DELETE /sim/faults            clear queued faults and rates
//	POST /sim/down                {"down":true|false}
//	POST /sim/tokens/expire       expire every access_token now
//	POST /sim/users               {"corp_id":"ww1","users":["a","b"]}
//	POST /sim/reset               forget records (see ResetRecords)
func (s *Sim) routeInspect() {
	m := s.mux
	m.HandleFunc("GET /sim/deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, nonNil(s.Deliveries(r.URL.Query().Get("user"))))
	})
	m.HandleFunc("GET /sim/drops", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, nonNil(s.Drops()))
	})
	m.HandleFunc("GET /sim/suppressed", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, nonNil(s.Suppressed()))
	})
	m.HandleFunc("GET /sim/requests", func(w http.ResponseWriter, r *http.Request) {
		if ep := r.URL.Query().Get("endpoint"); ep != "" {
			writeJSON(w, http.StatusOK, nonNil(s.RequestsTo(ep)))
			return
		}
		writeJSON(w, http.StatusOK, nonNil(s.Requests()))
	})
	m.HandleFunc("GET /sim/counters", func(w http.ResponseWriter, r *http.Request) {
		if u := r.URL.Query().Get("user"); u != "" {
			writeJSON(w, http.StatusOK, s.Counters(u))
			return
		}
		writeJSON(w, http.StatusOK, s.AllCounters())
	})
	m.HandleFunc("GET /sim/messages/{msgid}", func(w http.ResponseWriter, r *http.Request) {
		msg, ok := s.Message(r.PathValue("msgid"))
		if !ok {
			simError(w, http.StatusNotFound, "no such msgid")
			return
		}
		writeJSON(w, http.StatusOK, msg)
	})
	m.HandleFunc("GET /sim/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	m.HandleFunc("GET /sim/apps", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, nonNil(s.Apps()))
	})
	m.HandleFunc("GET /sim/concurrency", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cur, peak := s.Concurrency(q.Get("corp"), q.Get("endpoint"))
		writeJSON(w, http.StatusOK, map[string]int{"current": cur, "peak": peak})
	})
	m.HandleFunc("GET /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		out := []faultJSON{}
		for _, f := range s.PendingFaults() {
			out = append(out, toFaultJSON(f))
		}
		writeJSON(w, http.StatusOK, out)
	})
	m.HandleFunc("POST /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var fj faultJSON
		if !readJSON(w, r, &fj) {
			return
		}
		f, err := fj.fault()
		if err == nil {
			err = s.Inject(f)
		}
		if err != nil {
			simError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("PUT /sim/faults/rates", func(w http.ResponseWriter, r *http.Request) {
		var rj ratesJSON
		if !readJSON(w, r, &rj) {
			return
		}
		rates, err := rj.rates()
		if err == nil {
			err = s.SetFaults(rates)
		}
		if err != nil {
			simError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("DELETE /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /sim/down", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Down bool `json:"down"`
		}
		if !readJSON(w, r, &b) {
			return
		}
		s.SetDown(b.Down)
		writeJSON(w, http.StatusOK, map[string]bool{"down": b.Down})
	})
	m.HandleFunc("POST /sim/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
		s.ExpireTokens()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /sim/users", func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			CorpID string   `json:"corp_id"`
			Users  []string `json:"users"`
		}
		if !readJSON(w, r, &b) {
			return
		}
		if b.CorpID == "" {
			simError(w, http.StatusBadRequest, "corp_id required")
			return
		}
		s.AddUsers(b.CorpID, b.Users...)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRecords()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

// nonNil makes a nil slice encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

func simError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		simError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return false
	}
	return true
}

// jsonDuration is a duration written as "1.5s" (or a number of seconds).
type jsonDuration time.Duration

// UnmarshalJSON accepts "1.5s" or a number of seconds.
func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = jsonDuration(v)
		return nil
	}
	secs, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want \"1.5s\" or seconds", b)
	}
	*d = jsonDuration(secs * float64(time.Second))
	return nil
}

// MarshalJSON writes the duration as "1.5s".
func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// faultJSON is a Fault in the /sim/ API, with readable durations.
type faultJSON struct {
	Kind       FaultKind    `json:"kind"`
	Endpoint   string       `json:"endpoint,omitempty"`
	Count      int          `json:"count,omitempty"`
	Latency    jsonDuration `json:"latency,omitempty"`
	MaxLatency jsonDuration `json:"max_latency,omitempty"`
	ErrCode    int          `json:"errcode,omitempty"`
	ErrMsg     string       `json:"errmsg,omitempty"`
	Status     int          `json:"status,omitempty"`
	RetryAfter jsonDuration `json:"retry_after,omitempty"`
}

func (fj faultJSON) fault() (Fault, error) {
	f := Fault{
		Kind: fj.Kind, Endpoint: fj.Endpoint, Count: fj.Count, Latency: time.Duration(fj.Latency),
		MaxLatency: time.Duration(fj.MaxLatency), ErrCode: fj.ErrCode, ErrMsg: fj.ErrMsg,
		Status: fj.Status, RetryAfter: time.Duration(fj.RetryAfter),
	}
	return f, f.validate()
}

func toFaultJSON(f Fault) faultJSON {
	return faultJSON{
		Kind: f.Kind, Endpoint: f.Endpoint, Count: f.Count, Latency: jsonDuration(f.Latency),
		MaxLatency: jsonDuration(f.MaxLatency), ErrCode: f.ErrCode, ErrMsg: f.ErrMsg,
		Status: f.Status, RetryAfter: jsonDuration(f.RetryAfter),
	}
}

// ratesJSON is FaultRates in the /sim/ API, with readable durations.
type ratesJSON struct {
	Endpoints    []string     `json:"endpoints"`
	SystemBusy   float64      `json:"system_busy"`
	Throttled    float64      `json:"throttled"`
	ServerError  float64      `json:"server_error"`
	RetryAfter   jsonDuration `json:"retry_after"`
	LostResponse float64      `json:"lost_response"`
	Latency      float64      `json:"latency"`
	MinLatency   jsonDuration `json:"min_latency"`
	MaxLatency   jsonDuration `json:"max_latency"`
}

func (rj ratesJSON) rates() (FaultRates, error) {
	return FaultRates{
		Endpoints: rj.Endpoints, SystemBusy: rj.SystemBusy, Throttled: rj.Throttled,
		ServerError: rj.ServerError, RetryAfter: time.Duration(rj.RetryAfter),
		LostResponse: rj.LostResponse, Latency: rj.Latency,
		MinLatency: time.Duration(rj.MinLatency), MaxLatency: time.Duration(rj.MaxLatency),
	}, nil
}
