package worker_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/worker"
)

// on_unknown: resend on a provider without a duplicate check cannot re-send
// anything (the worker re-sends only within the provider's dedupe window):
// the worker says so when it starts, naming the app.
func TestResendWithoutDedupeWindowWarns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		onUnknown string
		warn      bool
	}{
		{desc: "resend on WPS 365", onUnknown: "resend", warn: true},
		{desc: "give_up on WPS 365", onUnknown: "give_up"},
		{desc: "the provider's default (give_up)", onUnknown: `""`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			cfg, err := config.Parse([]byte(fmt.Sprintf(`
redis: {addr: %q}
apps:
  notices:
    provider: wps365
    wps365: {base_url: "http://127.0.0.1:1", app_id: AK1, app_secret: s3cret-value, company_id: C1}
    on_unknown: %s
`, srv.Addr, tc.onUnknown)), nil)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			if _, err := worker.New(worker.Options{Config: cfg, Redis: srv.Client(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(logs.String(), "on_unknown: resend has no effect") && strings.Contains(logs.String(), "app=notices")
			if warned != tc.warn {
				t.Errorf("warned %v, want %v; logs:\n%s", warned, tc.warn, logs.String())
			}
			if strings.Contains(logs.String(), "s3cret-value") {
				t.Error("the app secret is in the log")
			}
		})
	}
}
