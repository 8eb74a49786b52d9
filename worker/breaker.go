package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/sony/gobreaker/v2"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/metrics"
	"github.com/msgdispatch/msgdispatch/providers"
)

// breakers holds one circuit breaker per (provider, app) in this process. Only
// provider-side failures count — busy, 5xx, timeouts, lost answers, throttling;
// a refused recipient or payload is the message's fault and counts as a success
// of the provider, and broken credentials are left to the app pause.
type breakers struct {
	cfg config.Breaker
	log *slog.Logger
	// metrics receives each breaker's state; nil: none.
	metrics *metrics.Metrics

	mu sync.Mutex
	m  map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]
}

func newBreakers(cfg config.Breaker, log *slog.Logger) *breakers {
	return &breakers{cfg: cfg, log: log, m: map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]{}}
}

func (b *breakers) get(provider, app string) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	name := provider + "/" + app
	b.mu.Lock()
	defer b.mu.Unlock()
	if cb, ok := b.m[name]; ok {
		return cb
	}
	failures := uint32(b.cfg.Failures)
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1, // one probe while half-open
		Timeout:     b.cfg.Timeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			return err == nil || providers.ClassOf(err) == providers.ClassPermanent
		},
		IsExcluded: func(err error) bool {
			return providers.ClassOf(err) == providers.ClassAppDisabled || errors.Is(err, context.Canceled)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			b.log.Warn("circuit breaker", "breaker", name, "from", from.String(), "to", to.String())
			b.metrics.Breaker(app, breakerState(to))
		},
	})
	b.m[name] = cb
	b.metrics.Breaker(app, metrics.BreakerClosed)
	return cb
}
