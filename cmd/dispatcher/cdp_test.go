package main

// A minimal Chrome DevTools Protocol client over --remote-debugging-pipe
// (requests on fd 3, answers and events on fd 4, each message a JSON
// object ended by a NUL byte), so the browser test needs no WebSocket
// library and no extra dependency.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
)

// cdpMessage is an answer (ID set) or an event (Method set).
type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// browser is a headless Chromium driven over its debugging pipe.
type browser struct {
	t   *testing.T
	cmd *exec.Cmd
	out *os.File // the browser's fd 3: our requests

	mu      sync.Mutex
	next    int64
	pending map[int64]chan cdpMessage
	events  chan cdpMessage
}

// startBrowser starts chromium (path) headless with a fresh profile.
func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	toBrowserR, toBrowserW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowserR, fromBrowserW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Chromium's helper processes may still write to their profile for a
	// moment after the browser is killed, so the profile is not a t.TempDir
	// (whose removal would then fail the test): it is removed best-effort
	// once the whole process group is gone.
	profile, err := os.MkdirTemp("", "msgdispatch-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+profile, "--remote-debugging-pipe", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.ExtraFiles = []*os.File{toBrowserR, fromBrowserW} // fd 3, fd 4
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toBrowserR.Close()
	fromBrowserW.Close()
	b := &browser{t: t, cmd: cmd, out: toBrowserW, pending: map[int64]chan cdpMessage{}, events: make(chan cdpMessage, 1024)}
	go b.read(bufio.NewReader(fromBrowserR))
	t.Cleanup(func() {
		b.out.Close()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the browser we started and its helpers (its own group)
		_ = cmd.Wait()
		_ = os.RemoveAll(profile)
	})
	return b
}

func (b *browser) read(r *bufio.Reader) {
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			close(b.events)
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.pending[m.ID]
			delete(b.pending, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default: // nobody waits for this many events
		}
	}
}

// call sends method with params (in session, "" for the browser) and
// decodes the result into out (may be nil).
func (b *browser) call(ctx context.Context, session, method string, params, out any) error {
	b.mu.Lock()
	b.next++
	id := b.next
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	req := map[string]any{"id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if session != "" {
		req["sessionId"] = session
	}
	raw, _ := json.Marshal(req)
	if _, err := b.out.Write(append(raw, 0)); err != nil {
		return fmt.Errorf("cdp %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("cdp %s: %s", method, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cdp %s: %w", method, ctx.Err())
	}
}

// waitEvent waits for event method in session.
func (b *browser) waitEvent(ctx context.Context, session, method string) error {
	for {
		select {
		case m, ok := <-b.events:
			if !ok {
				return fmt.Errorf("cdp: browser closed while waiting for %s", method)
			}
			if m.Method == method && m.SessionID == session {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("cdp: waiting for %s: %w", method, ctx.Err())
		}
	}
}

// page attaches to the browser's first page and enables its events.
func (b *browser) page(ctx context.Context) string {
	b.t.Helper()
	var targets struct {
		TargetInfos []struct {
			TargetID string `json:"targetId"`
			Type     string `json:"type"`
		} `json:"targetInfos"`
	}
	if err := b.call(ctx, "", "Target.getTargets", nil, &targets); err != nil {
		b.t.Fatal(err)
	}
	for _, ti := range targets.TargetInfos {
		if ti.Type != "page" {
			continue
		}
		var att struct {
			SessionID string `json:"sessionId"`
		}
		if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": ti.TargetID, "flatten": true}, &att); err != nil {
			b.t.Fatal(err)
		}
		for _, m := range []string{"Page.enable", "Runtime.enable", "Network.enable"} {
			if err := b.call(ctx, att.SessionID, m, nil, nil); err != nil {
				b.t.Fatal(err)
			}
		}
		return att.SessionID
	}
	b.t.Fatal("cdp: no page target")
	return ""
}

// navigate loads url in the page and waits for its load event.
func (b *browser) navigate(ctx context.Context, session, url string) {
	b.t.Helper()
	if err := b.call(ctx, session, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
		b.t.Fatal(err)
	}
	if err := b.waitEvent(ctx, session, "Page.loadEventFired"); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates expr in the page (awaiting a promise) and returns its value.
func (b *browser) eval(ctx context.Context, session, expr string) any {
	b.t.Helper()
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails any `json:"exceptionDetails"`
	}
	if err := b.call(ctx, session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		b.t.Fatal(err)
	}
	if res.ExceptionDetails != nil {
		b.t.Fatalf("eval %s: %v", expr, res.ExceptionDetails)
	}
	return res.Result.Value
}
