package config

import (
	"strings"
	"testing"
)

func TestMetricsListen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc, yml, want, err string
	}{
		{desc: "default", yml: wecomApp, want: ":9090"},
		{desc: "set", yml: wecomApp + "worker: {metrics_listen: \"127.0.0.1:9191\"}\n", want: "127.0.0.1:9191"},
		{desc: "no port", yml: wecomApp + "worker: {metrics_listen: \"localhost\"}\n", err: "worker.metrics_listen: must be host:port"},
		{desc: "port out of range", yml: wecomApp + "worker: {metrics_listen: \":99999\"}\n", err: "worker.metrics_listen: port must be"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			c, err := parse(t, tc.yml, testEnv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Worker.MetricsListen != tc.want {
				t.Errorf("worker.metrics_listen = %q, want %q", c.Worker.MetricsListen, tc.want)
			}
			if got := c.AppProviders(); got["hr-bot"] != "wecom" || len(got) != 1 {
				t.Errorf("AppProviders = %v, want hr-bot → wecom", got)
			}
		})
	}
}
