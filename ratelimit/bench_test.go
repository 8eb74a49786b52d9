package ratelimit

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
)

// Benchmarks. Run them on a real redis-server (the default when it is on PATH):
//
//	go test ./ratelimit -run '^$' -bench . -benchmem
//	go test ./ratelimit -run '^$' -bench Ratio -benchtime 5x
//
// They compare the admission script with two bare sliding-window checks (no
// booking, no ledger, no daily cap, no TTL) on equally fresh recipients:
// bareScript checks one window (per recipient: ZREMRANGEBYSCORE, ZCARD,
// ZADD), bareWeComScript the two windows the admission enforces by default
// (ZREMRANGEBYSCORE, ZCOUNT, ZCARD, ZADD).

// bareScript is the reference: a bare exact sliding-window check.
//
//	KEYS     one zset per recipient
//	ARGV[1]  window ms
//	ARGV[2]  limit
//	ARGV[3]  member (unique per call)
//
// Returns 1 (admitted) or 0 per recipient.
var bareScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out = {}
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - win)
  if redis.call('ZCARD', KEYS[i]) < limit then
    redis.call('ZADD', KEYS[i], now, member)
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`)

// bareWeComScript is the same bare check of the two windows the admission
// enforces with the default policy (WeCom's 30 per minute and 1000 per hour,
// each lengthened by the margin): per recipient ZREMRANGEBYSCORE of what is
// older than the longer window, ZCOUNT of the shorter one, ZCARD, ZADD. The
// issue's target (≥ 0.7×) is measured against both bare scripts.
//
//	KEYS     one zset per recipient
//	ARGV[1], ARGV[2]  the shorter window ms, its limit
//	ARGV[3], ARGV[4]  the longer window ms, its limit
//	ARGV[5]  member (unique per call)
var bareWeComScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w1, c1, w2, c2, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local out = {}
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - w2)
  if redis.call('ZCOUNT', KEYS[i], '(' .. (now - w1), '+inf') < c1 and redis.call('ZCARD', KEYS[i]) < c2 then
    redis.call('ZADD', KEYS[i], now, member)
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`)

// Two references between the bare script and the admission script, to show
// where the cost goes: bareTTLScript adds the TTL every production
// sliding-window key needs (PEXPIRE per recipient), bareLedgerScript also
// keeps a per-(message, recipient) ledger like the admission script's (one
// HMGET, one HSET and a PEXPIRE of one hash per call). Neither books, keeps a
// daily cap or a monotonic clock.
var (
	bareTTLScript    = redis.NewScript(bareWith(ttlLua, ""))
	bareLedgerScript = redis.NewScript(bareWith(ttlLua, ledgerLua))
)

const (
	ttlLua    = "redis.call('PEXPIRE', KEYS[i], win)\n"
	ledgerLua = `
local f, l, n = {}, {}, 0
for i = 2, #KEYS do f[#f + 1] = ARGV[2 + i] end
redis.call('HMGET', KEYS[1], unpack(f))
for i = 1, #f do l[n + 1] = f[i]; l[n + 2] = 'A' .. now .. ',' .. member .. ',0,0'; n = n + 2 end
redis.call('HSET', KEYS[1], unpack(l))
redis.call('PEXPIRE', KEYS[1], 172800000, 'NX')
`
)

// bareWith returns the bare script with ttl after each ZADD and ledger at
// the end; with a ledger, KEYS[1] is the ledger hash, the recipients' keys
// follow, and ARGV[4…] are the recipients.
func bareWith(ttl, ledger string) string {
	first := "1"
	if ledger != "" {
		first = "2"
	}
	return `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out = {}
for i = ` + first + `, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - win)
  if redis.call('ZCARD', KEYS[i]) < limit then
    redis.call('ZADD', KEYS[i], now, member)
    ` + ttl + `
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
` + ledger + `
return out
`
}

// benchPolicy is WeCom's: 30/1m and 1000/1h, margin 2s, headroom 2, a daily
// cap far away (so its counter is kept), no peak rule (the benchmark must not
// depend on the minute it runs in).
var benchPolicy = Policy{Windows: DefaultWindows(), UrgentHeadroom: 2, Daily: 1 << 30}

type benchEnv struct {
	srv  *redistest.Server
	rdb  *redis.Client
	rt   *tripCounter
	l    *Limiter
	seq  atomic.Int64 // message numbers
	next atomic.Int64 // recipient cursor
	pool int          // recipients cycled through
	// again counts admitAgain's calls.
	again atomic.Int64
}

func newBenchEnv(tb testing.TB, pool int) *benchEnv {
	srv := redistest.Start(tb)
	if !srv.Real() {
		tb.Skip("benchmarks need a real redis-server")
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	tb.Cleanup(func() { rdb.Close() })
	e := &benchEnv{srv: srv, rdb: rdb, rt: &tripCounter{}, pool: pool}
	rdb.AddHook(e.rt)
	l, err := New(rdb, Options{Default: &benchPolicy})
	if err != nil {
		tb.Fatal(err)
	}
	e.l = l
	ctx := context.Background()
	for _, s := range []*redis.Script{admitScript, markScript, bareScript, bareWeComScript, bareTTLScript, bareLedgerScript} {
		if err := s.Load(ctx, rdb).Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

// recipients returns the next n recipient ids of the pool.
func (e *benchEnv) recipients(n int) []string {
	start := e.next.Add(int64(n)) - int64(n)
	out := make([]string, n)
	for i := range out {
		out[i] = "user" + strconv.FormatInt((start+int64(i))%int64(e.pool), 10)
	}
	return out
}

func (e *benchEnv) admit(ctx context.Context, n int) error {
	_, err := e.l.Admit(ctx, Request{App: "bench", Tenant: "ww1", MessageID: "bench." + strconv.FormatInt(e.seq.Add(1), 36), Recipients: e.recipients(n)})
	return err
}

// againPerRound is admitAgain's calls per set of recipients: each of
// againPerRound/4 recipients gets four messages, as a team's notifications
// reach the same people through the hour.
const againPerRound = 4000

// admitAgain admits a single-recipient message (n is ignored) to a recipient
// that already has up to three arrivals in the windows: the usual case once a
// dispatcher has run for a while.
func (e *benchEnv) admitAgain(ctx context.Context, _ int) error {
	k := e.again.Add(1) - 1
	rcpt := fmt.Sprintf("again%d.%d", k/againPerRound, k%(againPerRound/4))
	_, err := e.l.Admit(ctx, Request{App: "bench", Tenant: "ww1", MessageID: "again." + strconv.FormatInt(k, 36), Recipients: []string{rcpt}})
	return err
}

// The bare scripts' window arguments: WeCom's minute (and hour) lengthened by
// the default margin, with their counts.
var (
	bareMinute = []any{int64(time.Minute/time.Millisecond) + 2000, 30}
	bareWeCom  = append(slices.Clone(bareMinute), int64(time.Hour/time.Millisecond)+2000, 1000)
)

func (e *benchEnv) bare(ctx context.Context, n int) error {
	return e.runBare(ctx, bareScript, n, false, bareMinute)
}
func (e *benchEnv) bareWeCom(ctx context.Context, n int) error {
	return e.runBare(ctx, bareWeComScript, n, false, bareWeCom)
}
func (e *benchEnv) bareTTL(ctx context.Context, n int) error {
	return e.runBare(ctx, bareTTLScript, n, false, bareMinute)
}
func (e *benchEnv) bareLedger(ctx context.Context, n int) error {
	return e.runBare(ctx, bareLedgerScript, n, true, bareMinute)
}

// runBare runs s on n recipients with ARGV = windows, then a member unique to
// the call, then (with a ledger) the recipients.
func (e *benchEnv) runBare(ctx context.Context, s *redis.Script, n int, ledger bool, windows []any) error {
	rc := e.recipients(n)
	seq := strconv.FormatInt(e.seq.Add(1), 10)
	keys := make([]string, 0, n+1)
	args := append(slices.Clone(windows), seq)
	if ledger {
		keys = append(keys, "bare:{bench}:l:"+seq)
	}
	for _, r := range rc {
		keys = append(keys, "bare:{bench}:r:ww1:"+r)
		if ledger {
			args = append(args, r)
		}
	}
	return s.Run(ctx, e.rdb, keys, args...).Err()
}

const benchCallers = 16 // concurrent callers, as in the reference figures

// BenchmarkAdmission measures one call (one chunk) of the admission script and
// of the bare script, from 16 concurrent callers, for 1 and 250 recipients.
// ns/op is per call; recipients/s is the decision rate.
func BenchmarkAdmission(b *testing.B) {
	for _, n := range []int{1, 250} {
		for _, kind := range []string{"bare", "admit"} {
			b.Run(fmt.Sprintf("recipients=%d/%s", n, kind), func(b *testing.B) {
				e := newBenchEnv(b, 100_000)
				ctx := context.Background()
				f := e.admit
				if kind == "bare" {
					f = e.bare
				}
				b.SetParallelism(max(1, benchCallers/runtime.GOMAXPROCS(0)))
				b.ReportAllocs()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := f(ctx, n); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "recipients/s")
			})
		}
	}
}

// BenchmarkAdmissionRatio runs rounds of the two bare scripts, the two
// references between the bare and the admission script (bare+ttl,
// bare+ttl+ledger) and the admission script alternately in one run, each on
// its own, equally fresh recipients, from 16 callers (and, for one
// recipient, the admission script on recipients with earlier arrivals:
// admit-again), and reports the
// admission script's throughput as a ratio of each one's (the target is ≥ 0.7
// of the bare ones'), with the Redis time per recipient of each (EVALSHA time
// from INFO commandstats). Use -benchtime Nx: N rounds of each.
func BenchmarkAdmissionRatio(b *testing.B) {
	for _, n := range []int{1, 250} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			e := newBenchEnv(b, 10_000_000)
			ctx := context.Background()
			calls := againPerRound
			if n > 1 {
				calls = 160
			}
			kinds := []struct {
				name string
				f    func(context.Context, int) error
			}{{"bare", e.bare}, {"bare-wecom", e.bareWeCom}, {"bare+ttl", e.bareTTL}, {"bare+ttl+ledger", e.bareLedger}, {"admit-again", e.admitAgain}, {"admit", e.admit}}
			if n > 1 { // admitAgain sends to one recipient
				kinds = slices.Delete(kinds, 4, 5)
			}
			dur := make([]time.Duration, len(kinds))
			usec := make([]float64, len(kinds))
			for i := 0; i < b.N; i++ {
				for k, kind := range kinds {
					if err := e.rdb.ConfigResetStat(ctx).Err(); err != nil {
						b.Fatal(err)
					}
					var wg sync.WaitGroup
					var left atomic.Int64
					left.Store(int64(calls))
					start := time.Now()
					for range benchCallers {
						wg.Go(func() {
							for left.Add(-1) >= 0 {
								if err := kind.f(ctx, n); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
					dur[k] += time.Since(start)
					usec[k] += evalshaUsec(b, e.rdb)
				}
			}
			total := float64(b.N * calls * n)
			admit := len(kinds) - 1
			for k, kind := range kinds {
				b.ReportMetric(total/dur[k].Seconds(), kind.name+"-rcpt/s")
				b.ReportMetric(usec[k]/total, kind.name+"-redis-µs/rcpt")
				if k != admit {
					b.ReportMetric(dur[k].Seconds()/dur[admit].Seconds(), "ratio-vs-"+kind.name)
				}
			}
		})
	}
}

// evalshaUsec returns the microseconds Redis spent in EVALSHA since the last
// CONFIG RESETSTAT.
func evalshaUsec(tb testing.TB, rdb *redis.Client) float64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for f := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				n, _ := strconv.ParseFloat(v, 64)
				return n
			}
		}
	}
	return 0
}

// BenchmarkRoundTrips counts the Redis round trips of one message through the
// ledger as a worker drives it: Admit, MarkSending, MarkSent.
func BenchmarkRoundTrips(b *testing.B) {
	for _, n := range []int{1, 250, 1000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			e := newBenchEnv(b, 1_000_000)
			ctx := context.Background()
			before, calls := e.rt.n.Load(), 0
			for i := 0; i < b.N; i++ {
				rc := e.recipients(n)
				id := "rt." + strconv.Itoa(i)
				d, err := e.l.Admit(ctx, Request{App: "bench", Tenant: "ww1", MessageID: id, Recipients: rc})
				if err != nil {
					b.Fatal(err)
				}
				ref := Ref{App: "bench", Tenant: "ww1", MessageID: id, Recipients: d.Admitted}
				if _, err := e.l.MarkSending(ctx, ref); err != nil {
					b.Fatal(err)
				}
				if _, err := e.l.MarkSent(ctx, ref); err != nil {
					b.Fatal(err)
				}
				calls += 3 * d.Calls
			}
			b.ReportMetric(float64(e.rt.n.Load()-before)/float64(b.N), "roundtrips/msg")
			b.ReportMetric(float64(calls)/float64(b.N), "script-calls/msg")
		})
	}
}

// BenchmarkMemory reports the Redis memory of lightly used recipients (one
// arrival each, in the last hour): MEMORY USAGE of a recipient's arrival key,
// and the growth of used_memory per recipient including the daily counter and
// the ledger (one ledger per message of 250 recipients, and the worst case of
// a message of its own per recipient), against the bare script's keys (whose
// members are as short). Target ≤ 1 KB.
func BenchmarkMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		m := measureMemory(b, 10_000)
		b.ReportMetric(m.key, "B/rcpt-key")
		b.ReportMetric(m.all250, "B/rcpt-all")
		b.ReportMetric(m.all1, "B/rcpt-all-1rcpt-msg")
		b.ReportMetric(m.bareKey, "B/rcpt-bare-key")
		b.ReportMetric(m.bareAll, "B/rcpt-bare-all")
	}
}

// TestMemoryPerLightRecipient holds the target: ≤ 1 KB of Redis per lightly
// used recipient (real redis-server only: MEMORY USAGE).
func TestMemoryPerLightRecipient(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("measures 2,000 recipients")
	}
	m := measureMemory(t, 2_000)
	t.Logf("per lightly used recipient: key %.0f B, all state %.0f B (250-recipient messages), %.0f B (1-recipient messages); bare script: key %.0f B, all %.0f B",
		m.key, m.all250, m.all1, m.bareKey, m.bareAll)
	if m.key > 1024 || m.all1 > 1024 {
		t.Errorf("more than 1 KB per recipient: %+v", m)
	}
}

type memFigures struct{ key, all250, all1, bareKey, bareAll float64 }

func measureMemory(tb testing.TB, n int) memFigures {
	e := newBenchEnv(tb, 2*n) // n recipients for 250-recipient messages, n more for 1-recipient ones
	ctx := context.Background()
	used := func() float64 {
		info, err := e.rdb.Info(ctx, "memory").Result()
		if err != nil {
			tb.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		tb.Fatal("no used_memory")
		return 0
	}
	keyAvg := func(pattern string) float64 {
		var sum, cnt float64
		iter := e.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			v, err := e.rdb.MemoryUsage(ctx, iter.Val(), 0).Result()
			if err != nil {
				tb.Fatal(err)
			}
			sum, cnt = sum+float64(v), cnt+1
		}
		return sum / cnt
	}
	var m memFigures
	u0 := used()
	for i := 0; i < n; i += ChunkSize {
		if err := e.admit(ctx, ChunkSize); err != nil {
			tb.Fatal(err)
		}
	}
	u1 := used()
	m.all250 = (u1 - u0) / float64(n)
	m.key = keyAvg("rl:{bench}:r:*")
	for range n { // n fresh recipients, one message each: each has its own ledger
		if err := e.admit(ctx, 1); err != nil {
			tb.Fatal(err)
		}
	}
	u2 := used()
	m.all1 = (u2 - u1) / float64(n)
	for i := 0; i < n; i += ChunkSize {
		if err := e.bare(ctx, ChunkSize); err != nil {
			tb.Fatal(err)
		}
	}
	m.bareAll = (used() - u2) / float64(n)
	m.bareKey = keyAvg("bare:{bench}:r:*")
	return m
}
