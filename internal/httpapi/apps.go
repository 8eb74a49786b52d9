package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/appstate"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// appEntry is one app of the catalog: what a producer may rely on, no secret.
type appEntry struct {
	App          string           `json:"app"`
	Provider     string           `json:"provider"`
	MultiTenant  bool             `json:"multi_tenant"`
	Capabilities capabilities     `json:"capabilities"`
	Limits       limits           `json:"limits"`
	Paused       *appstate.Pause  `json:"paused"`
	TokenShare   *tokenShareLimit `json:"token_daily_share,omitempty"`
}

type capabilities struct {
	Update           bool             `json:"update"`
	Recall           bool             `json:"recall"`
	Reply            bool             `json:"reply"`
	UpdatableKinds   []providers.Kind `json:"updatable_kinds"`
	UpdateOnlyKinds  []providers.Kind `json:"update_only_kinds"`
	MaxUsersPerPart  int              `json:"max_users_per_part"`
	MaxGroupsPerPart int              `json:"max_groups_per_part"`
	DedupeWindow     string           `json:"dedupe_window"`
	RecallWindow     string           `json:"recall_window"`
}

type window struct {
	Count  int    `json:"count"`
	Window string `json:"window"`
}

type limits struct {
	PerRecipient   []window `json:"per_recipient"`
	Daily          int      `json:"daily"`
	Margin         string   `json:"margin"`
	UrgentHeadroom int      `json:"urgent_headroom"`
	GroupSize      int      `json:"group_size"`
}

type tokenShareLimit struct {
	Percent int `json:"percent"`
	Daily   int `json:"daily"`
}

// catalog is GET /v1/apps: the apps the token may use.
func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	t := tokenOf(r)
	names := slices.Clone(t.apps)
	slices.Sort(names)
	out := struct {
		Apps []appEntry `json:"apps"`
	}{Apps: []appEntry{}}
	for _, name := range names {
		app, ok := s.cfg.Apps[name]
		if !ok || app.Block == nil {
			continue
		}
		caps := app.Block.Capabilities()
		e := appEntry{App: name, Provider: app.Provider, MultiTenant: app.MultiTenant(),
			Capabilities: capabilities{Update: caps.Update, Recall: caps.Recall, Reply: caps.Reply,
				UpdatableKinds: nonNil(caps.UpdatableKinds), UpdateOnlyKinds: nonNil(caps.UpdateOnlyKinds),
				MaxUsersPerPart: caps.MaxUsersPerPart, MaxGroupsPerPart: caps.MaxGroupsPerPart,
				DedupeWindow: caps.DedupeWindow.String(), RecallWindow: caps.RecallWindow.String()},
			Limits: limits{PerRecipient: []window{}, Daily: app.Limits.Daily, Margin: app.Limits.Margin.String(),
				UrgentHeadroom: app.Limits.UrgentHeadroom, GroupSize: app.Limits.GroupSize}}
		for _, w := range app.Limits.PerRecipient {
			e.Limits.PerRecipient = append(e.Limits.PerRecipient, window{Count: w.Count, Window: w.Window.String()})
		}
		if lim := shareLimit(t, app.Limits.Daily); lim > 0 {
			e.TokenShare = &tokenShareLimit{Percent: t.share, Daily: lim}
		}
		p, err := s.apps.Paused(r.Context(), name, "")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		e.Paused = p
		out.Apps = append(out.Apps, e)
	}
	writeJSON(w, http.StatusOK, out)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// pathApp checks the path's app: configured and allowed to the token.
func (s *Server) pathApp(r *http.Request) (string, *Error) {
	app := r.PathValue("app")
	t := tokenOf(r)
	if !t.may(app) {
		return "", forbidden(t, app, "app")
	}
	if _, ok := s.cfg.Apps[app]; !ok {
		return "", &Error{Status: http.StatusNotFound, Code: CodeNotFound, Field: "app", Message: fmt.Sprintf("app %q is not loaded", app)}
	}
	return app, nil
}

// pauseRequest is the optional body of POST /v1/apps/{app}/pause.
type pauseRequest struct {
	// For is how long the pause lasts (a Go duration); default 24h, at most 720h.
	For string `json:"for,omitempty"`
	// Reason is shown in status and the catalog. Default "paused through the API by <token>".
	Reason string `json:"reason,omitempty"`
}

// Pause bounds.
const (
	defaultPause = 24 * time.Hour
	maxPause     = 720 * time.Hour
)

type pauseResponse struct {
	App    string          `json:"app"`
	Paused *appstate.Pause `json:"paused"`
	// Woken counts the app's waiting tasks run at once by resume.
	Woken int `json:"woken,omitempty"`
}

// pause is POST /v1/apps/{app}/pause: the app's tasks wait (deferred, never
// archived) until resume or the pause's end.
func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	app, e := s.pathApp(r)
	if e != nil {
		writeError(w, e)
		return
	}
	var req pauseRequest
	if e := decodeBody(w, r, &req, true); e != nil {
		writeError(w, e)
		return
	}
	d := defaultPause
	if req.For != "" {
		v, err := time.ParseDuration(req.For)
		if err != nil || v <= 0 || v > maxPause {
			writeError(w, invalid("for", "want a duration like \"2h\", more than 0 and at most %s, got %q", maxPause, req.For))
			return
		}
		d = v
	}
	if len(req.Reason) > 500 || strings.ContainsFunc(req.Reason, func(r rune) bool { return r < 0x20 }) {
		writeError(w, invalid("reason", "at most 500 bytes, no control characters"))
		return
	}
	reason := req.Reason
	if reason == "" {
		reason = "paused through the API by token " + tokenOf(r).name
	}
	if err := s.apps.Pause(r.Context(), app, "", reason, s.now(), d); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.apps.Paused(r.Context(), app, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pauseResponse{App: app, Paused: p})
}

// resume is POST /v1/apps/{app}/resume: it lifts the app's pause (one set
// through the API, or by the worker for broken credentials) and runs the
// app's waiting tasks at once instead of at the pause's end.
func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	app, e := s.pathApp(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if err := s.apps.Resume(r.Context(), app, ""); err != nil {
		s.fail(w, r, err)
		return
	}
	woken, err := s.wake(r.Context(), app)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pauseResponse{App: app, Woken: woken})
}

// wakeSettle bounds how long resume waits for the app's running tasks: a
// task that read the pause just before it was lifted defers itself right
// after, and is woken once it has.
const wakeSettle = 2 * time.Second

// wake runs the app's tasks waiting for a retry (deferred by the pause):
// their ids start with "<app>.". While a task of the app is running (it may
// be deferring itself on the pause it read), it looks again, for up to
// wakeSettle.
func (s *Server) wake(ctx context.Context, app string) (int, error) {
	n := 0
	deadline := time.Now().Add(wakeSettle)
	for {
		// Running first: a task not running now has deferred already, so
		// the pass after finds it.
		busy, err := s.running(app)
		if err != nil {
			return n, err
		}
		k, err := s.wakeRetrying(app)
		n += k
		if err != nil || !busy || time.Now().After(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// running reports whether a task of app is running.
func (s *Server) running(app string) (bool, error) {
	busy := false
	err := s.eachTask(app, s.inspector.ListActiveTasks, func(string, *asynq.TaskInfo) bool {
		busy = true
		return false
	})
	return busy, err
}

// wakeRetrying runs the app's tasks in the retry sets now. It lists them
// all first: running a task takes it out of the set, which would shift the
// pages still to list.
func (s *Server) wakeRetrying(app string) (int, error) {
	var retrying [][2]string // queue, task id
	if err := s.eachTask(app, s.inspector.ListRetryTasks, func(q string, t *asynq.TaskInfo) bool {
		retrying = append(retrying, [2]string{q, t.ID})
		return true
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, qt := range retrying {
		if s.inspector.RunTask(qt[0], qt[1]) == nil { // else it left the set meanwhile
			n++
		}
	}
	return n, nil
}

// eachTask calls fn on each of app's tasks (their ids start with "<app>.")
// that list finds in the worker's queues, page by page, while fn returns true.
func (s *Server) eachTask(app string, list func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error), fn func(q string, t *asynq.TaskInfo) bool) error {
	for q := range s.cfg.Worker.Queues {
		for page := 1; ; page++ {
			tasks, err := list(q, asynq.PageSize(500), asynq.Page(page))
			if err != nil {
				if errors.Is(err, asynq.ErrQueueNotFound) {
					break // the queue was never used
				}
				return fmt.Errorf("httpapi: wake %s: %w", app, err)
			}
			for _, t := range tasks {
				if strings.HasPrefix(t.ID, app+".") && !fn(q, t) {
					return nil
				}
			}
			if len(tasks) < 500 {
				break
			}
		}
	}
	return nil
}

// usage is GET /v1/apps/{app}/quota/{recipient}[?tenant=T]: what the
// recipient has used and when its next slot is free.
func (s *Server) usage(w http.ResponseWriter, r *http.Request) {
	app, e := s.pathApp(r)
	if e != nil {
		writeError(w, e)
		return
	}
	rcpt := r.PathValue("recipient")
	if rcpt == "" || rcpt == "*" || len(rcpt) > 256 {
		writeError(w, invalid("recipient", "want a user id"))
		return
	}
	ac := s.cfg.Apps[app]
	tenant := r.URL.Query().Get("tenant")
	if ac.MultiTenant() && tenant == "" {
		writeError(w, invalid("tenant", "required for a multi-tenant app"))
		return
	}
	if !ac.MultiTenant() && tenant != "" {
		writeError(w, invalid("tenant", "app %s has no tenants", app))
		return
	}
	key := ac.Block.NormalizeRecipient(rcpt)
	u, err := s.quota.Usage(r.Context(), app, ac.Block.Company(tenant), key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type win struct {
		Count  int    `json:"count"`
		Window string `json:"window"`
		Margin string `json:"margin"`
		Used   int    `json:"used"`
	}
	type usage struct {
		*ratelimit.Usage
		Windows []win `json:"windows"`
	}
	type out struct {
		App       string `json:"app"`
		Tenant    string `json:"tenant,omitempty"`
		Recipient string `json:"recipient"`
		Key       string `json:"key"`
		Usage     usage  `json:"usage"`
	}
	o := out{App: app, Tenant: tenant, Recipient: rcpt, Key: key, Usage: usage{Usage: u, Windows: []win{}}}
	for _, x := range u.Windows {
		o.Usage.Windows = append(o.Usage.Windows, win{Count: x.Count, Window: x.Window.String(), Margin: x.Margin.String(), Used: x.Used})
	}
	writeJSON(w, http.StatusOK, o)
}
