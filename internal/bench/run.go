package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/providers"
)

// env is one run's Redis, simulator and names.
type env struct {
	o      Options
	redis  string // redis-server, embedded or external
	procs  int    // GOMAXPROCS during the run
	rdb    *redis.Client
	info   *redis.Client // INFO and clean-up, not counted
	hook   *RoundTrips
	rec    *recorder
	sim    *Sim
	app    string
	queue  string
	users  []string
	db     int // the database of an external Redis
	cfg    *config.Config
	closes []func()
	// profiled: the CPU profile has been written (first pipeline round only:
	// a second profile appended to the same file would not parse).
	profiled bool
}

// setupEnv starts (or connects to) Redis, the simulator behind its recorder,
// and parses the run's config.
func setupEnv(ctx context.Context, o Options) (_ *env, err error) {
	e := &env{o: o}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	addr := o.Redis
	e.redis = "external"
	if addr == "" {
		r, err := startRedis(ctx, o.Embedded)
		if err != nil {
			return nil, err
		}
		e.closes = append(e.closes, r.Close)
		addr, e.redis = r.addr, r.kind
	}
	e.procs = procsFor(o, e.redis, runtime.NumCPU())
	prev := runtime.GOMAXPROCS(e.procs)
	e.closes = append(e.closes, func() { runtime.GOMAXPROCS(prev) })
	db := 0
	if o.Redis != "" {
		if db, err = claimDB(ctx, addr); err != nil {
			return nil, err
		}
		e.db = db
	}
	e.rdb = redis.NewClient(&redis.Options{Addr: addr, DB: db})
	e.info = redis.NewClient(&redis.Options{Addr: addr, DB: db, PoolSize: 2})
	e.closes = append(e.closes, func() { e.rdb.Close(); e.info.Close() })
	if err := e.info.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("bench: redis at %s: %w", addr, err)
	}
	e.hook = &RoundTrips{}
	e.rdb.AddHook(e.hook)

	e.sim, err = o.Sim()
	if err != nil {
		return nil, fmt.Errorf("bench: simulator: %w", err)
	}
	if e.sim.Close != nil {
		e.closes = append(e.closes, e.sim.Close)
	}
	e.rec = newRecorder(e.sim.Handler, o.Latency)
	url, stop, err := serve(e.rec)
	if err != nil {
		return nil, err
	}
	e.closes = append(e.closes, stop)

	e.app, e.queue = "bench"+randomHex(4), "default"
	e.users = make([]string, o.Users)
	for i := range e.users {
		e.users[i] = fmt.Sprintf("u%06d", i)
	}
	if e.sim.AddUsers != nil {
		e.sim.AddUsers(e.users...)
	}
	tci := ""
	if o.TaskCheckInterval > 0 {
		tci = "  task_check_interval: " + o.TaskCheckInterval.String() + "\n"
	}
	daily := "daily: 10000000, "
	if !o.Quotas {
		daily = ""
	}
	yml := fmt.Sprintf("redis: {addr: %q}\npeak: {enabled: false}\nworker:\n  concurrency: %d\n  servers: %d\n%s"+
		"apps:\n  %s:\n%s    limits: {%srate: 1000000, concurrency: %d}\n",
		addr, o.Concurrency, o.Servers, tci, e.app, e.sim.AppYAML(url), daily, max(20, 2*o.Servers*o.Concurrency))
	getenv := e.sim.Env
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	e.cfg, err = config.Parse([]byte(yml), getenv)
	if err != nil {
		return nil, fmt.Errorf("bench: config: %w", err)
	}
	if !o.Quotas {
		app := e.cfg.Apps[e.app]
		app.Limits.PerRecipient, app.Limits.Daily = nil, 0
		e.cfg.Apps[e.app] = app
	}
	return e, nil
}

func (e *env) close() {
	if e.o.Redis != "" && e.info != nil {
		e.cleanExternal()
	}
	for i := len(e.closes) - 1; i >= 0; i-- {
		e.closes[i]()
	}
}

// claimKey marks a database of an external Redis as the bench's.
const claimKey = "msgdispatch:bench:claim"

// claimDB finds a database of the Redis at addr that holds no key (15 down
// to 1) and claims it, so that the run writes nowhere anyone else does.
func claimDB(ctx context.Context, addr string) (int, error) {
	for db := 15; db >= 1; db-- {
		c := redis.NewClient(&redis.Options{Addr: addr, DB: db, PoolSize: 1})
		n, err := c.DBSize(ctx).Result()
		if err == nil && n == 0 {
			var ok bool
			ok, err = c.SetNX(ctx, claimKey, "1", 0).Result()
			if err == nil && ok {
				c.Close()
				return db, nil
			}
		}
		c.Close()
		if err != nil && db == 15 {
			return 0, fmt.Errorf("bench: redis at %s: %w", addr, err)
		}
	}
	return 0, fmt.Errorf("bench: redis at %s: no empty database among 1..15 to run in (the bench never writes into one it does not own)", addr)
}

// cleanExternal deletes what the run wrote into the database it claimed on
// a Redis the bench did not start: every key but the claim (the database
// held none before the claim: asynq's, the dispatcher's, the quota
// ledger's), then the claim.
func (e *env) cleanExternal() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := e.info.Scan(ctx, 0, "*", 1000).Iterator()
	for it.Next(ctx) {
		if k := it.Val(); k != claimKey {
			e.info.Unlink(ctx, k)
		}
	}
	e.info.Del(ctx, claimKey)
}

// message is message seq of side: Recipients users from user seq on.
func (e *env) message(side byte, seq int) providers.Message {
	to := make([]string, e.o.Recipients)
	for j := range to {
		to[j] = e.users[(seq*e.o.Recipients+j)%len(e.users)]
	}
	return providers.Message{App: e.app, To: providers.Recipients{Users: to}, Kind: providers.KindText, Text: markerText(side, seq, e.o.Payload)}
}

// redisCPU is Redis's used_cpu_sys + used_cpu_user in seconds; ok false when
// the bench did not start the Redis or it does not say.
func (e *env) redisCPU(ctx context.Context) (float64, bool) {
	if e.redis != "redis-server" {
		return 0, false
	}
	s, err := e.info.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, false
	}
	var total float64
	found := 0
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, false
			}
			total += f
			found++
		}
	}
	return total, found == 2
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// procsFor is the GOMAXPROCS a run uses (Options.Procs, SpareRedisCore) on a
// machine of cpus CPUs with Redis of the given kind.
func procsFor(o Options, redisKind string, cpus int) int {
	switch {
	case o.Procs > 0:
		return o.Procs
	case o.SpareRedisCore && redisKind == "redis-server":
		return max(cpus-1, 1)
	default:
		return runtime.GOMAXPROCS(0)
	}
}
