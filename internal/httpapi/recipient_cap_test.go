package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// userList returns n quoted user ids, comma-separated, for a JSON array.
func userList(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"u%d"`, i)
	}
	return strings.Join(ids, ",")
}

// TestRecipientCap: POST /v1/messages naming more targets than the app's
// limits.max_recipients (here the default, 10000, and a configured 3) is 400
// on "to", naming the count and the limit, and writes nothing to Redis.
func TestRecipientCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc, limits, to, want string
	}{
		{desc: "default cap", limits: "limits: {daily: 0}", to: `{"users":[` + userList(10001) + `]}`, want: "names 10001 recipients, more than limits.max_recipients (10000)"},
		{desc: "configured cap, groups counted", limits: "limits: {max_recipients: 3}", to: `{"users":["zhangsan","lisi"],"depts":["1"],"tags":["2"]}`, want: "names 4 recipients, more than limits.max_recipients (3)"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(o *setupOpts) { o.noWorker = true; o.hrLimits = tc.limits })
			before := b.keys()
			r := b.do(http.MethodPost, "/v1/messages", tokenAll, `{"app":"hr","to":`+tc.to+`,"kind":"text","text":"hi"}`)
			if r.status != http.StatusBadRequest || r.errField() != "to" {
				t.Fatalf("HTTP %d field %q, want 400 naming to: %s", r.status, r.errField(), trim(r.raw))
			}
			if msg, _ := r.json["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("message %q, want it to say %q", msg, tc.want)
			}
			if after := b.keys(); !slices.Equal(before, after) {
				t.Errorf("Redis changed: %v → %v", before, after)
			}
		})
	}
}
