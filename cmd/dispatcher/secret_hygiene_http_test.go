package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Secrets of the HTTP side of the hygiene run: the API token (which also
// opens the dashboard) and the webhook signing key.
const (
	hyAPIToken      = "api-token-s3cret-NEVER-PRINTED"
	hyWebhookSecret = "webhook-signing-s3cret-NEVER-PRINTED"
)

// hookReceiver is a webhook endpoint that keeps every body it is sent.
type hookReceiver struct {
	mu     sync.Mutex
	bodies []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, string(body))
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) all() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.bodies, "\n")
}

// startHookReceiver runs a webhook receiver until the test ends.
func startHookReceiver(t *testing.T) (*hookReceiver, string) {
	t.Helper()
	h := &hookReceiver{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/hook"
}

// waitHooks waits until the receiver has a body naming each id with type
// "accepted", and returns every body taken.
func (h *hookReceiver) waitHooks(t *testing.T, ctx context.Context, ids []string) string {
	t.Helper()
	for {
		missing := ""
		h.mu.Lock()
		for _, id := range ids {
			found := false
			for _, b := range h.bodies {
				if strings.Contains(b, id) && strings.Contains(b, `"accepted"`) {
					found = true
					break
				}
			}
			if !found {
				missing = id
				break
			}
		}
		h.mu.Unlock()
		if missing == "" {
			return h.all()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no accepted webhook for %s; got:\n%.2000s", missing, h.all())
		case <-time.After(20 * time.Millisecond): // polling the receiver; deliveries come from another process' queue
		}
	}
}

// apiGet GETs base+path with the hygiene API token and returns the body; it
// fails unless the status is 200.
func apiGet(t *testing.T, ctx context.Context, c *http.Client, base, path string, bearer bool) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer {
		req.Header.Set("Authorization", "Bearer "+hyAPIToken)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%.500s", path, resp.StatusCode, err, body)
	}
	return string(body)
}

// scanHTTPAPI collects the HTTP API's answers about the run: each message's
// status, the apps, every app's events (a long poll from the start) and a
// long poll woken by a message sent while it waits (send is called then).
func scanHTTPAPI(t *testing.T, ctx context.Context, base string, ids, apps []string, send func() string) (map[string]string, string) {
	t.Helper()
	c := &http.Client{}
	out := map[string]string{}
	for _, id := range ids {
		out["GET /v1/messages/"+id] = apiGet(t, ctx, c, base, "/v1/messages/"+url.PathEscape(id), true)
	}
	out["GET /v1/apps"] = apiGet(t, ctx, c, base, "/v1/apps", true)
	var next string
	for _, app := range apps {
		body := apiGet(t, ctx, c, base, "/v1/apps/"+app+"/events?after=0&wait=5s", true)
		out["GET /v1/apps/"+app+"/events"] = body
		var ev struct {
			Events []json.RawMessage `json:"events"`
			Next   string            `json:"next"`
		}
		if err := json.Unmarshal([]byte(body), &ev); err != nil || len(ev.Events) == 0 {
			t.Fatalf("events of %s: %v %.300s", app, err, body)
		}
		if app == "hr" {
			next = ev.Next
		}
	}
	// A long poll that waits for the next hr event, woken by a new message.
	polled := make(chan string, 1)
	go func() {
		polled <- apiGet(t, ctx, c, base, "/v1/apps/hr/events?after="+url.QueryEscape(next)+"&wait=20s", true)
	}()
	time.Sleep(100 * time.Millisecond) // let the poll block first; if it has not, it answers at once all the same
	id := send()
	var body string
	select {
	case body = <-polled:
	case <-ctx.Done():
		t.Fatal("the long poll never answered")
	}
	if !strings.Contains(body, id) {
		t.Errorf("the long poll's answer does not name %s: %.500s", id, body)
	}
	out["GET /v1/apps/hr/events (long poll)"] = body
	return out, id
}

// scanDashboard logs in to the dashboard with the API token and collects the
// asynqmon API's answers: queues, servers and every queue's tasks in every
// state (their payloads go through dashboard.PayloadFormatter). It returns
// the answers and how many tasks they list.
func scanDashboard(t *testing.T, ctx context.Context, base string) (map[string]string, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/monitoring/login", url.Values{"token": {hyAPIToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("dashboard login: %d", resp.StatusCode)
	}
	out := map[string]string{}
	get := func(path string) string {
		body := apiGet(t, ctx, c, base, path, false)
		out["GET "+path] = body
		return body
	}
	var qs struct {
		Queues []struct {
			Queue string `json:"queue"`
		} `json:"queues"`
	}
	if err := json.Unmarshal([]byte(get("/monitoring/api/queues")), &qs); err != nil || len(qs.Queues) == 0 {
		t.Fatalf("dashboard queues: %v %+v", err, qs)
	}
	get("/monitoring/api/servers")
	tasks := 0
	for _, q := range qs.Queues {
		for _, state := range []string{"active", "pending", "scheduled", "retry", "archived", "completed"} {
			var list struct {
				Tasks []json.RawMessage `json:"tasks"`
			}
			if err := json.Unmarshal([]byte(get(fmt.Sprintf("/monitoring/api/queues/%s/%s_tasks?page=1&page_size=100", q.Queue, state))), &list); err != nil {
				t.Fatalf("%s %s tasks: %v", q.Queue, state, err)
			}
			tasks += len(list.Tasks)
		}
	}
	return out, tasks
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}
