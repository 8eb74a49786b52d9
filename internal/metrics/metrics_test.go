package metrics_test

import (
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/metrics"
)

type testBundle struct {
	m *metrics.Metrics
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return &testBundle{m: metrics.New(map[string]string{"hr": "wecom", "ops": "xiezuo"})}
}

// labelSets gathers the registry and returns, per dispatcher metric family,
// its label names and the values seen for each.
func labelSets(t *testing.T, b *testBundle) map[string]map[string]map[string]bool {
	t.Helper()
	fams, err := b.m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]map[string]map[string]bool{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), metrics.Namespace+"_") {
			continue
		}
		vals := map[string]map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if vals[l.GetName()] == nil {
					vals[l.GetName()] = map[string]bool{}
				}
				vals[l.GetName()][l.GetValue()] = true
			}
		}
		out[f.GetName()] = vals
	}
	return out
}

func TestLabelCardinalityBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Hostile input: user ids, message ids and free text where labels go.
	for i := range 200 {
		junk := strings.Repeat("x", i%7) + "user-" + string(rune('a'+i%26))
		for _, app := range []string{"hr", "ops", junk} {
			b.m.Finished(app, junk)
			b.m.Finished(app, "accepted")
			b.m.Deferred(app, junk)
			b.m.Deferred(app, metrics.ReasonQuota)
			b.m.Request(app, junk, time.Millisecond)
			b.m.Request(app, "ok", time.Millisecond)
			b.m.Breaker(app, metrics.BreakerOpen)
			b.m.QuotaBooked(app, time.Minute)
			b.m.QuotaLate(app, 2)
			b.m.TokenFetched(app, i%2 == 0)
			b.m.TokenTrouble(app)
			b.m.LateArrival(app)
			b.m.WebhookDelivery(app, junk)
		}
	}
	allowed := map[string][]string{
		"provider": {"wecom", "xiezuo", metrics.Other},
		"app":      {"hr", "ops", metrics.Other},
		"outcome":  append(slices.Clone(metrics.Outcomes), metrics.Other),
		"reason":   metrics.Reasons,
		"class":    metrics.Classes,
		"result":   append(append(slices.Clone(metrics.QuotaResults), metrics.WebhookResults...), metrics.Other),
	}
	sets := labelSets(t, b)
	for _, name := range metrics.Names() {
		if _, ok := sets[name]; !ok {
			t.Errorf("%s: not exported after being recorded", name)
		}
	}
	for fam, labels := range sets {
		for label, vals := range labels {
			if label == "le" { // histogram buckets: fixed
				continue
			}
			ok, known := allowed[label]
			if !known {
				t.Errorf("%s: label %q is not one of the bounded labels", fam, label)
				continue
			}
			for v := range vals {
				if !slices.Contains(ok, v) {
					t.Errorf("%s: label %s=%q outside its bounded set %v", fam, label, v, ok)
				}
			}
		}
	}
	// At most (apps+other) × the largest fixed set, whatever was thrown at it.
	for fam, labels := range sets {
		series := 1
		for label, vals := range labels {
			if label != "le" && label != "provider" {
				series *= len(vals)
			}
		}
		if limit := 3 * 8; series > limit {
			t.Errorf("%s: %d label combinations, want at most %d", fam, series, limit)
		}
	}
}

func TestValuesAndExposition(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for range 3 {
		b.m.Finished("hr", "accepted")
	}
	b.m.Deferred("hr", metrics.ReasonPeak)
	b.m.Breaker("ops", metrics.BreakerHalfOpen)
	srv := httptest.NewServer(b.m.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`msgdispatch_messages_finished_total{app="hr",outcome="accepted",provider="wecom"} 3`,
		`msgdispatch_runs_deferred_total{app="hr",provider="wecom",reason="peak"} 1`,
		`msgdispatch_breaker_state{app="ops",provider="xiezuo"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.Finished("hr", "accepted") // must not panic
	m.Request("hr", "ok", time.Second)
	m.TokenFetched("hr", true)
}
