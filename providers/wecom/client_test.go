package wecom

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
)

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc         string
		cfg          Config
		wantBase     string
		wantInterval time.Duration
	}{
		{desc: "zero values", cfg: Config{}, wantBase: DefaultBaseURL, wantInterval: 4 * time.Hour},
		{desc: "interval above the maximum", cfg: Config{DuplicateCheckInterval: 5 * time.Hour}, wantBase: DefaultBaseURL, wantInterval: 4 * time.Hour},
		{desc: "negative interval", cfg: Config{DuplicateCheckInterval: -time.Second}, wantBase: DefaultBaseURL, wantInterval: 4 * time.Hour},
		{desc: "sub-second interval", cfg: Config{DuplicateCheckInterval: time.Millisecond}, wantBase: DefaultBaseURL, wantInterval: time.Second},
		{desc: "set values kept", cfg: Config{BaseURL: "http://sim:8080/", DuplicateCheckInterval: 30 * time.Minute}, wantBase: "http://sim:8080", wantInterval: 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			c := New(tt.cfg, newFakeTokenStore(), nil)
			if c.cfg.BaseURL != tt.wantBase || c.cfg.DuplicateCheckInterval != tt.wantInterval {
				t.Errorf("base %q interval %v, want %q %v", c.cfg.BaseURL, c.cfg.DuplicateCheckInterval, tt.wantBase, tt.wantInterval)
			}
			if c.hc == nil || c.hc.Timeout != DefaultHTTPTimeout {
				t.Errorf("default http client %+v", c.hc)
			}
			if got := c.Capabilities().DedupeWindow; got != tt.wantInterval {
				t.Errorf("DedupeWindow %v, want %v", got, tt.wantInterval)
			}
		})
	}
}

func TestNameAndCapabilities(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if b.client.Name() != "wecom" {
		t.Errorf("Name() = %q", b.client.Name())
	}
	want := providers.Capabilities{
		Update: true, Recall: true, UpdatableKinds: []providers.Kind{providers.KindCard}, UpdateOnlyKinds: []providers.Kind{KindButton}, MaxUsersPerPart: 1000, MaxGroupsPerPart: 100,
		DedupeWindow: 30 * time.Minute, RecallWindow: 24 * time.Hour,
	}
	if got := b.client.Capabilities(); !reflect.DeepEqual(got, want) {
		t.Errorf("Capabilities() = %+v, want %+v", got, want)
	}
}

func TestUpdateCardWithoutCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, uerr := b.client.UpdateCard(context.Background(), &CardUpdate{Kind: KindButton, Text: "x"})
	var ve *providers.ValidationError
	if !errors.As(uerr, &ve) || ve.Field != "response_code" {
		t.Errorf("update without a response_code: %v, want a validation error on response_code", uerr)
	}
	if n := len(b.got(pathSend)) + len(b.got(pathGettoken)); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// Recall posts the fixture's body and classifies 42052 as permanent.
func TestRecall(t *testing.T) {
	t.Parallel()
	const msgid = "vcT8gGc-7dFb4bxT35ONjBDz901sLlXPZw1DAMC_Gc26qRpK-AK5sTJkkb0128t"
	tests := []struct {
		desc      string
		responses []string
		wantClass providers.Class // ClassUnknown: no error
		wantCode  int
		wantPosts int
	}{
		{desc: "recalled", responses: []string{"recall_response.json"}, wantPosts: 1},
		{desc: "msgid expired", responses: []string{"recall_response_42052.json"}, wantClass: providers.ClassPermanent, wantCode: 42052, wantPosts: 1},
		{desc: "token expired, then recalled", responses: []string{"", "recall_response.json"}, wantPosts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.handle(pathRecall, func(n int, w http.ResponseWriter, r *http.Request) {
				if name := tt.responses[n-1]; name != "" {
					w.Write(fixture(t, name))
					return
				}
				io.WriteString(w, `{"errcode":42001,"errmsg":"access_token expired"}`)
			})
			err := b.client.Recall(context.Background(), &providers.RecallRequest{ProviderMessageID: msgid})
			if tt.wantClass == providers.ClassUnknown {
				if err != nil {
					t.Fatalf("Recall: %v", err)
				}
			} else if pe := providerError(t, err); pe.Class != tt.wantClass || pe.Code != tt.wantCode || pe.Op != "message/recall" {
				t.Errorf("error %+v, want %v code %d", pe, tt.wantClass, tt.wantCode)
			}
			posts := b.got(pathRecall)
			if len(posts) != tt.wantPosts {
				t.Fatalf("%d posts, want %d", len(posts), tt.wantPosts)
			}
			for _, p := range posts {
				assertSameJSON(t, p.body, fixture(t, "recall_request.json"))
				if p.header.Get("Content-Type") != "application/json" || p.method != http.MethodPost {
					t.Errorf("request %s %q", p.method, p.header.Get("Content-Type"))
				}
			}
		})
	}
}

func TestRecallWithoutMsgID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	assertField(t, b.client.Recall(context.Background(), &providers.RecallRequest{}), "provider_message_id")
	assertField(t, b.client.Recall(context.Background(), nil), "provider_message_id")
	if n := len(b.got(pathRecall)); n != 0 {
		t.Errorf("%d posts, want none", n)
	}
}
