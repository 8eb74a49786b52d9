package wecom_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/providers/wecom"
	"github.com/msgdispatch/msgdispatch/providers/wecom/wecomsim"
)

const (
	simCorp   = "ww-sim"
	simAgent  = 1000002
	simSecret = "sim-secret"
)

// memTokens is a providers.TokenStore in memory.
type memTokens struct {
	mu     sync.Mutex
	tokens map[string]string
}

func (m *memTokens) Token(ctx context.Context, key string, fetch providers.FetchFunc) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tok, ok := m.tokens[key]; ok {
		return tok, nil
	}
	tok, _, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	if m.tokens == nil {
		m.tokens = map[string]string{}
	}
	m.tokens[key] = tok
	return tok, nil
}

func (m *memTokens) Invalidate(ctx context.Context, key, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[key] == token {
		delete(m.tokens, key)
	}
	return nil
}

// simBundle is a wecomsim on a real listener with one app and users, and a
// client of that app.
type simBundle struct {
	sim    *wecomsim.Sim
	client *wecom.Client
	users  []string
}

// startSim starts a simulator whose corp has users u0…u<n-1>.
func startSim(t *testing.T, n int) *simBundle {
	t.Helper()
	sim := wecomsim.New(wecomsim.Options{Seed: 7})
	if err := sim.AddApp(wecomsim.App{CorpID: simCorp, AgentID: simAgent, Secret: simSecret}); err != nil {
		t.Fatal(err)
	}
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("u%d", i)
	}
	sim.AddUsers(simCorp, users...)
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	client := wecom.New(wecom.Config{BaseURL: base, CorpID: simCorp, AgentID: simAgent, Secret: simSecret},
		&memTokens{}, nil)
	return &simBundle{sim: sim, client: client, users: users}
}

// sendAll prepares msg and sends every part, failing on any error.
func (b *simBundle) sendAll(t *testing.T, msg *providers.Message, messageID string) ([]providers.Part, []*providers.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	parts, err := b.client.Prepare(ctx, msg, providers.PrepareOptions{MessageID: messageID})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	var results []*providers.Result
	for i := range parts {
		res, err := b.client.Send(ctx, &parts[i])
		if err != nil {
			t.Fatalf("Send part %d: %v", i, err)
		}
		results = append(results, res)
	}
	return parts, results
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withoutTaskID removes task_id from a card.
func withoutTaskID(t *testing.T, card []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(card, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "task_id")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Template cards of all five types go through Prepare and Send to a real
// wecomsim, which validates them the way WeCom does, accepts them, delivers
// them and shows the card; interaction cards get a response_code.
func TestTemplateCardsThroughSim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc             string
		card             []byte
		wantTaskID       string
		wantResponseCode bool
	}{
		{desc: "text_notice", card: readFixture(t, "card_text_notice.json")},
		{desc: "news_notice", card: readFixture(t, "card_news_notice.json")},
		{desc: "button_interaction", card: readFixture(t, "card_button_interaction.json"), wantTaskID: "task_id_0001", wantResponseCode: true},
		{desc: "button_interaction with a generated task_id", card: withoutTaskID(t, readFixture(t, "card_button_interaction.json")), wantTaskID: "md_msg-7_g0_p0", wantResponseCode: true},
		{desc: "vote_interaction", card: readFixture(t, "card_vote_interaction.json"), wantTaskID: "task_id_vote_0001", wantResponseCode: true},
		{desc: "multiple_interaction with a generated task_id", card: withoutTaskID(t, readFixture(t, "card_multiple_interaction.json")), wantTaskID: "md_msg-7_g0_p0", wantResponseCode: true},
		{desc: "multiple_interaction", card: readFixture(t, "card_multiple_interaction.json"), wantTaskID: "task_id_multiple_0001", wantResponseCode: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := startSim(t, 2)
			msg := &providers.Message{App: "app", To: providers.Recipients{Users: b.users}, Kind: providers.KindCard, Body: tt.card}
			if err := wecom.Validate(msg); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			parts, results := b.sendAll(t, msg, "msg-7")
			if len(parts) != 1 {
				t.Fatalf("%d parts", len(parts))
			}
			res := results[0]
			if res.ProviderMessageID == "" || (wecom.ResponseCodeOf(res) != "") != tt.wantResponseCode {
				t.Fatalf("result %+v, want a msgid and a response_code: %v", res, tt.wantResponseCode)
			}
			m, ok := b.sim.Message(res.ProviderMessageID)
			if !ok {
				t.Fatalf("the simulator has no message %s", res.ProviderMessageID)
			}
			if m.MsgType != "template_card" || m.TaskID != tt.wantTaskID || m.ResponseCode != wecom.ResponseCodeOf(res) || string(m.Body) != string(parts[0].Body) {
				t.Errorf("simulator shows %+v", m)
			}
			if m.Content != "欢迎使用企业微信" {
				t.Errorf("content %q, want the card's main_title", m.Content)
			}
			for _, u := range b.users {
				ds := b.sim.Deliveries(u)
				if len(ds) != 1 || ds[0].MsgID != res.ProviderMessageID {
					t.Errorf("%s received %+v", u, ds)
				}
			}
		})
	}
}

// A card to more than 1000 users is sent in several parts, each with its own
// task_id: the simulator, like WeCom, refuses a task_id its app used before,
// and accepts every part.
func TestMultiPartCardThroughSim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc        string
		card        []byte
		wantTaskIDs []string
	}{
		{desc: "generated task_ids", card: withoutTaskID(t, readFixture(t, "card_vote_interaction.json")),
			wantTaskIDs: []string{"md_blast-1_g0_p0", "md_blast-1_g0_p1", "md_blast-1_g0_p2"}},
		{desc: "the caller's task_id suffixed per part", card: readFixture(t, "card_button_interaction.json"),
			wantTaskIDs: []string{"task_id_0001_p0", "task_id_0001_p1", "task_id_0001_p2"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := startSim(t, 2*wecom.MaxUsersPerPart+5)
			msg := &providers.Message{App: "app", To: providers.Recipients{Users: b.users}, Kind: providers.KindCard, Body: tt.card}
			parts, results := b.sendAll(t, msg, "blast-1")
			if len(parts) != len(tt.wantTaskIDs) {
				t.Fatalf("%d parts, want %d", len(parts), len(tt.wantTaskIDs))
			}
			for i, res := range results {
				m, _ := b.sim.Message(res.ProviderMessageID)
				if m.TaskID != tt.wantTaskIDs[i] {
					t.Errorf("part %d task_id %q, want %q", i, m.TaskID, tt.wantTaskIDs[i])
				}
				if wecom.ResponseCodeOf(res) == "" {
					t.Errorf("part %d has no response_code", i)
				}
			}
			if n := b.sim.DeliveryCount(); n != len(b.users) {
				t.Errorf("%d deliveries, want %d", n, len(b.users))
			}
			// Sending part 0's card again under another body is refused: its
			// task_id is used.
			again := parts[0]
			again.Body = append([]byte(nil), parts[0].Body...)
			again.Body = append(again.Body[:len(again.Body)-1], []byte(`,"enable_id_trans":0}`)...)
			_, err := b.client.Send(context.Background(), &again)
			if pe := (*providers.Error)(nil); !errors.As(err, &pe) || pe.Code != wecomsim.CodeInvalidTaskID {
				t.Errorf("resending a used task_id: %v, want errcode %d", err, wecomsim.CodeInvalidTaskID)
			}
		})
	}
}

// A card that slipped past validation (sent as raw, which checks only the
// card_type) is refused by the simulator with WeCom's errcode for the field,
// as a permanent failure; the same card as kind card never leaves.
func TestInvalidRawCardRefusedBySim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		card      string
		wantField string // Validate's field for the card as kind card; "" when valid
		wantCode  int
	}{
		{desc: "interaction card without task_id (kind card generates one)", wantCode: wecomsim.CodeInvalidTaskID,
			card: `{"card_type":"vote_interaction","main_title":{"title":"t"},"checkbox":{"question_key":"q","option_list":[{"id":"a","text":"A"}]},"submit_button":{"text":"t","key":"k"}}`},
		{desc: "button keys repeated", wantField: "body.button_list[1].key", wantCode: wecomsim.CodeInvalidButtonKey,
			card: `{"card_type":"button_interaction","task_id":"t1","main_title":{"title":"t"},"button_list":[{"text":"a","key":"k"},{"text":"b","key":"k"}]}`},
		{desc: "action_menu keys conflict", wantField: "body.action_menu.action_list[1].key", wantCode: wecomsim.CodeCardActionKeyConflict,
			card: `{"card_type":"text_notice","task_id":"t1","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://x"},"action_menu":{"action_list":[{"text":"a","key":"k"},{"text":"b","key":"k"}]}}`},
		{desc: "text_notice without card_action", wantField: "body.card_action", wantCode: wecomsim.CodeCardAction,
			card: `{"card_type":"text_notice","main_title":{"title":"t"}}`},
		{desc: "news_notice without an image", wantField: "body.card_image", wantCode: wecomsim.CodeCardImage,
			card: `{"card_type":"news_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://x"}}`},
		{desc: "seven horizontal items", wantField: "body.horizontal_content_list", wantCode: wecomsim.CodeCardHorizontalListLength,
			card: `{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://x"},"horizontal_content_list":[` +
				`{"keyname":"1"},{"keyname":"2"},{"keyname":"3"},{"keyname":"4"},{"keyname":"5"},{"keyname":"6"},{"keyname":"7"}]}`},
		{desc: "multiple_interaction of four selects", wantField: "body.select_list", wantCode: wecomsim.CodeCardSelectListLength,
			card: `{"card_type":"multiple_interaction","task_id":"t1","main_title":{"title":"t"},"submit_button":{"text":"t","key":"k"},"select_list":[` +
				`{"question_key":"1","option_list":[{"id":"a","text":"A"}]},{"question_key":"2","option_list":[{"id":"a","text":"A"}]},` +
				`{"question_key":"3","option_list":[{"id":"a","text":"A"}]},{"question_key":"4","option_list":[{"id":"a","text":"A"}]}]}`},
		{desc: "vote without submit_button key", wantField: "body.submit_button.key", wantCode: wecomsim.CodeCardSubmitKey,
			card: `{"card_type":"vote_interaction","task_id":"t1","main_title":{"title":"t"},"checkbox":{"question_key":"q","option_list":[{"id":"a","text":"A"}]},"submit_button":{"text":"t"}}`},
		{desc: "option ids repeated", wantField: "body.checkbox.option_list[1].id", wantCode: wecomsim.CodeCardOptionID,
			card: `{"card_type":"vote_interaction","task_id":"t1","main_title":{"title":"t"},"checkbox":{"question_key":"q","option_list":[{"id":"a","text":"A"},{"id":"a","text":"B"}]},"submit_button":{"text":"t","key":"k"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := startSim(t, 1)
			to := providers.Recipients{Users: b.users}
			typed := &providers.Message{App: "app", To: to, Kind: providers.KindCard, Body: json.RawMessage(tt.card)}
			var ve *providers.ValidationError
			switch err := wecom.Validate(typed); {
			case tt.wantField == "" && err != nil:
				t.Errorf("Validate as kind card: %v", err)
			case tt.wantField != "" && (!errors.As(err, &ve) || ve.Field != tt.wantField):
				t.Errorf("Validate as kind card: %v, want an error on %s", err, tt.wantField)
			}
			raw := &providers.Message{App: "app", To: to, Kind: providers.KindRaw,
				Body: json.RawMessage(`{"msgtype":"template_card","template_card":` + tt.card + `}`)}
			parts, err := b.client.Prepare(context.Background(), raw, providers.PrepareOptions{MessageID: "m"})
			if err != nil {
				t.Fatalf("Prepare as raw: %v", err)
			}
			res, err := b.client.Send(context.Background(), &parts[0])
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Code != tt.wantCode || pe.Class != providers.ClassPermanent || res != nil {
				t.Fatalf("Send: %v (result %+v), want a permanent errcode %d", err, res, tt.wantCode)
			}
			if n := b.sim.DeliveryCount(); n != 0 {
				t.Errorf("%d deliveries", n)
			}
		})
	}
}

// The other typed kinds go through Prepare and Send to the simulator too.
func TestTypedKindsThroughSim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc        string
		content     wecom.Content
		wantContent string
	}{
		{desc: "image", content: wecom.Image{MediaID: "MEDIA_ID"}, wantContent: "MEDIA_ID"},
		{desc: "voice", content: wecom.Voice{MediaID: "VOICE_ID"}, wantContent: "VOICE_ID"},
		{desc: "file", content: wecom.File{MediaID: "FILE_ID"}, wantContent: "FILE_ID"},
		{desc: "video", content: wecom.Video{MediaID: "VIDEO_ID", Title: "季度总结", Description: "<b>Q3</b>"}, wantContent: "季度总结"},
		{desc: "textcard", content: wecom.TextCard{Title: "领奖通知", Description: `<div class="gray">2016年9月26日</div>`, URL: "https://x/?a=1&b=2", BtnTxt: "更多"}, wantContent: "领奖通知\n<div class=\"gray\">2016年9月26日</div>"},
		{desc: "news", content: wecom.News{Articles: []wecom.NewsArticle{{Title: "中秋节礼品领取", URL: "https://work.weixin.qq.com"}, {Title: "小程序", AppID: "wx1", PagePath: "pages/index"}}}, wantContent: "中秋节礼品领取"},
		{desc: "mpnews", content: wecom.MPNews{Articles: []wecom.MPNewsArticle{{Title: "公告", ThumbMediaID: "THUMB", Author: "HR", Content: "<p>内容 & 说明</p>"}}}, wantContent: "公告"},
		{desc: "miniprogram_notice", content: wecom.MiniprogramNotice{AppID: "wx1", Title: "会议室预订成功通知", ContentItem: []wecom.MiniprogramItem{{Key: "会议室", Value: "402"}}}, wantContent: "会议室预订成功通知"},
		{desc: "markdown", content: wecom.Markdown{Content: "**加粗** <font color=\"info\">绿色</font>"}, wantContent: "**加粗** <font color=\"info\">绿色</font>"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b := startSim(t, 1)
			msg, err := wecom.NewMessage("app", providers.Recipients{Users: b.users}, tt.content)
			if err != nil {
				t.Fatal(err)
			}
			if err := wecom.Validate(&msg); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			_, results := b.sendAll(t, &msg, "m")
			m, ok := b.sim.Message(results[0].ProviderMessageID)
			if !ok || m.MsgType != string(tt.content.Kind()) {
				t.Fatalf("simulator shows %+v", m)
			}
			if m.Content != tt.wantContent {
				t.Errorf("content %q, want %q", m.Content, tt.wantContent)
			}
		})
	}
}
