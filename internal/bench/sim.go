package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Sim is the provider simulator a bench runs against, given by the caller
// (the package names no provider).
type Sim struct {
	// Provider is the provider's config name ("wecom").
	Provider string
	// Handler serves the simulated provider API. Required.
	Handler http.Handler
	// AppYAML returns the app block's provider lines for a simulator served
	// at baseURL, indented by four spaces: "    provider: wecom\n    wecom: {…}\n".
	AppYAML func(baseURL string) string
	// Env resolves the ${VAR}s of AppYAML (secrets). nil: none.
	Env func(string) (string, bool)
	// AddUsers makes users known to the simulator.
	AddUsers func(users ...string)
	// Close releases the simulator. nil: nothing to release.
	Close func()
}

// NewSim makes a fresh simulator; every run gets its own.
type NewSim func() (*Sim, error)

// marker starts the text of every benchmark message: "mdbench:" then the
// side's letter and an eight-digit sequence number.
const marker = "mdbench:"

// markerText is the text of message seq of side (p or b), padded with 'x'
// to size bytes.
func markerText(side byte, seq, size int) string {
	s := fmt.Sprintf("%s%c%08d ", marker, side, seq)
	if len(s) < size {
		s += string(bytes.Repeat([]byte{'x'}, size-len(s)))
	}
	return s
}

// recorder notes when each message of the current side first reaches the
// simulator; it serves the simulator behind it, after latency.
type recorder struct {
	next    http.Handler
	latency time.Duration

	mu      sync.Mutex
	side    byte
	got     []time.Time // receipt per sequence number; zero until received
	count   int
	last    time.Time
	changed chan struct{}
}

func newRecorder(next http.Handler, latency time.Duration) *recorder {
	return &recorder{next: next, latency: latency, changed: make(chan struct{})}
}

// reset starts recording side's n messages.
func (r *recorder) reset(side byte, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.side, r.got, r.count, r.last = side, make([]time.Time, n), 0, time.Time{}
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	side, seq, ok := parseMarker(body)
	if ok && r.latency > 0 {
		time.Sleep(r.latency) // the provider's own time to answer
	}
	r.next.ServeHTTP(w, req)
	if ok {
		r.arrived(side, seq, at)
	}
}

func (r *recorder) arrived(side byte, seq int, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if side != r.side || seq < 0 || seq >= len(r.got) || !r.got[seq].IsZero() {
		return // another side's straggler, or a re-send
	}
	r.got[seq] = at
	r.count++
	r.last = time.Now()
	close(r.changed)
	r.changed = make(chan struct{})
}

// progress returns how many messages arrived.
func (r *recorder) progress() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// wait blocks until n messages arrived and returns when the last did.
func (r *recorder) wait(ctx context.Context, n int) (time.Time, error) {
	for {
		r.mu.Lock()
		count, last, ch := r.count, r.last, r.changed
		r.mu.Unlock()
		if count >= n {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("bench: %d of %d messages reached the simulator: %w", count, n, ctx.Err())
		case <-ch:
		}
	}
}

// receipts returns the receipt times, by sequence number.
func (r *recorder) receipts() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.got...)
}

// parseMarker finds the marker in a request body.
func parseMarker(body []byte) (side byte, seq int, ok bool) {
	i := bytes.Index(body, []byte(marker))
	if i < 0 || len(body) < i+len(marker)+9 {
		return 0, 0, false
	}
	p := body[i+len(marker):]
	side = p[0]
	for _, c := range p[1:9] {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		seq = seq*10 + int(c-'0')
	}
	return side, seq, true
}

// serve serves h on a loopback listener and returns its base URL and a stop
// function.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bench: simulator listener: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
