package wps365sim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/simkit"
)

// Fault is one injected misbehaviour, consumed by the next matching
// request(s). Build with [ErrCode], [HTTPStatus], [Latency], [LostResponse];
// narrow with On and Times.
type Fault struct {
	// Endpoint limits the fault to one endpoint (Endpoint… constants); ""
	// matches every endpoint.
	Endpoint string
	// Code and Msg answer HTTP 200 (or HTTPStatus) with {"code":Code,"msg":Msg}
	// without applying the request.
	Code int
	Msg  string
	// HTTPStatus answers with that status without applying the request.
	HTTPStatus int
	// RetryAfter is sent as Retry-After (whole seconds) with HTTPStatus.
	RetryAfter time.Duration
	// Latency delays the answer (real time).
	Latency time.Duration
	// Lost applies the request, then closes the connection without an answer.
	Lost bool
	// Count is how many requests the fault affects. Default 1.
	Count int
}

// ErrCode answers the next request with code and msg on HTTP 200, not applied.
func ErrCode(code int, msg string) Fault { return Fault{Code: code, Msg: msg} }

// HTTPStatus answers the next request with status (429: code 429000001,
// 5xx: 500000001), not applied; retryAfter > 0 adds Retry-After.
func HTTPStatus(status int, retryAfter time.Duration) Fault {
	code, msg := CodeInternal, http.StatusText(status)
	if status == http.StatusTooManyRequests {
		code = CodeRateLimited
	}
	return Fault{HTTPStatus: status, Code: code, Msg: msg, RetryAfter: retryAfter}
}

// Latency delays the next answer by d.
func Latency(d time.Duration) Fault { return Fault{Latency: d} }

// LostResponse applies the next request and drops the connection unanswered.
func LostResponse() Fault { return Fault{Lost: true} }

// On limits f to endpoint.
func (f Fault) On(endpoint string) Fault { f.Endpoint = endpoint; return f }

// Times makes f affect n requests.
func (f Fault) Times(n int) Fault { f.Count = n; return f }

// Inject queues faults; each affects the next matching requests in order.
// A queued fault takes precedence over [FaultRates].
func (s *Sim) Inject(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range faults {
		if f.Count <= 0 {
			f.Count = 1
		}
		s.faults = append(s.faults, &f)
	}
}

// PendingFaults is how many injected fault uses are left.
func (s *Sim) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.Count
	}
	return n
}

// pickFaultLocked consumes one use of the first fault matching endpoint.
func (s *Sim) pickFaultLocked(endpoint string) *Fault {
	for i, f := range s.faults {
		if f.Endpoint != "" && f.Endpoint != endpoint {
			continue
		}
		f.Count--
		if f.Count <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		cp := *f
		return &cp
	}
	return nil
}

// String describes the fault for Request.Fault, e.g. "latency(1.2s)+http(502)".
func (f Fault) String() string {
	var parts []string
	if f.Latency > 0 {
		parts = append(parts, fmt.Sprintf("latency(%s)", f.Latency))
	}
	switch {
	case f.HTTPStatus != 0:
		parts = append(parts, fmt.Sprintf("http(%d)", f.HTTPStatus))
	case f.Code != 0:
		parts = append(parts, fmt.Sprintf("code(%d)", f.Code))
	}
	if f.Lost {
		parts = append(parts, "lost_response")
	}
	return strings.Join(parts, "+")
}

// FaultRates are probabilistic faults drawn per request from a source
// seeded by Options.Seed (see simkit.FaultRates): ServerError answers HTTP
// 500, 502 or 503 (code 500000001) without applying the request,
// LostResponse applies it and drops the answer, Latency delays it.
// Endpoints are the Endpoint… constants; empty means all. They apply only
// to a request no injected [Fault] matches, and not during an outage.
type FaultRates = simkit.FaultRates

// SetFaults replaces the fault rates; SetFaults(FaultRates{}) turns them
// off. It returns an error, and changes nothing, if the rates are invalid
// (simkit.FaultRates.Validate) or name an unknown endpoint.
func (s *Sim) SetFaults(r FaultRates) error {
	if err := r.Validate(EndpointToken, EndpointCreate, EndpointBatchCreate, EndpointUpdate, EndpointRecall, EndpointReply); err != nil {
		return fmt.Errorf("wps365sim: %w", err)
	}
	r.Endpoints = slices.Clone(r.Endpoints)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rates = r
	return nil
}

// drawFaultLocked draws one request's fault from the rates; nil for none.
func (s *Sim) drawFaultLocked(endpoint string) *Fault {
	d := s.rates.Draw(s.faultRNG, endpoint)
	if d == (simkit.FaultDraw{}) {
		return nil
	}
	f := &Fault{Endpoint: endpoint, Latency: d.Latency, Lost: d.Lost}
	if d.Status != 0 {
		f.HTTPStatus, f.Code, f.Msg = d.Status, CodeInternal, http.StatusText(d.Status)
	}
	return f
}
