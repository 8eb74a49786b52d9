package tokenstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
)

// guard bounds every wait on a condition: reaching it fails the test.
const guard = 10 * time.Second

type testBundle struct {
	srv   *redistest.Server
	rdb   *redis.Client // for inspecting Redis directly
	clock *fakeClock
	key   string
	waits chan struct{} // one value per caller that starts waiting (Store.onWait)
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	srv := redistest.Start(t)
	return &testBundle{
		srv:   srv,
		rdb:   srv.Client(),
		clock: &fakeClock{t: time.Now()},
		key:   "wecom:self:ww0001:1000002",
		waits: make(chan struct{}, 64),
	}
}

// newStore returns a Store with its own Redis client, as a separate process
// would have, on the bundle's clock.
func (b *testBundle) newStore(opts Options) *Store {
	opts.Now = b.clock.now
	if opts.WaitPoll == 0 {
		opts.WaitPoll = 5 * time.Millisecond
	}
	s := New(b.srv.Client(), opts)
	s.onWait = func() { b.waits <- struct{}{} }
	return s
}

// newStores returns n stores, each with its own client.
func (b *testBundle) newStores(n int, opts Options) []*Store {
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = b.newStore(opts)
	}
	return stores
}

func (b *testBundle) keys() redisKeys { return New(b.rdb, Options{}).keysFor(b.key) }

// awaitWaiters blocks until n callers have started waiting.
func (b *testBundle) awaitWaiters(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-b.waits:
		case <-time.After(guard):
			t.Fatalf("only %d of %d callers started waiting", i, n)
		}
	}
}

// assertUnlocked fails if the refresh lock is held.
func (b *testBundle) assertUnlocked(t *testing.T) {
	t.Helper()
	n, err := b.rdb.Exists(context.Background(), b.keys().lock).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("refresh lock still held")
	}
}

// seed stores tok (lifetime life, fetched now) through s.
func (b *testBundle) seed(t *testing.T, s *Store, tok string, life time.Duration) {
	t.Helper()
	got, err := s.Token(context.Background(), b.key, fixed(tok, life, nil).fetch)
	if err != nil || got != tok {
		t.Fatalf("seed Token = %q, %v", got, err)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fetcher is a FetchFunc that counts its calls and can block until released.
type fetcher struct {
	tok  string
	life time.Duration
	err  error

	entered chan struct{} // if set, receives once per call, on entry
	release chan struct{} // if set, calls block until it is closed (or ctx ends)
	calls   atomic.Int32
}

func fixed(tok string, life time.Duration, err error) *fetcher {
	return &fetcher{tok: tok, life: life, err: err}
}

func blocking(tok string, life time.Duration) *fetcher {
	return &fetcher{tok: tok, life: life, entered: make(chan struct{}, 64), release: make(chan struct{})}
}

func (f *fetcher) fetch(ctx context.Context) (string, time.Duration, error) {
	f.calls.Add(1)
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.release != nil {
		select {
		case <-f.release:
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
	return f.tok, f.life, f.err
}

func (f *fetcher) awaitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-f.entered:
	case <-time.After(guard):
		t.Fatal("fetch was not called")
	}
}

// mustNotFetch fails the test if called.
func mustNotFetch(t *testing.T) providers.FetchFunc {
	return func(context.Context) (string, time.Duration, error) {
		t.Error("fetch called")
		return "", 0, errors.New("unexpected fetch")
	}
}

type result struct {
	tok string
	err error
}

// callers is how the 8 concurrent callers are spread over stores: one store
// per caller is 8 processes, one store for all is 8 goroutines of a process.
var callerLayouts = []struct {
	desc   string
	stores int
}{
	{desc: "8 processes", stores: 8},
	{desc: "2 processes x 4 goroutines", stores: 2},
	{desc: "1 process x 8 goroutines", stores: 1},
}

const callers = 8

func TestColdKeyFetchedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range callerLayouts {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			stores := b.newStores(tc.stores, Options{})
			f := blocking("tok-1", 2*time.Hour)

			results := make(chan result, callers)
			for i := range callers {
				go func() {
					tok, err := stores[i%len(stores)].Token(context.Background(), b.key, f.fetch)
					results <- result{tok, err}
				}()
			}
			f.awaitEntered(t)            // one caller holds the lock and is fetching
			b.awaitWaiters(t, callers-1) // all the others are waiting for it
			close(f.release)

			for range callers {
				r := <-results
				if r.err != nil || r.tok != "tok-1" {
					t.Fatalf("Token = %q, %v; want tok-1", r.tok, r.err)
				}
			}
			if n := f.calls.Load(); n != 1 {
				t.Fatalf("fetch ran %d times, want 1", n)
			}
			b.assertUnlocked(t)
			ttl, err := b.rdb.PTTL(context.Background(), b.keys().tok).Result()
			if err != nil || ttl <= time.Hour || ttl > 2*time.Hour {
				t.Fatalf("key TTL = %v, %v; want the token's lifetime (2h)", ttl, err)
			}
		})
	}
}

func TestEarlyRefreshOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range callerLayouts {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			stores := b.newStores(tc.stores, Options{})
			b.seed(t, stores[0], "old", 2*time.Hour)
			// Margin is max(5m, 20% of 2h) = 24m: at 1h40m, 20m remain.
			b.clock.advance(100 * time.Minute)

			f := blocking("new", 2*time.Hour)
			results := make(chan result, callers)
			for i := range callers {
				go func() {
					tok, err := stores[i%len(stores)].Token(context.Background(), b.key, f.fetch)
					results <- result{tok, err}
				}()
			}
			f.awaitEntered(t)
			// While the refresh is blocked, everybody else gets the old token.
			for range callers - 1 {
				select {
				case r := <-results:
					if r.err != nil || r.tok != "old" {
						t.Fatalf("during refresh Token = %q, %v; want old", r.tok, r.err)
					}
				case <-time.After(guard):
					t.Fatal("a caller blocked during an early refresh")
				}
			}
			close(f.release)
			if r := <-results; r.err != nil || r.tok != "new" {
				t.Fatalf("refreshing caller got %q, %v; want new", r.tok, r.err)
			}
			if n := f.calls.Load(); n != 1 {
				t.Fatalf("fetch ran %d times, want 1", n)
			}
			b.assertUnlocked(t)
			for _, s := range stores {
				if tok, err := s.Token(context.Background(), b.key, mustNotFetch(t)); err != nil || tok != "new" {
					t.Fatalf("after refresh Token = %q, %v; want new", tok, err)
				}
			}
		})
	}
}

func TestRefreshMargin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		life     time.Duration
		elapsed  time.Duration
		wantCall bool
	}{
		{desc: "2h token at 1h35m (25m left > 24m)", life: 2 * time.Hour, elapsed: 95 * time.Minute, wantCall: false},
		{desc: "2h token at 1h37m (23m left < 24m)", life: 2 * time.Hour, elapsed: 97 * time.Minute, wantCall: true},
		{desc: "10m token at 4m (6m left > 5m)", life: 10 * time.Minute, elapsed: 4 * time.Minute, wantCall: false},
		{desc: "10m token at 6m (4m left < 5m)", life: 10 * time.Minute, elapsed: 6 * time.Minute, wantCall: true},
		{desc: "4m token at 1m (margin capped at half: 3m left)", life: 4 * time.Minute, elapsed: time.Minute, wantCall: false},
		{desc: "4m token at 2m30s (1m30s left < 2m)", life: 4 * time.Minute, elapsed: 150 * time.Second, wantCall: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s := b.newStore(Options{})
			b.seed(t, s, "old", tc.life)
			b.clock.advance(tc.elapsed)
			f := fixed("new", tc.life, nil)
			tok, err := s.Token(context.Background(), b.key, f.fetch)
			if err != nil {
				t.Fatal(err)
			}
			if called := f.calls.Load() == 1; called != tc.wantCall {
				t.Fatalf("fetch called = %v, want %v (got %q)", called, tc.wantCall, tok)
			}
		})
	}
}

func TestExpiredEntryFetched(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		elapsed time.Duration
		want    string
	}{
		{desc: "fresh token served", elapsed: time.Hour, want: "t1"},
		{desc: "expired token refetched", elapsed: 2*time.Hour + time.Second, want: "t2"},
		{desc: "token at its exact expiry refetched", elapsed: 2 * time.Hour, want: "t2"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			s := b.newStore(Options{})
			b.seed(t, s, "t1", 2*time.Hour)
			b.clock.advance(tc.elapsed)
			tok, err := s.Token(context.Background(), b.key, fixed("t2", 2*time.Hour, nil).fetch)
			if err != nil || tok != tc.want {
				t.Fatalf("Token = %q, %v; want %q", tok, err, tc.want)
			}
			b.assertUnlocked(t)
		})
	}
}

func TestInvalidateCompareAndDelete(t *testing.T) {
	t.Parallel()
	appDisabled := &providers.Error{Provider: "wecom", Op: "gettoken", Class: providers.ClassAppDisabled, Code: 40001}
	tests := []struct {
		desc       string
		stored     string // token in the cache; "" = none
		negative   bool   // a negative entry instead
		invalidate string
		wantKept   bool
	}{
		{desc: "same token deleted", stored: "A", invalidate: "A", wantKept: false},
		{desc: "newer token kept", stored: "B", invalidate: "A", wantKept: true},
		{desc: "empty token deletes nothing", stored: "A", invalidate: "", wantKept: true},
		{desc: "token prefix is not equal", stored: "AB", invalidate: "A", wantKept: true},
		{desc: "negative entry kept", negative: true, invalidate: "A", wantKept: true},
		{desc: "missing key is fine", invalidate: "A", wantKept: false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			s := b.newStore(Options{})
			switch {
			case tc.negative:
				if _, err := s.Token(ctx, b.key, fixed("", 0, appDisabled).fetch); err == nil {
					t.Fatal("want an error")
				}
			case tc.stored != "":
				b.seed(t, s, tc.stored, 2*time.Hour)
			}
			if err := s.Invalidate(ctx, b.key, tc.invalidate); err != nil {
				t.Fatal(err)
			}
			n, err := b.rdb.Exists(ctx, b.keys().tok).Result()
			if err != nil {
				t.Fatal(err)
			}
			if kept := n == 1; kept != tc.wantKept {
				t.Fatalf("entry kept = %v, want %v", kept, tc.wantKept)
			}
		})
	}
}

// Process 1 and 2 both use token A; 2 sees it rejected, invalidates and gets B;
// 1 then sees A rejected too: its Invalidate must not throw B away.
func TestInvalidateStaleDoesNotDropNewer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p1, p2 := b.newStore(Options{}), b.newStore(Options{})
	b.seed(t, p1, "A", 2*time.Hour)

	if err := p2.Invalidate(ctx, b.key, "A"); err != nil {
		t.Fatal(err)
	}
	if tok, err := p2.Token(ctx, b.key, fixed("B", 2*time.Hour, nil).fetch); err != nil || tok != "B" {
		t.Fatalf("p2 Token = %q, %v; want B", tok, err)
	}
	if err := p1.Invalidate(ctx, b.key, "A"); err != nil {
		t.Fatal(err)
	}
	if tok, err := p1.Token(ctx, b.key, mustNotFetch(t)); err != nil || tok != "B" {
		t.Fatalf("p1 Token = %q, %v; want B", tok, err)
	}
}

func TestFetchErrors(t *testing.T) {
	t.Parallel()
	const failFor = time.Minute
	appDisabled := &providers.Error{
		Provider: "wecom", Op: "gettoken", Class: providers.ClassAppDisabled,
		Code: 40001, Message: "invalid credential",
		Err: errors.New(`Get "https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpsecret=S3CRET": EOF`),
	}
	retryable := &providers.Error{Provider: "wecom", Op: "gettoken", Class: providers.ClassRetryable, HTTPStatus: 502}
	tests := []struct {
		desc       string
		err        error
		wantClass  providers.Class
		wantCached bool
	}{
		{desc: "app disabled is cached", err: appDisabled, wantClass: providers.ClassAppDisabled, wantCached: true},
		{desc: "wrapped app disabled is cached", err: errors.Join(errors.New("gettoken"), appDisabled), wantClass: providers.ClassAppDisabled, wantCached: true},
		{desc: "retryable is not cached", err: retryable, wantClass: providers.ClassRetryable, wantCached: false},
		{desc: "unclassified is not cached", err: errors.New("dial tcp: i/o timeout"), wantClass: providers.ClassUnknownOutcome, wantCached: false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			p1, p2 := b.newStore(Options{FailFor: failFor}), b.newStore(Options{FailFor: failFor})
			f := fixed("", 0, tc.err)

			_, err := p1.Token(ctx, b.key, f.fetch)
			if err == nil {
				t.Fatal("Token succeeded; want the fetch error")
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v does not wrap the fetch error", err)
			}
			if got := providers.ClassOf(err); got != tc.wantClass {
				t.Fatalf("ClassOf = %v, want %v", got, tc.wantClass)
			}
			if !strings.Contains(err.Error(), b.key) {
				t.Fatalf("error %q does not name the key", err)
			}
			b.assertUnlocked(t)

			// Another process, within FailFor.
			b.clock.advance(failFor - time.Second)
			_, err = p2.Token(ctx, b.key, f.fetch)
			if err == nil {
				t.Fatal("second Token succeeded")
			}
			wantCalls := int32(2)
			if tc.wantCached {
				wantCalls = 1
				var pe *providers.Error
				if !errors.As(err, &pe) || pe.Class != providers.ClassAppDisabled || pe.Code != 40001 || pe.Message != "invalid credential" {
					t.Fatalf("cached error %v does not carry the provider error (got %+v)", err, pe)
				}
				if !errors.Is(err, ErrFailureCached) {
					t.Fatalf("cached error %v does not wrap ErrFailureCached", err)
				}
				if strings.Contains(err.Error(), "S3CRET") {
					t.Fatalf("cached error %q holds the transport error's secret", err)
				}
			}
			if n := f.calls.Load(); n != wantCalls {
				t.Fatalf("fetch ran %d times, want %d", n, wantCalls)
			}

			// After FailFor the provider is asked again.
			b.clock.advance(2 * time.Second)
			tok, err := p2.Token(ctx, b.key, fixed("fixed", 2*time.Hour, nil).fetch)
			if err != nil || tok != "fixed" {
				t.Fatalf("after FailFor Token = %q, %v; want fixed", tok, err)
			}
		})
	}
}

func TestEarlyRefreshErrors(t *testing.T) {
	t.Parallel()
	appDisabled := &providers.Error{Provider: "wecom", Op: "gettoken", Class: providers.ClassAppDisabled, Code: 40013}
	tests := []struct {
		desc      string
		err       error
		wantTok   string // "" = want an error
		wantAfter string // next Token with a fetch returning "later"; "" = want an error
	}{
		{desc: "transient failure keeps the valid token", err: errors.New("timeout"), wantTok: "old", wantAfter: "later"},
		{desc: "app disabled replaces it with a negative entry", err: appDisabled, wantTok: "", wantAfter: ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			var reported []error
			s := b.newStore(Options{OnError: func(key string, err error) { reported = append(reported, err) }})
			b.seed(t, s, "old", 2*time.Hour)
			b.clock.advance(100 * time.Minute) // due

			tok, err := s.Token(ctx, b.key, fixed("", 0, tc.err).fetch)
			if tc.wantTok == "" {
				if err == nil || providers.ClassOf(err) != providers.ClassAppDisabled {
					t.Fatalf("Token = %q, %v; want an app_disabled error", tok, err)
				}
			} else {
				if err != nil || tok != tc.wantTok {
					t.Fatalf("Token = %q, %v; want %q", tok, err, tc.wantTok)
				}
				if len(reported) != 1 || !errors.Is(reported[0], tc.err) {
					t.Fatalf("OnError got %v; want the fetch error once", reported)
				}
			}
			b.assertUnlocked(t)

			tok, err = s.Token(ctx, b.key, fixed("later", 2*time.Hour, nil).fetch)
			if tc.wantAfter == "" {
				if err == nil || !errors.Is(err, ErrFailureCached) {
					t.Fatalf("next Token = %q, %v; want the cached failure", tok, err)
				}
			} else if err != nil || tok != tc.wantAfter {
				t.Fatalf("next Token = %q, %v; want %q", tok, err, tc.wantAfter)
			}
		})
	}
}

func TestErrorsNeverHoldToken(t *testing.T) {
	t.Parallel()
	const tok = "tok-SHOULD-NOT-LEAK-9f8e7d"
	appDisabled := &providers.Error{Provider: "wecom", Op: "gettoken", Class: providers.ClassAppDisabled, Code: 40001}
	tests := []struct {
		desc string
		life time.Duration
		err  error
	}{
		{desc: "zero lifetime", life: 0},
		{desc: "negative lifetime", life: -time.Second},
		{desc: "token with a fetch error", life: time.Hour, err: errors.New("boom")},
		{desc: "token with an app disabled error", life: time.Hour, err: appDisabled},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			s := b.newStore(Options{})
			for i := range 2 { // the second call may see a negative entry
				_, err := s.Token(ctx, b.key, fixed(tok, tc.life, tc.err).fetch)
				if err == nil {
					t.Fatalf("call %d: Token succeeded", i)
				}
				if strings.Contains(err.Error(), tok) {
					t.Fatalf("call %d: error %q holds the token", i, err)
				}
				if !strings.Contains(err.Error(), b.key) {
					t.Fatalf("call %d: error %q does not name the key", i, err)
				}
			}
			b.assertUnlocked(t)
		})
	}
}

func TestEmptyTokenRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.newStore(Options{})
	if _, err := s.Token(context.Background(), b.key, fixed("", time.Hour, nil).fetch); err == nil {
		t.Fatal("an empty token was accepted")
	}
	b.assertUnlocked(t)
}

// commandLog records the commands a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds []string
}

func (l *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }
func (l *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		l.mu.Lock()
		l.cmds = append(l.cmds, cmd.Name())
		l.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (l *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		l.mu.Lock()
		l.cmds = append(l.cmds, "pipeline")
		l.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (l *commandLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.cmds
	l.cmds = nil
	return c
}

func TestHotPathIsOneGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	rdb := b.srv.Client()
	log := &commandLog{}
	rdb.AddHook(log)
	s := New(rdb, Options{Now: b.clock.now})
	b.seed(t, s, "tok", 2*time.Hour)
	log.take()

	if tok, err := s.Token(ctx, b.key, mustNotFetch(t)); err != nil || tok != "tok" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	if got := log.take(); len(got) != 1 || got[0] != "get" {
		t.Fatalf("hot path sent %v; want [get]", got)
	}
}

// A waiting process takes over as soon as the lock holder gives up without
// storing a token (its fetch failed, or it died and the lock expired).
func TestWaiterTakesOverFromFailedHolder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		lockTTL time.Duration // TTL of the foreign lock
		release bool          // the holder deletes its lock
	}{
		{desc: "holder released the lock", lockTTL: time.Minute, release: true},
		{desc: "holder died, lock expired", lockTTL: 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			k := b.keys()
			if err := b.rdb.Set(ctx, k.lock, "other-process", tc.lockTTL).Err(); err != nil {
				t.Fatal(err)
			}
			s := b.newStore(Options{})
			f := fixed("mine", 2*time.Hour, nil)
			done := make(chan result, 1)
			go func() {
				tok, err := s.Token(ctx, b.key, f.fetch)
				done <- result{tok, err}
			}()
			b.awaitWaiters(t, 1)
			if tc.release {
				if err := b.rdb.Del(ctx, k.lock).Err(); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case r := <-done:
				if r.err != nil || r.tok != "mine" {
					t.Fatalf("Token = %q, %v; want mine", r.tok, r.err)
				}
			case <-time.After(guard):
				t.Fatal("waiter did not take over")
			}
			if n := f.calls.Load(); n != 1 {
				t.Fatalf("fetch ran %d times, want 1", n)
			}
			b.assertUnlocked(t)
		})
	}
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stores := b.newStores(2, Options{})
	f := blocking("never", time.Hour)

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leader := make(chan result, 1)
	go func() {
		tok, err := stores[0].Token(leaderCtx, b.key, f.fetch)
		leader <- result{tok, err}
	}()
	f.awaitEntered(t)

	waiterCtx, cancelWaiter := context.WithCancel(context.Background())
	waiter := make(chan result, 1)
	go func() {
		tok, err := stores[1].Token(waiterCtx, b.key, f.fetch)
		waiter <- result{tok, err}
	}()
	b.awaitWaiters(t, 1)

	cancelWaiter()
	if r := <-waiter; !errors.Is(r.err, context.Canceled) || !strings.Contains(r.err.Error(), b.key) {
		t.Fatalf("waiter Token = %q, %v; want context.Canceled naming the key", r.tok, r.err)
	}
	cancelLeader()
	if r := <-leader; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("leader Token = %q, %v; want context.Canceled", r.tok, r.err)
	}
	b.assertUnlocked(t)
}

// In one process, a joiner whose leader's context ends takes over instead of
// returning the leader's cancellation.
func TestJoinerOutlivesCancelledLeader(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.newStore(Options{})
	f := blocking("tok", time.Hour)

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leader := make(chan result, 1)
	go func() {
		tok, err := s.Token(leaderCtx, b.key, f.fetch)
		leader <- result{tok, err}
	}()
	f.awaitEntered(t)
	joiner := make(chan result, 1)
	go func() {
		tok, err := s.Token(context.Background(), b.key, f.fetch)
		joiner <- result{tok, err}
	}()
	b.awaitWaiters(t, 1)

	cancelLeader()
	if r := <-leader; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("leader Token = %q, %v; want context.Canceled", r.tok, r.err)
	}
	f.awaitEntered(t) // the joiner fetches itself
	close(f.release)
	if r := <-joiner; r.err != nil || r.tok != "tok" {
		t.Fatalf("joiner Token = %q, %v; want tok", r.tok, r.err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("fetch ran %d times, want 2", n)
	}
}

func TestKeysShareHashSlot(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never used
	defer rdb.Close()
	s := New(rdb, Options{})
	k := s.keysFor("wecom:self:ww1:1000002")
	if tag := hashTag(k.tok); tag != "wecom:self:ww1:1000002" || hashTag(k.lock) != tag {
		t.Errorf("%q and %q are not in the key's slot", k.tok, k.lock)
	}
	// Keys that would break the hash tag are rejected.
	for _, key := range []string{"", "}", "a{b}c", "{x}"} {
		if _, err := s.Token(context.Background(), key, mustNotFetch(t)); err == nil {
			t.Errorf("Token accepted key %q", key)
		}
		if err := s.Invalidate(context.Background(), key, "t"); err == nil {
			t.Errorf("Invalidate accepted key %q", key)
		}
	}
}

// hashTag returns the part of a Redis key that picks its cluster slot.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never used
	defer rdb.Close()
	s := New(rdb, Options{})
	o := s.opts
	if o.Prefix != DefaultPrefix || o.RefreshBefore != DefaultRefreshBefore || o.LockTTL != DefaultLockTTL ||
		o.WaitPoll != DefaultWaitPoll || o.FailFor != DefaultFailFor || o.Now == nil {
		t.Fatalf("defaults not applied: %+v", o)
	}
	if got := s.keysFor("k").tok; got != "msgd:tok:{k}" {
		t.Fatalf("token key = %q", got)
	}
}

// A panicking fetch must not leave this process's other callers stuck on its
// flight, nor the lock held.
func TestPanickingFetchReleasesFlightAndLock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.newStore(Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	panicky := func(context.Context) (string, time.Duration, error) {
		close(entered)
		<-release
		panic("provider client bug")
	}
	leader := make(chan any, 1)
	go func() {
		defer func() { leader <- recover() }()
		_, _ = s.Token(context.Background(), b.key, panicky)
	}()
	select {
	case <-entered:
	case <-time.After(guard):
		t.Fatal("fetch was not called")
	}
	joiner := make(chan result, 1)
	f := fixed("tok", time.Hour, nil)
	go func() {
		tok, err := s.Token(context.Background(), b.key, f.fetch)
		joiner <- result{tok, err}
	}()
	b.awaitWaiters(t, 1)
	close(release)
	if p := <-leader; p == nil {
		t.Fatal("the panic was swallowed")
	}
	select {
	case r := <-joiner:
		if r.err != nil || r.tok != "tok" {
			t.Fatalf("joiner Token = %q, %v; want tok", r.tok, r.err)
		}
	case <-time.After(guard):
		t.Fatal("joiner stuck after the leader's fetch panicked")
	}
	b.assertUnlocked(t)
}
