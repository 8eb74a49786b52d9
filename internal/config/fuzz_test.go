package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fuzzEnvSecret is the value every ${NAME} expands to in FuzzParse.
const fuzzEnvSecret = "env-s3cret-DO-NOT-PRINT"

// FuzzParse feeds Parse arbitrary documents whose ${NAME} references all
// expand to a secret. Invariants: nothing panics; Parse is deterministic; a
// refusal is a *Error or a YAML syntax error and never holds the expanded secret
// unless the document itself does.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"apps:\n  hr:\n    provider: wecom\n    wecom: {base_url: https://qyapi.weixin.qq.com, corp_id: ww1, agent_id: 1000002, secret: \"${S}\"}\n",
		"apps:\n  a:\n    provider: xiezuo\n    xiezuo: {app_key: AK, app_secret: \"${S}\"}\n",
		"apps:\n  a:\n    provider: wps365\n    wps365: {app_id: AK, app_secret: \"${S}\", company_id: c}\n",
		"apps:\n  a:\n    provider: wecom\n    wecom: {mode: third_party, suite_id: s, suite_secret: \"${S}\", callback_token: \"${S}\", encoding_aes_key: \"${S}\"}\n",
		"redis: {addr: \"${S}\"}\n",
		"redis: {url: \"redis://:${S}@127.0.0.1:1/0\"}\n",
		"worker: {concurrency: \"${S}\"}\n",
		"apps:\n  a:\n    provider: wecom\n    wecom: {agent_id: \"${S}\"}\n",
		"api:\n  tokens:\n    - {token: \"${S}\", apps: [a]}\n",
		"apps: " + strings.Repeat("[", 5000),
		"apps:\n  \"\\x00\\xff\": {provider: wecom}\n",
		"unknown: 1\n",
		"a: &a [*a]\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	getenv := func(string) (string, bool) { return fuzzEnvSecret, true }
	f.Fuzz(func(t *testing.T, data []byte) {
		c1, err1 := Parse(data, getenv)
		_, err2 := Parse(data, getenv)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) {
			t.Fatalf("verdicts differ: %v / %v", err1, err2)
		}
		if err1 == nil {
			if c1 == nil {
				t.Fatal("nil config without an error")
			}
			return
		}
		var ce *Error
		if !errors.As(err1, &ce) && !strings.HasPrefix(err1.Error(), "yaml: ") {
			t.Fatalf("refusal %T %q is neither a *config.Error nor a YAML syntax error", err1, err1)
		}
		if strings.Contains(err1.Error(), fuzzEnvSecret) && !bytes.Contains(data, []byte(fuzzEnvSecret)) {
			t.Fatalf("refusal holds the expanded secret: %v", err1)
		}
	})
}
