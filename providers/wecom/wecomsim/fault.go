package wecomsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// FaultKind says what a [Fault] does to a request.
type FaultKind string

// Fault kinds.
const (
	// KindLatency delays the request by Fault.Latency (or a uniform random
	// duration in [Latency, MaxLatency)) of real time before it is handled. If the
	// client gives up meanwhile, the request is not applied (Request.Cancelled).
	// It combines with one other fault of another kind.
	KindLatency FaultKind = "latency"
	// KindErrCode answers HTTP 200 {"errcode": Fault.ErrCode} without applying the
	// request (e.g. -1 system busy, 45009 frequency limit, 45033 concurrency).
	KindErrCode FaultKind = "errcode"
	// KindHTTPStatus answers Fault.Status (e.g. 500, 502, 503) with an HTML body
	// and, when Fault.RetryAfter > 0, a Retry-After header in whole seconds,
	// without applying the request.
	KindHTTPStatus FaultKind = "http_status"
	// KindLostResponse applies the request (the message IS delivered and
	// recorded, a token IS issued) and then drops the connection without an
	// answer, so the client sees a transport error (or, when ServeHTTP is called
	// without a hijackable connection, HTTP 502). Note that Go's http.Transport
	// silently retries an idempotent request (GET gettoken) that fails this way
	// on a reused keep-alive connection.
	KindLostResponse FaultKind = "lost_response"
)

// Fault is one scripted misbehaviour, queued by [Sim.Inject] and consumed by the
// next matching requests. Build one with [Latency], [LatencyBetween], [ErrCode],
// [HTTPStatus] or [LostResponse], then narrow it with [Fault.On] and [Fault.Times].
type Fault struct {
	// Kind says what the fault does.
	Kind FaultKind `json:"kind"`
	// Endpoint is the endpoint it applies to (EndpointSend, EndpointGetToken,
	// EndpointRecall, EndpointUpdate); "" means every API endpoint.
	Endpoint string `json:"endpoint,omitempty"`
	// Count is how many matching requests it applies to. 0 means 1; negative
	// means every matching request until [Sim.ClearFaults].
	Count int `json:"count,omitempty"`
	// Latency is the delay of a KindLatency fault (the minimum, with MaxLatency).
	Latency time.Duration `json:"latency,omitempty"`
	// MaxLatency, when > Latency, makes the delay uniform in [Latency, MaxLatency).
	MaxLatency time.Duration `json:"max_latency,omitempty"`
	// ErrCode is the errcode of a KindErrCode fault.
	ErrCode int `json:"errcode,omitempty"`
	// ErrMsg is its errmsg; default the simulator's text for ErrCode.
	ErrMsg string `json:"errmsg,omitempty"`
	// Status is the HTTP status of a KindHTTPStatus fault.
	Status int `json:"status,omitempty"`
	// RetryAfter, when > 0, is sent as Retry-After with a KindHTTPStatus fault.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
}

// Latency returns a fault delaying one request by d.
func Latency(d time.Duration) Fault { return Fault{Kind: KindLatency, Latency: d} }

// LatencyBetween returns a fault delaying one request by a uniform random
// duration in [lo, hi) drawn from the seeded random source.
func LatencyBetween(lo, hi time.Duration) Fault {
	return Fault{Kind: KindLatency, Latency: lo, MaxLatency: hi}
}

// ErrCode returns a fault answering one request with errcode code (HTTP 200),
// e.g. ErrCode(CodeSystemBusy) or ErrCode(CodeFreqLimit).
func ErrCode(code int) Fault { return Fault{Kind: KindErrCode, ErrCode: code} }

// HTTPStatus returns a fault answering one request with HTTP status (e.g. 500,
// 502, 503) and, when retryAfter > 0, a Retry-After header.
func HTTPStatus(status int, retryAfter time.Duration) Fault {
	return Fault{Kind: KindHTTPStatus, Status: status, RetryAfter: retryAfter}
}

// LostResponse returns a fault that applies one request and then drops its
// response.
func LostResponse() Fault { return Fault{Kind: KindLostResponse} }

// On returns f restricted to endpoint (EndpointSend, EndpointGetToken,
// EndpointRecall).
func (f Fault) On(endpoint string) Fault { f.Endpoint = endpoint; return f }

// Times returns f applying to n matching requests (n < 0: all, until cleared).
func (f Fault) Times(n int) Fault {
	if n == 0 {
		n = 1
	}
	f.Count = n
	return f
}

// String describes the fault, e.g. "errcode(45009)" or "latency(2s)".
func (f Fault) String() string {
	switch f.Kind {
	case KindLatency:
		return fmt.Sprintf("latency(%s)", f.Latency)
	case KindErrCode:
		return fmt.Sprintf("errcode(%d)", f.ErrCode)
	case KindHTTPStatus:
		if f.RetryAfter > 0 {
			return fmt.Sprintf("http(%d, retry-after %s)", f.Status, f.RetryAfter)
		}
		return fmt.Sprintf("http(%d)", f.Status)
	case KindLostResponse:
		return "lost_response"
	default:
		return string(f.Kind)
	}
}

func (f Fault) validate() error {
	switch f.Kind {
	case KindLatency:
		if f.Latency < 0 || (f.MaxLatency != 0 && f.MaxLatency < f.Latency) {
			return fmt.Errorf("wecomsim: bad latency %s..%s", f.Latency, f.MaxLatency)
		}
	case KindErrCode:
		if f.ErrCode == 0 {
			return fmt.Errorf("wecomsim: errcode fault with errcode 0")
		}
	case KindHTTPStatus:
		if f.Status < 100 || f.Status > 599 {
			return fmt.Errorf("wecomsim: bad HTTP status %d", f.Status)
		}
	case KindLostResponse:
	default:
		return fmt.Errorf("wecomsim: unknown fault kind %q", f.Kind)
	}
	switch f.Endpoint {
	case "", EndpointSend, EndpointGetToken, EndpointRecall, EndpointUpdate:
	default:
		return fmt.Errorf("wecomsim: unknown endpoint %q", f.Endpoint)
	}
	return nil
}

func (f *Fault) matches(endpoint string) bool { return f.Endpoint == "" || f.Endpoint == endpoint }

// Inject queues faults. Each request takes the first queued latency fault and the
// first queued fault of another kind that match its endpoint (in Inject order);
// a fault is used up after Count requests. Queued faults take precedence over
// [FaultRates]. Inject returns an error, and queues nothing, if a fault is
// malformed.
func (s *Sim) Inject(faults ...Fault) error {
	for _, f := range faults {
		if err := f.validate(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range faults {
		if f.Count == 0 {
			f.Count = 1
		}
		s.faults = append(s.faults, f)
	}
	return nil
}

// PendingFaults returns the queued faults not yet used up.
func (s *Sim) PendingFaults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.faults)
}

// ClearFaults empties the fault queue and resets the fault rates to none.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.rates = FaultRates{}
}

// FaultRates are probabilistic faults, drawn per request from the random source
// seeded by Options.Seed. The outcome probabilities (SystemBusy, Throttled,
// ServerError, LostResponse) are exclusive and must sum to at most 1; Latency is
// drawn independently.
type FaultRates struct {
	// Endpoints the rates apply to; empty means every API endpoint.
	Endpoints []string `json:"endpoints,omitempty"`
	// SystemBusy is the probability of errcode -1.
	SystemBusy float64 `json:"system_busy,omitempty"`
	// Throttled is the probability of errcode 45009.
	Throttled float64 `json:"throttled,omitempty"`
	// ServerError is the probability of HTTP 500, 502 or 503 (uniformly), with
	// Retry-After RetryAfter on 503 when RetryAfter > 0.
	ServerError float64 `json:"server_error,omitempty"`
	// RetryAfter is the Retry-After of a 503 from ServerError.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// LostResponse is the probability that the request is applied and its
	// response dropped.
	LostResponse float64 `json:"lost_response,omitempty"`
	// Latency is the probability of a delay uniform in [MinLatency, MaxLatency).
	Latency    float64       `json:"latency,omitempty"`
	MinLatency time.Duration `json:"min_latency,omitempty"`
	MaxLatency time.Duration `json:"max_latency,omitempty"`
}

// SetFaults replaces the probabilistic fault rates; SetFaults(FaultRates{})
// turns them off. It returns an error, and changes nothing, if a probability is
// outside [0, 1] or the outcome probabilities sum to more than 1.
func (s *Sim) SetFaults(r FaultRates) error {
	for _, p := range []float64{r.SystemBusy, r.Throttled, r.ServerError, r.LostResponse, r.Latency} {
		if p < 0 || p > 1 {
			return fmt.Errorf("wecomsim: probability %v outside [0, 1]", p)
		}
	}
	if r.SystemBusy+r.Throttled+r.ServerError+r.LostResponse > 1 {
		return fmt.Errorf("wecomsim: outcome probabilities sum to more than 1")
	}
	if r.MaxLatency < r.MinLatency {
		return fmt.Errorf("wecomsim: MaxLatency < MinLatency")
	}
	r.Endpoints = slices.Clone(r.Endpoints)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rates = r
	return nil
}

// SetDown takes the simulated WeCom down (true) or back up (false). While down,
// every API request is answered HTTP 503 without being applied; the /sim/ API
// keeps working.
func (s *Sim) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// pickFaultsLocked chooses the faults of one request to endpoint; s.mu must be
// held. The returned latency fault has its actual delay in Latency.
func (s *Sim) pickFaultsLocked(endpoint string) (lat, out *Fault) {
	for i := 0; i < len(s.faults); i++ {
		f := &s.faults[i]
		if !f.matches(endpoint) {
			continue
		}
		isLat := f.Kind == KindLatency
		if (isLat && lat != nil) || (!isLat && out != nil) {
			continue
		}
		c := *f
		if isLat {
			lat = &c
		} else {
			out = &c
		}
		if f.Count > 0 {
			if f.Count--; f.Count == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
				i--
			}
		}
	}
	r := &s.rates
	if len(r.Endpoints) == 0 || slices.Contains(r.Endpoints, endpoint) {
		if lat == nil && r.Latency > 0 && s.rng.Float64() < r.Latency {
			lat = &Fault{Kind: KindLatency, Latency: r.MinLatency, MaxLatency: r.MaxLatency}
		}
		if out == nil && r.SystemBusy+r.Throttled+r.ServerError+r.LostResponse > 0 {
			u := s.rng.Float64()
			switch {
			case u < r.SystemBusy:
				out = &Fault{Kind: KindErrCode, ErrCode: CodeSystemBusy}
			case u < r.SystemBusy+r.Throttled:
				out = &Fault{Kind: KindErrCode, ErrCode: CodeFreqLimit}
			case u < r.SystemBusy+r.Throttled+r.ServerError:
				st := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[s.rng.IntN(3)]
				out = &Fault{Kind: KindHTTPStatus, Status: st}
				if st == http.StatusServiceUnavailable {
					out.RetryAfter = r.RetryAfter
				}
			case u < r.SystemBusy+r.Throttled+r.ServerError+r.LostResponse:
				out = &Fault{Kind: KindLostResponse}
			}
		}
	}
	if lat != nil && lat.MaxLatency > lat.Latency {
		lat.Latency += time.Duration(s.rng.Int64N(int64(lat.MaxLatency - lat.Latency)))
		lat.MaxLatency = 0
	}
	return lat, out
}

// describeFaults renders the faults applied to a request for Request.Fault.
func describeFaults(lat, out *Fault) string {
	var parts []string
	if lat != nil {
		parts = append(parts, lat.String())
	}
	if out != nil {
		parts = append(parts, out.String())
	}
	return strings.Join(parts, "+")
}
