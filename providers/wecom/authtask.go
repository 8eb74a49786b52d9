package wecom

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// The slow part of WeCom's authorisation callbacks (create_auth,
// change_auth, reset_permanent_code) runs as a background task of the
// worker, not in the callback handler: WeCom wants the callback answered at
// once (reset_permanent_code within 1000 ms) and never sends it again once
// answered, while exchanging the auth code takes two WeCom calls that can
// fail transiently. Enqueueing is one durable write before the handler
// answers "success"; the worker then retries with backoff while the auth
// code is valid (10 minutes), survives restarts, shows a failure on the
// dashboard, and the task id (a hash of the callback) drops WeCom's repeats.
//
// The auth code is a credential: the payload holds it sealed with the app's
// tenant key (AES-256-GCM, bound to the app), never in clear.

// TaskAuth is the type of the authorisation task.
const TaskAuth = "msgd:wecom:auth"

// Options of the authorisation task.
const (
	// AuthMaxRetry bounds the retries of one job: with the worker's backoff
	// (1 s doubling, jittered) they span a few minutes, inside the auth
	// code's 10.
	AuthMaxRetry = 10
	// AuthTimeout bounds one run (two WeCom calls and a Redis write).
	AuthTimeout = time.Minute
	// AuthRetention keeps a finished job, so that a repeat of its callback
	// within it is dropped by its task id.
	AuthRetention = time.Hour
)

// authPayload is the task payload.
type authPayload struct {
	V          int       `json:"v"`
	App        string    `json:"app"`
	InfoType   string    `json:"info_type"`
	AuthCode   string    `json:"auth_code_sealed,omitempty"`
	AuthCorpID string    `json:"auth_corp_id,omitempty"`
	At         time.Time `json:"at"`
}

// authAAD binds a sealed auth code to its app.
func authAAD(app string) []byte { return []byte("msgdispatch wecom auth code\x00" + app) }

// AuthTaskID is the task id of job for app: a hash of what identifies the
// callback (its InfoType with its auth code, or with its corp and time for
// change_auth), so that WeCom's repeats of one callback make one task.
func AuthTaskID(app string, job AuthJob) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", app, job.InfoType, job.AuthCode, job.AuthCorpID)
	if job.AuthCode == "" {
		fmt.Fprintf(h, "\x00%d", job.At.Unix())
	}
	return "wecom-auth:" + app + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// taskAuthQueue is the AuthQueue of one app on the core's task queue.
type taskAuthQueue struct {
	tasks  providers.TaskQueue
	app    string
	sealer *providers.Cipher
}

// NewAuthQueue returns the AuthQueue of app on tasks, sealing auth codes
// with key (the app's tenant key).
func NewAuthQueue(tasks providers.TaskQueue, app string, key []byte) (AuthQueue, error) {
	if tasks == nil {
		return nil, fmt.Errorf("wecom: auth queue of app %s: no task queue", app)
	}
	c, err := providers.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("wecom: auth queue of app %s: %w", app, err)
	}
	return &taskAuthQueue{tasks: tasks, app: app, sealer: c}, nil
}

// EnqueueAuth enqueues job. A job already enqueued (the same callback
// repeated) is not an error.
func (q *taskAuthQueue) EnqueueAuth(ctx context.Context, j AuthJob) error {
	p := authPayload{V: 1, App: q.app, InfoType: j.InfoType, AuthCorpID: j.AuthCorpID, At: j.At}
	if j.AuthCode != "" {
		sealed, err := q.sealer.Seal([]byte(j.AuthCode), authAAD(q.app))
		if err != nil {
			return fmt.Errorf("wecom: auth job: %w", err)
		}
		p.AuthCode = sealed
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("wecom: auth job: %w", err)
	}
	opts := providers.TaskOptions{ID: AuthTaskID(q.app, j), MaxRetry: AuthMaxRetry, Timeout: AuthTimeout, Retention: AuthRetention}
	if err := q.tasks.Enqueue(ctx, TaskAuth, b, opts); err != nil {
		return fmt.Errorf("wecom: enqueue %s for app %s: %w", j.InfoType, q.app, err)
	}
	return nil
}

// AuthProcessor runs authorisation jobs: the client of a multi-tenant app.
type AuthProcessor interface {
	// OpenAuthCode opens an auth code sealed into app's task payload.
	OpenAuthCode(app, sealed string) (string, error)
	// ProcessAuth runs the job.
	ProcessAuth(ctx context.Context, job AuthJob) error
}

// OpenAuthCode opens an auth code sealed with the app's tenant key.
func (c *Client) OpenAuthCode(app, sealed string) (string, error) {
	if c.sealer == nil || !c.cfg.MultiTenant() {
		return "", fmt.Errorf("wecom: app %s has no tenant key", app)
	}
	b, err := c.sealer.Open(sealed, authAAD(app))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func permanent(op, format string, args ...any) error {
	return &providers.Error{Provider: ProviderName, Op: op, Class: providers.ClassPermanent, Message: fmt.Sprintf(format, args...)}
}

// runAuthTask is the TaskHandler of TaskAuth: it opens the auth code with
// the app's tenant key and calls ProcessAuth of the app's client. A
// permanent failure (an auth code used or expired, a malformed payload) ends
// the task; anything else is retried.
func runAuthTask(ctx context.Context, payload []byte, lookup func(app string) (providers.Provider, bool)) error {
	var p authPayload
	if err := json.Unmarshal(payload, &p); err != nil || p.V != 1 || p.App == "" {
		return permanent(opProcessAuth, "undecodable auth task payload")
	}
	prov, ok := lookup(p.App)
	if !ok {
		return fmt.Errorf("wecom: auth task: app %q is not configured on this worker", p.App) // retried: a newer config may know it
	}
	c, ok := prov.(AuthProcessor)
	if !ok {
		return permanent(opProcessAuth, "app %s is not a multi-tenant wecom app", p.App)
	}
	j := AuthJob{InfoType: p.InfoType, AuthCorpID: p.AuthCorpID, At: p.At}
	if p.AuthCode != "" {
		code, err := c.OpenAuthCode(p.App, p.AuthCode)
		if err != nil {
			return permanent(opProcessAuth, "app %s: auth code: %v", p.App, err)
		}
		j.AuthCode = code
	}
	if err := c.ProcessAuth(ctx, j); err != nil {
		return fmt.Errorf("wecom: app %s: %s: %w", p.App, p.InfoType, err)
	}
	return nil
}
