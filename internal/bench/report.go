package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints r as a table: one row per figure, the pipeline, the
// baseline and their ratio.
func WriteTable(w io.Writer, r *Result) error {
	quotas := "off"
	if r.Quotas {
		quotas = "on"
	}
	fmt.Fprintf(w, "%s: provider %s, redis %s, n=%d × %d rounds, users=%d, recipients/msg=%d, servers=%d, concurrency=%d, quotas %s, latency %gms, payload %dB, task_check_interval %gms, procs %d\n",
		r.Mode, r.Provider, r.Redis, r.N, r.Rounds, r.Users, r.Recipients, r.Servers, r.Concurrency, quotas, r.LatencyMs, r.Payload, r.TaskCheckIntervalMs, r.Procs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tpipeline\tbaseline\tratio\t")
	p, b, x := r.Pipeline, r.Baseline, r.Ratio
	row := func(name, f string, pv, bv float64, ratio string) {
		fmt.Fprintf(tw, "%s\t"+f+"\t"+f+"\t%s\t\n", name, pv, bv, ratio)
	}
	rt := func(v float64) string { return fmt.Sprintf("%.2f×", v) }
	if r.Mode == "throughput" {
		row("throughput (msg/s)", "%.0f", p.MsgsPerSec, b.MsgsPerSec, rt(x.Throughput))
	}
	row("latency p50 (ms)", "%.1f", p.P50Ms, b.P50Ms, rt(x.P50))
	row("latency p90 (ms)", "%.1f", p.P90Ms, b.P90Ms, "")
	row("latency p99 (ms)", "%.1f", p.P99Ms, b.P99Ms, rt(x.P99))
	row("redis round trips/msg", "%.2f", p.RoundTrips, b.RoundTrips, rt(x.RoundTrips))
	row("  asynq's own", "%.2f", p.AsynqRoundTrips, b.AsynqRoundTrips, "")
	row("  beyond asynq's", "%.2f", p.OwnRoundTrips, b.OwnRoundTrips, "")
	if p.RedisCPUMicros != nil && b.RedisCPUMicros != nil && x.RedisCPU != nil {
		row("redis cpu (µs/msg)", "%.1f", *p.RedisCPUMicros, *b.RedisCPUMicros, rt(*x.RedisCPU))
	} else {
		fmt.Fprintln(tw, "redis cpu (µs/msg)\t-\t-\t\t")
	}
	if p.ProcessCPUMicros != nil && b.ProcessCPUMicros != nil {
		row("process cpu (µs/msg)", "%.1f", *p.ProcessCPUMicros, *b.ProcessCPUMicros, rt(*p.ProcessCPUMicros / *b.ProcessCPUMicros))
	}
	row("peak rss (MiB)", "%.1f", p.PeakRSSMB, b.PeakRSSMB, rt(x.PeakRSS))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(x.ThroughputRounds) > 1 && r.Mode == "throughput" {
		fmt.Fprint(w, "throughput ratio per round (pipeline, then baseline, alternating):")
		for _, v := range x.ThroughputRounds {
			fmt.Fprintf(w, " %.2f×", v)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// WriteJSON prints v as one JSON line.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
