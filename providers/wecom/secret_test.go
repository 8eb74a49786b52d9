package wecom

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigNeverPrintsTheSecret(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "http://sim", CorpID: testCorpID, AgentID: testAgentID, Secret: testSecret}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "wecom", cfg)
	for _, tt := range []struct {
		desc string
		text string
	}{
		{desc: "%v", text: fmt.Sprintf("%v", cfg)},
		{desc: "%+v", text: fmt.Sprintf("%+v", cfg)},
		{desc: "%#v", text: fmt.Sprintf("%#v", cfg)},
		{desc: "%s of a pointer", text: fmt.Sprintf("%s", &cfg)},
		{desc: "slog", text: logged.String()},
	} {
		if strings.Contains(tt.text, testSecret) || !strings.Contains(tt.text, testCorpID) {
			t.Errorf("%s: %s", tt.desc, tt.text)
		}
	}
}
