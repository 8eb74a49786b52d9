package producer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

// The default expires_at counts from not_before; a not_before further ahead
// than worker.retention is refused on "not_before", one after an explicit
// expires_at on "expires_at", and nothing is written.
func TestSendScheduleLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	at := now.Add(48 * time.Hour).Truncate(time.Second)
	id, err := b.client.Send(b.ctx, textTo("later", "u1"), NotBefore(at))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := b.client.records.Get(b.ctx, "hr", id)
	if err != nil {
		t.Fatal(err)
	}
	if want := at.Add(b.client.cfg.Worker.MessageTTL); !rec.Job.ExpiresAt.Equal(want) {
		t.Errorf("expires_at %s, want not_before + message_ttl = %s", rec.Job.ExpiresAt, want)
	}
	tasks := b.tasks(t)
	tests := []struct {
		desc  string
		opts  []SendOption
		field string
		want  string
	}{
		{desc: "far future", opts: []SendOption{NotBefore(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))}, field: "not_before", want: "worker.retention"},
		{desc: "just past the horizon", opts: []SendOption{NotBefore(now.Add(b.client.cfg.Worker.Retention + time.Minute))}, field: "not_before", want: "worker.retention"},
		{desc: "after expires_at", opts: []SendOption{NotBefore(now.Add(2 * time.Hour)), ExpiresAt(now.Add(time.Hour))}, field: "expires_at", want: "not_before"},
	}
	for _, tc := range tests {
		_, err := b.client.Send(b.ctx, textTo("x", "u1"), tc.opts...)
		var ve *providers.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a validation error on %s naming %s", tc.desc, err, tc.field, tc.want)
		}
	}
	if n := b.tasks(t); n != tasks {
		t.Errorf("%d tasks after refused sends, want %d", n, tasks)
	}
}
