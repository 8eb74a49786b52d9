// Package metrics holds the dispatcher's Prometheus metrics: what happened to
// messages, runs deferred and why, provider request latency, circuit
// breakers, quota refusals, token refreshes, late arrivals and webhook
// deliveries — each labelled by provider and app — plus asynq's queue metrics
// (Queues).
//
// Label sets are bounded: provider and app come from the config (an app the
// Metrics was not built with is counted as app "other", provider "other"),
// and every other label takes its values from a fixed list (a value outside
// it is counted as "other"). No metric has a per-user, per-message or
// per-tenant label.
package metrics

import (
	"net/http"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// Namespace starts the name of every metric of the dispatcher's own.
const Namespace = "msgdispatch"

// Other is the label value of anything outside a label's bounded set: an
// app the Metrics does not know, an unlisted reason, outcome or class.
const Other = "other"

// Outcomes are the values of the outcome label of messages_finished_total:
// the terminal states of a message.
var Outcomes = []string{"accepted", "partially_accepted", "failed", "expired", "unknown", "cancelled"}

// Reasons are the values of the reason label of runs_deferred_total: why a
// run of a send task was put off without spending the failure budget.
var Reasons = []string{ReasonPeak, ReasonQuota, ReasonBreaker, ReasonThrottled, ReasonConcurrency, ReasonPaused, Other}

// Deferral reasons.
const (
	// ReasonPeak: the run fell in a peak minute and was spread after it.
	ReasonPeak = "peak"
	// ReasonQuota: recipients had no quota slot now and were booked for later.
	ReasonQuota = "quota"
	// ReasonBreaker: the (provider, app) circuit breaker was open.
	ReasonBreaker = "breaker"
	// ReasonThrottled: the provider answered "too many requests".
	ReasonThrottled = "throttled"
	// ReasonConcurrency: the company's concurrent requests were all in flight.
	ReasonConcurrency = "concurrency"
	// ReasonPaused: the app or tenant is paused (credentials or authorisation broken).
	ReasonPaused = "paused"
)

// Classes are the values of the class label of provider_request_duration_seconds:
// "ok" or the class of the provider's error (providers.Class.String()).
var Classes = []string{"ok", "permanent", "retryable", "throttled", "unknown_outcome", "app_disabled", "cancelled", Other}

// QuotaResults are the values of the result label of quota_refusals_total:
// booked (a later slot) or late (no slot before the message expires).
var QuotaResults = []string{"booked", "late"}

// WebhookResults are the values of the result label of webhook_deliveries_total.
var WebhookResults = []string{"delivered", "failed", "gave_up"}

// Breaker states, the values of the breaker_state gauge.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// Metric names of the dispatcher's own metrics (without the _bucket, _sum,
// _count suffixes of histograms).
const (
	NameFinished        = Namespace + "_messages_finished_total"
	NameDeferred        = Namespace + "_runs_deferred_total"
	NameRequestDuration = Namespace + "_provider_request_duration_seconds"
	NameBreakerState    = Namespace + "_breaker_state"
	NameQuotaRefusals   = Namespace + "_quota_refusals_total"
	NameQuotaLead       = Namespace + "_quota_slot_lead_seconds"
	NameTokenRefreshes  = Namespace + "_token_refreshes_total"
	NameTokenFailures   = Namespace + "_token_refresh_failures_total"
	NameLateArrivals    = Namespace + "_late_arrivals_total"
	NameWebhooks        = Namespace + "_webhook_deliveries_total"
)

// Metrics is one process's registry of the dispatcher's metrics. A nil
// *Metrics is valid: every method does nothing.
type Metrics struct {
	reg  *prometheus.Registry
	apps map[string]string // app → provider

	finished      *prometheus.CounterVec
	deferred      *prometheus.CounterVec
	requests      *prometheus.HistogramVec
	breaker       *prometheus.GaugeVec
	quotaRefusals *prometheus.CounterVec
	quotaLead     *prometheus.HistogramVec
	tokens        *prometheus.CounterVec
	tokenFailures *prometheus.CounterVec
	late          *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
}

// New returns the metrics of a process serving apps (app name → provider
// name, from the config), registered on a registry of their own together
// with the Go runtime's and the process's collectors.
func New(apps map[string]string) *Metrics {
	pa := []string{"provider", "app"}
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		apps: apps,
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameFinished,
			Help: "Messages that reached a terminal state, by outcome (accepted, partially_accepted, failed, expired, unknown, cancelled)."},
			append(pa, "outcome")),
		deferred: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameDeferred,
			Help: "Runs of send tasks put off without spending the failure budget, by reason (peak, quota, breaker, throttled, concurrency, paused, other)."},
			append(pa, "reason")),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameRequestDuration,
			Help:    "Duration of provider send requests, by outcome class (ok or the error's class).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}},
			append(pa, "class")),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameBreakerState,
			Help: "State of the (provider, app) circuit breaker in this process: 0 closed, 1 half-open, 2 open."},
			pa),
		quotaRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameQuotaRefusals,
			Help: "Recipients the quota did not admit now: booked for a later slot, or late (no slot before the message expires)."},
			append(pa, "result")),
		quotaLead: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameQuotaLead,
			Help:    "How far ahead of the decision the slot of a recipient booked for later lies.",
			Buckets: []float64{1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600}},
			pa),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameTokenRefreshes,
			Help: "Access tokens fetched from the provider by this process (successful or not)."},
			pa),
		tokenFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameTokenFailures,
			Help: "Access token fetches that failed, and token refreshes the store recovered from."},
			pa),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameLateArrivals,
			Help: "Requests answered more than limits.margin after their quota admission (they may have arrived after their window)."},
			pa),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameWebhooks,
			Help: "Webhook deliveries to producers, by result (delivered, failed, gave_up)."},
			[]string{"app", "result"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.finished, m.deferred, m.requests, m.breaker, m.quotaRefusals, m.quotaLead, m.tokens, m.tokenFailures, m.late, m.webhooks)
	// Every counter of every app starts at 0, so that rate() and increase()
	// see the first event.
	for app, p := range apps {
		for _, o := range Outcomes {
			m.finished.WithLabelValues(p, app, o)
		}
		for _, r := range Reasons {
			m.deferred.WithLabelValues(p, app, r)
		}
		for _, r := range QuotaResults {
			m.quotaRefusals.WithLabelValues(p, app, r)
		}
		for _, r := range WebhookResults {
			m.webhooks.WithLabelValues(app, r)
		}
		m.tokens.WithLabelValues(p, app)
		m.tokenFailures.WithLabelValues(p, app)
		m.late.WithLabelValues(p, app)
	}
	return m
}

// Registry is the registry the metrics are on; register more collectors on it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format (/metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Queues registers asynq's queue metrics (asynq_tasks_enqueued_total,
// asynq_queue_size, asynq_queue_latency_seconds, …, labelled by queue), read
// from rdb at each scrape.
func (m *Metrics) Queues(rdb redis.UniversalClient) error {
	return m.reg.Register(asynqmetrics.NewQueueMetricsCollector(asynq.NewInspectorFromRedisClient(rdb)))
}

// labels are the provider and app labels of app.
func (m *Metrics) labels(app string) (string, string) {
	if p, ok := m.apps[app]; ok {
		return p, app
	}
	return Other, Other
}

// bounded is v if it is in set, else Other.
func bounded(v string, set []string) string {
	if slices.Contains(set, v) {
		return v
	}
	return Other
}

// Finished counts a message of app that reached terminal state outcome (one of Outcomes).
func (m *Metrics) Finished(app, outcome string) {
	if m == nil {
		return
	}
	p, a := m.labels(app)
	m.finished.WithLabelValues(p, a, bounded(outcome, Outcomes)).Inc()
}

// Deferred counts a run of a send task of app put off for reason (one of Reasons).
func (m *Metrics) Deferred(app, reason string) {
	if m == nil {
		return
	}
	p, a := m.labels(app)
	m.deferred.WithLabelValues(p, a, bounded(reason, Reasons)).Inc()
}

// Request observes a provider send request of app that took d and ended
// with class (one of Classes).
func (m *Metrics) Request(app, class string, d time.Duration) {
	if m == nil {
		return
	}
	p, a := m.labels(app)
	m.requests.WithLabelValues(p, a, bounded(class, Classes)).Observe(d.Seconds())
}

// Breaker sets the state of app's circuit breaker (BreakerClosed, BreakerHalfOpen, BreakerOpen).
func (m *Metrics) Breaker(app string, state int) {
	if m == nil {
		return
	}
	p, a := m.labels(app)
	m.breaker.WithLabelValues(p, a).Set(float64(state))
}

// QuotaBooked counts a recipient of app booked at a slot lead ahead of the decision.
func (m *Metrics) QuotaBooked(app string, lead time.Duration) {
	if m == nil {
		return
	}
	p, a := m.labels(app)
	m.quotaRefusals.WithLabelValues(p, a, "booked").Inc()
	m.quotaLead.WithLabelValues(p, a).Observe(max(lead, 0).Seconds())
}

// QuotaLate counts n recipients of app that got no slot before their message expired.
func (m *Metrics) QuotaLate(app string, n int) {
	if m == nil || n <= 0 {
		return
	}
	p, a := m.labels(app)
	m.quotaRefusals.WithLabelValues(p, a, "late").Add(float64(n))
}

// TokenFetched counts an access token fetch of app; failed says it failed.
func (m *Metrics) TokenFetched(app string, failed bool) {
	if m == nil {
		return
	}
	p, a := m.labels(app)
	m.tokens.WithLabelValues(p, a).Inc()
	if failed {
		m.tokenFailures.WithLabelValues(p, a).Inc()
	}
}

// TokenTrouble counts a token refresh of app the store recovered from (the
// still-valid token was used); it adds to the failures, not the fetches.
func (m *Metrics) TokenTrouble(app string) {
	if m == nil {
		return
	}
	p, a := m.labels(app)
	m.tokenFailures.WithLabelValues(p, a).Inc()
}

// LateArrival counts a request of app answered after limits.margin.
func (m *Metrics) LateArrival(app string) {
	if m == nil {
		return
	}
	p, a := m.labels(app)
	m.late.WithLabelValues(p, a).Inc()
}

// WebhookDelivery counts a webhook delivery of app with result (one of WebhookResults).
func (m *Metrics) WebhookDelivery(app, result string) {
	if m == nil {
		return
	}
	_, a := m.labels(app)
	m.webhooks.WithLabelValues(a, bounded(result, WebhookResults)).Inc()
}

// Names are the names of the dispatcher's own metric families.
func Names() []string {
	return []string{NameFinished, NameDeferred, NameRequestDuration, NameBreakerState, NameQuotaRefusals,
		NameQuotaLead, NameTokenRefreshes, NameTokenFailures, NameLateArrivals, NameWebhooks}
}
