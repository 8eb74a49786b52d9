package bench

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
)

// SweepServers and SweepRecipients are the grid of a sweep.
var (
	SweepServers    = []int{1, 2, 4}
	SweepRecipients = []int{1, 10, 1000}
)

// sweepN is the number of messages of a sweep point: about 2,000 recipient
// deliveries or more, and at most 5 messages per user per side, so the
// simulator's per-user limits (30 a minute) never drop one.
func sweepN(n, recipients, users int) int {
	if recipients == 1 {
		return n
	}
	return max(20, min(n, 5*users/recipients, 4000/recipients*10))
}

// Sweep runs a throughput run for every (servers, recipients) of the grid,
// with o's other settings; N is scaled down for many recipients.
func Sweep(ctx context.Context, o Options) ([]*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	var out []*Result
	for _, srv := range SweepServers {
		for _, rc := range SweepRecipients {
			p := o
			p.Servers, p.Recipients, p.Rounds = srv, rc, 1
			p.Users = max(o.Users, rc)
			p.N = sweepN(o.N, rc, p.Users)
			r, err := Run(ctx, p, false)
			if err != nil {
				return out, fmt.Errorf("bench: sweep servers=%d recipients=%d: %w", srv, rc, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// WriteSweep prints the cost of each sweep point per message and per
// recipient: wall time (1/throughput), Redis round trips and Redis CPU, for
// the pipeline, and the ratio of its throughput to the baseline's.
func WriteSweep(w io.Writer, rs []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "servers\trecipients\tn\tmsg/s\tbaseline msg/s\tratio\tµs/msg\tµs/recipient\tround trips/msg\tround trips/recipient\tredis µs/msg\tredis µs/recipient\t")
	for _, r := range rs {
		p := r.Pipeline
		rc := float64(r.Recipients)
		wall := 0.0
		if p.MsgsPerSec > 0 {
			wall = 1e6 / p.MsgsPerSec
		}
		cpu, cpuR := "-", "-"
		if p.RedisCPUMicros != nil {
			cpu, cpuR = fmt.Sprintf("%.1f", *p.RedisCPUMicros), fmt.Sprintf("%.2f", *p.RedisCPUMicros/rc)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%.0f\t%.2f×\t%.0f\t%.1f\t%.2f\t%.3f\t%s\t%s\t\n",
			r.Servers, r.Recipients, r.N, p.MsgsPerSec, r.Baseline.MsgsPerSec, r.Ratio.Throughput, wall, wall/rc,
			p.RoundTrips, p.RoundTrips/rc, cpu, cpuR)
	}
	return tw.Flush()
}
