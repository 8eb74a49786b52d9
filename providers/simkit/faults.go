package simkit

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// FaultRates are probabilistic faults a simulator draws per request from a
// seeded random source (its Options.Seed), shared by the simulators whose
// faults are only transport-level: an HTTP 5xx that applies nothing, a lost
// answer after the request was applied, and latency. The zero value draws
// nothing.
type FaultRates struct {
	// Endpoints the rates apply to (the simulator's Endpoint… names); empty
	// means every API endpoint.
	Endpoints []string `json:"endpoints,omitempty"`
	// ServerError is the probability of HTTP 500, 502 or 503 (uniformly),
	// answered without applying the request. Default 0.
	ServerError float64 `json:"server_error,omitempty"`
	// LostResponse is the probability that the request is applied and its
	// answer dropped (the connection is closed unanswered). Default 0.
	LostResponse float64 `json:"lost_response,omitempty"`
	// Latency is the probability of a delay (real time) uniform in
	// [MinLatency, MaxLatency), drawn independently of the outcome. Default 0.
	Latency    float64       `json:"latency,omitempty"`
	MinLatency time.Duration `json:"min_latency,omitempty"`
	MaxLatency time.Duration `json:"max_latency,omitempty"`
}

// Validate reports a probability outside [0, 1], outcome probabilities
// (ServerError, LostResponse) summing to more than 1, MaxLatency <
// MinLatency, or, when the simulator's endpoints are given, an Endpoints
// entry that is none of them.
func (r FaultRates) Validate(endpoints ...string) error {
	for _, e := range r.Endpoints {
		if len(endpoints) > 0 && !slices.Contains(endpoints, e) {
			return fmt.Errorf("simkit: unknown endpoint %q", e)
		}
	}
	for _, p := range []float64{r.ServerError, r.LostResponse, r.Latency} {
		if p < 0 || p > 1 {
			return fmt.Errorf("simkit: fault probability %v outside [0, 1]", p)
		}
	}
	if r.ServerError+r.LostResponse > 1 {
		return fmt.Errorf("simkit: fault outcome probabilities sum to %v, more than 1", r.ServerError+r.LostResponse)
	}
	if r.MinLatency < 0 || r.MaxLatency < r.MinLatency {
		return fmt.Errorf("simkit: fault latency %s..%s", r.MinLatency, r.MaxLatency)
	}
	return nil
}

// FaultDraw is what [FaultRates.Draw] dealt one request; the zero value is
// no fault.
type FaultDraw struct {
	// Latency, when > 0, delays the request before it is handled.
	Latency time.Duration
	// Status, when not 0, is the HTTP 5xx status to answer without applying.
	Status int
	// Lost applies the request and drops its answer.
	Lost bool
}

// Draw deals the faults of one request to endpoint from rng, which the
// caller serialises (a simulator holds its lock). It draws nothing for an
// endpoint the rates do not cover.
func (r FaultRates) Draw(rng *rand.Rand, endpoint string) FaultDraw {
	var d FaultDraw
	if len(r.Endpoints) > 0 && !slices.Contains(r.Endpoints, endpoint) {
		return d
	}
	if r.Latency > 0 && rng.Float64() < r.Latency {
		d.Latency = r.MinLatency
		if r.MaxLatency > r.MinLatency {
			d.Latency += time.Duration(rng.Int64N(int64(r.MaxLatency - r.MinLatency)))
		}
	}
	if r.ServerError+r.LostResponse > 0 {
		switch u := rng.Float64(); {
		case u < r.ServerError:
			d.Status = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[rng.IntN(3)]
		case u < r.ServerError+r.LostResponse:
			d.Lost = true
		}
	}
	return d
}
