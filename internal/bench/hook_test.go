package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// IsAsynqCmd classifies a command as asynq's by the keys KeysOf names.
func TestIsAsynqCmd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		desc string
		cmd  redis.Cmder
		want bool
	}{
		{"script of asynq keys", redis.NewCmd(ctx, "evalsha", "abc", 2, "asynq:{default}:pending", "asynq:{default}:active", "x"), true},
		{"script with one key of ours", redis.NewCmd(ctx, "evalsha", "abc", 2, "asynq:{default}:pending", "msgd:{a}:rec:1", "asynq:x"), false},
		{"script without keys", redis.NewCmd(ctx, "eval", "return 1", 0, "asynq:x"), false},
		{"script missing its keys", redis.NewCmd(ctx, "evalsha", "abc", 2), false},
		{"asynq's key", redis.NewCmd(ctx, "hset", "asynq:{default}:t:1", "state", "done"), true},
		{"our key", redis.NewCmd(ctx, "hset", "msgd:{a}:rec:1", "v", 1), false},
		{"MULTI frame", redis.NewCmd(ctx, "multi"), true},
		{"EXEC frame", redis.NewCmd(ctx, "exec"), true},
		{"no key", redis.NewCmd(ctx, "ping"), false},
		{"upper-case name", redis.NewCmd(ctx, "HSET", "asynq:x", "f", "v"), true},
	}
	for _, tc := range tests {
		if got := IsAsynqCmd(tc.cmd); got != tc.want {
			t.Errorf("%s: IsAsynqCmd = %v, want %v", tc.desc, got, tc.want)
		}
		keys := KeysOf(tc.cmd)
		viaKeys := len(keys) > 0
		for _, k := range keys {
			viaKeys = viaKeys && strings.HasPrefix(k, "asynq:")
		}
		if name := tc.cmd.Name(); name != "multi" && name != "exec" && viaKeys != tc.want {
			t.Errorf("%s: KeysOf %q disagrees with IsAsynqCmd", tc.desc, keys)
		}
	}
}
