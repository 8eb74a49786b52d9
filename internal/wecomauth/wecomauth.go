// Package wecomauth runs the slow part of WeCom's authorisation callbacks
// (create_auth, change_auth, reset_permanent_code) as asynq tasks.
//
// Why a task and not a goroutine in the callback handler: WeCom wants the
// callback answered at once (reset_permanent_code within 1000 ms) and never
// sends it again once answered, while exchanging the auth code takes two WeCom
// calls that can fail transiently. Enqueueing is one Redis write, durable
// before the handler answers "success"; the worker then retries with backoff
// while the auth code is valid (10 minutes), survives restarts of either
// process, shows a failure on the dashboard, and the task id (a hash of the
// callback) drops WeCom's repeats of the same callback. A goroutine would lose
// the installation on a crash or a deploy.
//
// The auth code is a credential: the payload holds it sealed with the app's
// tenant key (AES-256-GCM, bound to the app), never in clear.
package wecomauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/config"
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/tenant"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

// TypeAuth is the asynq task type of an authorisation job.
const TypeAuth = "msgd:wecom:auth"

// Task options.
const (
	// MaxRetry bounds the retries of one job: with the worker's backoff (1 s
	// doubling, jittered) they span a few minutes, inside the auth code's 10.
	MaxRetry = 10
	// Timeout bounds one run (two WeCom calls and a Redis write).
	Timeout = time.Minute
	// Retention keeps a finished job, so a repeat of its callback within it is
	// dropped by its task id.
	Retention = time.Hour
)

// payload is the task payload.
type payload struct {
	V          int       `json:"v"`
	App        string    `json:"app"`
	InfoType   string    `json:"info_type"`
	AuthCode   string    `json:"auth_code_sealed,omitempty"`
	AuthCorpID string    `json:"auth_corp_id,omitempty"`
	At         time.Time `json:"at"`
}

// aad binds a sealed auth code to its app.
func aad(app string) []byte { return []byte("msgdispatch wecom auth code\x00" + app) }

// Queue enqueues the AuthJobs of one app; it implements wecom.AuthQueue.
type Queue struct {
	client *asynq.Client
	app    string
	cipher *tenant.Cipher
}

var _ wecom.AuthQueue = (*Queue)(nil)

// NewQueue returns the queue of app's jobs, sealing auth codes with key (the
// app's tenant key).
func NewQueue(client *asynq.Client, app string, key []byte) (*Queue, error) {
	c, err := tenant.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &Queue{client: client, app: app, cipher: c}, nil
}

// TaskID is the asynq task id of job for app: a hash of what identifies the
// callback (its InfoType with its auth code, or with its corp and time for
// change_auth), so that WeCom's repeats of one callback make one task.
func TaskID(app string, job wecom.AuthJob) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", app, job.InfoType, job.AuthCode, job.AuthCorpID)
	if job.AuthCode == "" {
		fmt.Fprintf(h, "\x00%d", job.At.Unix())
	}
	return "wecom-auth:" + app + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// EnqueueAuth enqueues job on the critical queue. A job already enqueued (the
// same callback repeated) is not an error.
func (q *Queue) EnqueueAuth(ctx context.Context, j wecom.AuthJob) error {
	p := payload{V: 1, App: q.app, InfoType: j.InfoType, AuthCorpID: j.AuthCorpID, At: j.At}
	if j.AuthCode != "" {
		sealed, err := q.cipher.Seal([]byte(j.AuthCode), aad(q.app))
		if err != nil {
			return fmt.Errorf("wecomauth: %w", err)
		}
		p.AuthCode = sealed
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("wecomauth: %w", err)
	}
	_, err = q.client.EnqueueContext(ctx, asynq.NewTask(TypeAuth, b), asynq.TaskID(TaskID(q.app, j)),
		asynq.Queue(job.QueueCritical), asynq.MaxRetry(MaxRetry), asynq.Timeout(Timeout), asynq.Retention(Retention))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("wecomauth: enqueue %s for app %s: %w", j.InfoType, q.app, err)
	}
	return nil
}

// Processor is what runs a job: the WeCom client of a multi-tenant app.
type Processor interface {
	ProcessAuth(ctx context.Context, job wecom.AuthJob) error
}

// Handler returns the asynq handler of TypeAuth tasks for the apps of cfg:
// it opens the auth code with the app's tenant key and calls ProcessAuth of
// the app's provider (found with lookup). A permanent failure (an auth code
// used or expired, a malformed payload) ends the task (asynq.SkipRetry, so it
// is archived and visible); anything else is retried.
func Handler(cfg *config.Config, lookup func(app string) (providers.Provider, bool)) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		var p payload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.V != 1 || p.App == "" {
			return fmt.Errorf("wecomauth: undecodable payload: %w", asynq.SkipRetry)
		}
		app, ok := cfg.Apps[p.App]
		prov, ok2 := lookup(p.App)
		if !ok || !ok2 {
			return fmt.Errorf("wecomauth: app %q is not configured on this worker", p.App) // retried: a newer config may know it
		}
		proc, ok := prov.(Processor)
		if !ok || !app.MultiTenant() {
			return fmt.Errorf("wecomauth: app %s is not a multi-tenant wecom app: %w", p.App, asynq.SkipRetry)
		}
		j := wecom.AuthJob{InfoType: p.InfoType, AuthCorpID: p.AuthCorpID, At: p.At}
		if p.AuthCode != "" {
			key, err := tenant.ParseKey(app.TenantKey)
			if err != nil {
				return fmt.Errorf("wecomauth: app %s: tenant_key: %v: %w", p.App, err, asynq.SkipRetry)
			}
			c, err := tenant.NewCipher(key)
			if err != nil {
				return fmt.Errorf("wecomauth: app %s: %v: %w", p.App, err, asynq.SkipRetry)
			}
			code, err := c.Open(p.AuthCode, aad(p.App))
			if err != nil {
				return fmt.Errorf("wecomauth: app %s: auth code: %v: %w", p.App, err, asynq.SkipRetry)
			}
			j.AuthCode = string(code)
		}
		if err := proc.ProcessAuth(ctx, j); err != nil {
			if providers.ClassOf(err) == providers.ClassPermanent {
				return fmt.Errorf("wecomauth: app %s: %s: %w: %w", p.App, p.InfoType, err, asynq.SkipRetry)
			}
			return fmt.Errorf("wecomauth: app %s: %s: %w", p.App, p.InfoType, err)
		}
		return nil
	})
}
