package wecom_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/msgdispatch/msgdispatch/internal/catalog"
	"github.com/msgdispatch/msgdispatch/internal/redistest"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
)

const (
	hexKey   = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	authCode = "auth-c0de-NEVER-IN-CLEAR"
)

// fakeProvider is a multi-tenant provider that records the jobs it processes.
type fakeProvider struct {
	providers.Provider
	sealer *providers.Cipher
	mu     sync.Mutex
	jobs   []wecom.AuthJob
	err    error
}

func (p *fakeProvider) OpenAuthCode(app, sealed string) (string, error) {
	b, err := p.sealer.Open(sealed, []byte("msgdispatch wecom auth code\x00"+app))
	return string(b), err
}

func (p *fakeProvider) ProcessAuth(ctx context.Context, j wecom.AuthJob) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.jobs = append(p.jobs, j)
	return p.err
}

type authBundle struct {
	ctx       context.Context
	queue     wecom.AuthQueue
	inspector *asynq.Inspector
	handler   asynq.Handler
	prov      *fakeProvider
}

func setupAuth(t *testing.T) *authBundle {
	t.Helper()
	rdb := redistest.Start(t).Client()
	key, err := providers.ParseKey(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	q, err := wecom.NewAuthQueue(catalog.TaskQueue(asynq.NewClientFromRedisClient(rdb)), "crm", key)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := providers.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	prov := &fakeProvider{sealer: sealer}
	return &authBundle{
		ctx: context.Background(), queue: q, inspector: asynq.NewInspectorFromRedisClient(rdb), prov: prov,
		handler: catalog.Handlers(func(app string) (providers.Provider, bool) { return prov, app == "crm" })[wecom.TaskAuth],
	}
}

func (b *authBundle) pending(t *testing.T) []*asynq.TaskInfo {
	t.Helper()
	tasks, err := b.inspector.ListPendingTasks("critical")
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

// A callback repeated by WeCom makes one task, whose payload holds the auth
// code sealed; the worker's handler opens it and runs the job.
func TestAuthEnqueueOnceAndProcess(t *testing.T) {
	t.Parallel()
	b := setupAuth(t)
	job := wecom.AuthJob{InfoType: wecom.InfoCreateAuth, AuthCode: authCode, At: time.Unix(1767225600, 0)}
	for range 3 {
		if err := b.queue.EnqueueAuth(b.ctx, job); err != nil {
			t.Fatal(err)
		}
	}
	tasks := b.pending(t)
	if len(tasks) != 1 {
		t.Fatalf("%d tasks, want 1", len(tasks))
	}
	task := tasks[0]
	if task.ID != wecom.AuthTaskID("crm", job) || task.Type != wecom.TaskAuth || task.MaxRetry != wecom.AuthMaxRetry {
		t.Errorf("task %+v", task)
	}
	if strings.Contains(string(task.Payload), authCode) || strings.Contains(string(task.Payload), "NEVER") {
		t.Errorf("payload holds the auth code in clear: %s", task.Payload)
	}
	if err := b.handler.ProcessTask(b.ctx, asynq.NewTask(task.Type, task.Payload)); err != nil {
		t.Fatal(err)
	}
	if len(b.prov.jobs) != 1 || b.prov.jobs[0].AuthCode != authCode || b.prov.jobs[0].InfoType != job.InfoType || !b.prov.jobs[0].At.Equal(job.At) {
		t.Errorf("processed %v, want %v", b.prov.jobs, job)
	}
	other := wecom.AuthJob{InfoType: wecom.InfoChangeAuth, AuthCorpID: "wpT", At: time.Unix(1767225600, 0)}
	if err := b.queue.EnqueueAuth(b.ctx, other); err != nil {
		t.Fatal(err)
	}
	if n := len(b.pending(t)); n != 2 {
		t.Errorf("%d tasks after another callback, want 2", n)
	}
}

// Permanent failures end the task (archived, visible); others are retried.
func TestAuthTaskFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		err      error
		payload  func(b *authBundle) []byte
		wantSkip bool
	}{
		{desc: "auth code used", err: &providers.Error{Class: providers.ClassPermanent, Code: 40078}, wantSkip: true},
		{desc: "WeCom busy", err: &providers.Error{Class: providers.ClassRetryable, Code: -1}, wantSkip: false},
		{desc: "undecodable payload", payload: func(*authBundle) []byte { return []byte("{") }, wantSkip: true},
		{desc: "sealed with another key", payload: func(*authBundle) []byte {
			return []byte(`{"v":1,"app":"crm","info_type":"create_auth","auth_code_sealed":"v1.deadbeef.AAAA"}`)
		}, wantSkip: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setupAuth(t)
			b.prov.err = tt.err
			var payload []byte
			if tt.payload != nil {
				payload = tt.payload(b)
			} else {
				if err := b.queue.EnqueueAuth(b.ctx, wecom.AuthJob{InfoType: wecom.InfoCreateAuth, AuthCode: authCode}); err != nil {
					t.Fatal(err)
				}
				payload = b.pending(t)[0].Payload
			}
			err := b.handler.ProcessTask(b.ctx, asynq.NewTask(wecom.TaskAuth, payload))
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, asynq.SkipRetry); got != tt.wantSkip {
				t.Errorf("error %v: SkipRetry %v, want %v", err, got, tt.wantSkip)
			}
			if strings.Contains(err.Error(), authCode) {
				t.Errorf("error shows the auth code: %v", err)
			}
		})
	}
}
