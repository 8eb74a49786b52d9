package xiezuosim

import (
	"fmt"
	"slices"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/simkit"
)

// FaultKind says what a [Fault] does.
type FaultKind string

// Fault kinds.
const (
	// KindLatency delays the request by Fault.Latency (real time); a client
	// that gives up meanwhile leaves it unapplied.
	KindLatency FaultKind = "latency"
	// KindResult answers Fault.Result (HTTP status from the code, or
	// Fault.Status) without applying the request.
	KindResult FaultKind = "result"
	// KindHTTPStatus answers Fault.Status with an HTML body (and Retry-After
	// when set) without applying the request.
	KindHTTPStatus FaultKind = "http_status"
	// KindLostResponse applies the request and drops the connection unanswered.
	KindLostResponse FaultKind = "lost_response"
)

// Fault is one scripted misbehaviour, consumed by the next matching requests.
type Fault struct {
	Kind FaultKind
	// Endpoint is EndpointToken, EndpointSend, EndpointUpdate, or "" for all.
	Endpoint string
	// Count is how many requests it applies to (0 means 1; negative: all).
	Count      int
	Latency    time.Duration
	Result     int
	Status     int
	RetryAfter time.Duration
}

// Latency delays one request by d.
func Latency(d time.Duration) Fault { return Fault{Kind: KindLatency, Latency: d} }

// Result answers one request with result code (e.g. CodeTokenExpired).
func Result(code int) Fault { return Fault{Kind: KindResult, Result: code} }

// HTTPStatus answers one request with status.
func HTTPStatus(status int, retryAfter time.Duration) Fault {
	return Fault{Kind: KindHTTPStatus, Status: status, RetryAfter: retryAfter}
}

// LostResponse applies one request and drops its answer.
func LostResponse() Fault { return Fault{Kind: KindLostResponse} }

// On restricts f to endpoint.
func (f Fault) On(endpoint string) Fault { f.Endpoint = endpoint; return f }

// Times makes f apply to n requests (n < 0: until ClearFaults).
func (f Fault) Times(n int) Fault { f.Count = n; return f }

func (f Fault) String() string {
	switch f.Kind {
	case KindLatency:
		return fmt.Sprintf("latency(%s)", f.Latency)
	case KindResult:
		return fmt.Sprintf("result(%d)", f.Result)
	case KindHTTPStatus:
		return fmt.Sprintf("http(%d)", f.Status)
	}
	return string(f.Kind)
}

// Inject queues faults; each request takes the first matching latency fault
// and the first matching fault of another kind. Queued faults take
// precedence over [FaultRates].
func (s *Sim) Inject(faults ...Fault) error {
	for _, f := range faults {
		switch f.Kind {
		case KindLatency, KindResult, KindHTTPStatus, KindLostResponse:
		default:
			return fmt.Errorf("xiezuosim: unknown fault kind %q", f.Kind)
		}
		switch f.Endpoint {
		case "", EndpointToken, EndpointSend, EndpointUpdate:
		default:
			return fmt.Errorf("xiezuosim: unknown endpoint %q", f.Endpoint)
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

// ClearFaults empties the fault queue and turns the fault rates off.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.rates = FaultRates{}
}

// FaultRates are probabilistic faults drawn per request from a source
// seeded by Options.Seed (see simkit.FaultRates): ServerError answers HTTP
// 500, 502 or 503 without applying the request, LostResponse applies it and
// drops the answer, Latency delays it (a client giving up meanwhile leaves
// it unapplied). Endpoints are EndpointToken, EndpointSend, EndpointUpdate;
// empty means all.
type FaultRates = simkit.FaultRates

// SetFaults replaces the fault rates; SetFaults(FaultRates{}) turns them
// off. It returns an error, and changes nothing, if the rates are invalid
// (simkit.FaultRates.Validate) or name an unknown endpoint.
func (s *Sim) SetFaults(r FaultRates) error {
	if err := r.Validate(EndpointToken, EndpointSend, EndpointUpdate); err != nil {
		return fmt.Errorf("xiezuosim: %w", err)
	}
	r.Endpoints = slices.Clone(r.Endpoints)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rates = r
	return nil
}

// SetDown takes the API down (every request 503, not applied) or back up.
func (s *Sim) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *Sim) pickFaultsLocked(endpoint string) (lat, out *Fault) {
	for i := 0; i < len(s.faults); i++ {
		f := &s.faults[i]
		if f.Endpoint != "" && f.Endpoint != endpoint {
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
	d := s.rates.Draw(s.faultRNG, endpoint)
	if lat == nil && d.Latency > 0 {
		lat = &Fault{Kind: KindLatency, Latency: d.Latency, Endpoint: endpoint}
	}
	if out == nil && d.Status != 0 {
		out = &Fault{Kind: KindHTTPStatus, Status: d.Status, Endpoint: endpoint}
	}
	if out == nil && d.Lost {
		out = &Fault{Kind: KindLostResponse, Endpoint: endpoint}
	}
	return lat, out
}

func describe(lat, out *Fault) string {
	switch {
	case lat != nil && out != nil:
		return lat.String() + "+" + out.String()
	case lat != nil:
		return lat.String()
	case out != nil:
		return out.String()
	}
	return ""
}
