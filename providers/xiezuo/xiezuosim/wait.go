package xiezuosim

import (
	"context"
	"fmt"
)

// WaitFor blocks until cond reports true or ctx ends. cond is checked at once
// and again each time the simulator finishes a request (every delivery, card
// update and token issue is made by one), so a test waits on what the
// simulator did, not on time. cond may call the Sim's inspection methods.
func (s *Sim) WaitFor(ctx context.Context, cond func() bool) error {
	if err := s.changed.Wait(ctx, cond); err != nil {
		return fmt.Errorf("xiezuosim: wait: %w", err)
	}
	return nil
}

// WaitDeliveries blocks until user has received at least n messages and
// returns them (see [Sim.Deliveries]), or returns ctx's error with what
// arrived so far.
func (s *Sim) WaitDeliveries(ctx context.Context, user string, n int) ([]Delivery, error) {
	var ds []Delivery
	err := s.WaitFor(ctx, func() bool {
		ds = s.Deliveries(user)
		return len(ds) >= n
	})
	if err != nil {
		return ds, fmt.Errorf("xiezuosim: %d deliveries to %s, want %d: %w", len(ds), user, n, err)
	}
	return ds, nil
}

// WaitRequests blocks until the simulator has finished at least n requests
// to endpoint (EndpointSend, EndpointUpdate, EndpointToken; "" for any) and
// returns those requests.
func (s *Sim) WaitRequests(ctx context.Context, endpoint string, n int) ([]Request, error) {
	var rs []Request
	err := s.WaitFor(ctx, func() bool {
		rs = rs[:0]
		for _, r := range s.Requests() {
			if endpoint == "" || r.Endpoint == endpoint {
				rs = append(rs, r)
			}
		}
		return len(rs) >= n
	})
	if err != nil {
		return rs, fmt.Errorf("xiezuosim: %d %q requests, want %d: %w", len(rs), endpoint, n, err)
	}
	return rs, nil
}
