// Package wecomsim simulates WeCom's (企业微信) HTTP API for self-built apps:
// /cgi-bin/gettoken, /cgi-bin/message/send and /cgi-bin/message/recall, and for
// third-party and 代开发 apps (suites, see [Suite]): the service/ endpoints, tenant
// installations and the signed, encrypted callbacks WeCom sends. It is a
// model of WeCom's documented behaviour — token lifetime and expiry, request
// validation and its error codes, per-member limits that silently drop messages
// while answering errcode 0, the duplicate check, recall — for end-to-end tests,
// `dispatcher dev` and benchmarks, with fault injection (latency, error codes,
// HTTP failures, lost responses, outages) and an inspection API (Go methods and
// JSON under /sim/) showing what every member received, what was dropped and
// every request.
//
// A typical test:
//
//	clk := wecomsim.NewManualClock(time.Date(2025, 1, 6, 10, 0, 5, 0, time.UTC))
//	sim := wecomsim.New(wecomsim.Options{Clock: clk.Now})
//	_ = sim.AddApp(wecomsim.App{CorpID: "ww1", AgentID: 1000002, Secret: "s3cret"})
//	sim.AddUsers("ww1", "alice", "bob")
//	base, _ := sim.Start("127.0.0.1:0") // base_url of the app under test
//	defer sim.Close()
//	// … run the dispatcher against base …
//	_ = sim.WaitDeliveries(ctx, 2)
//	got := sim.Deliveries("alice")
//
// # Modelling assumptions (where WeCom documents nothing)
//
//   - Tokens: one current token per app; gettoken within its lifetime returns it
//     with the remaining whole seconds in expires_in (a token with < 1 s left is
//     replaced). Unknown corpid → 40013, wrong secret → 40001, missing corpid or
//     corpsecret → 41002 / 41004. A token past its lifetime → 42001
//     (Options.ExpiredTokenCode; 40014 is what users observe), unknown or
//     revoked → 40014. gettoken's own frequency limit and the IP ban after
//     repeated wrong secrets are not modelled.
//   - Check order of message/send: token, raw bytes (40033 for a \uXXXX escape or
//     invalid UTF-8), JSON (40035, also for a field of the wrong JSON type),
//     agentid (41011 missing; 40056 not an integer or unknown; 301002 another app
//     of the corp), duplicate check, msgtype (40008), recipient counts (40032 >
//     1000 users, 82002 > 100 depts, 82003 > 100 tags, 82001 none), content,
//     task_id reuse, recipients (81013). agentid may be a number or a string of
//     digits. Text and markdown over 2048 bytes are refused with 45002 (the doc
//     also says "超过将截断"; the error code table says 45002).
//   - Content checks beyond those named in the spec use the nearest documented
//     code: a missing media_id → 41006, a missing title → 41016, textcard
//     without description → 41033 or url → 41010, news/mpnews without articles
//     → 40058, > 8 articles → 45008, news with safe ≠ 0 → 40074; a textcard
//     url, news url or picurl that is not http(s) → 45034 (url必须有协议头); a
//     news article with appid but no pagepath (or the reverse), or with
//     neither url nor mini-program ("小程序或者url必须填写一个") → 40058.
//     miniprogram_notice: no appid → 90200, > 10 content_item → 90201, an
//     item key empty or > 10 characters → 90202, a value empty or > 30
//     characters → 90203, page > 1024 bytes → 90204, title or description
//     outside 4–12 characters ("长度限制4-12个汉字"; no code of its own) → 40058.
//     Lengths WeCom documents as truncated ("超过会自动截断": textcard, news and
//     video titles and descriptions, btntxt, mpnews digest) and card texts it
//     only suggests lengths for ("建议不超过…") are accepted.
//   - template_card, in this order: card_type outside the five types → 42031;
//     task_id missing on an interaction card or one with action_menu, badly
//     formed, or already used by the app ("同一个应用任务id不能重复") → 42014;
//     source.desc_color outside 0–3 → 40058; action_menu with 0 or > 3
//     actions, an action without text or key, or a key > 1024 bytes → 40058
//     (the table has no code for them; 40058 covers "参数字段若是数组类型，若元素个数
//     超出限制"), a repeated key → 42051; no main_title.title (text_notice: nor
//     sub_title_text) → 42033, the table's "缺失 Title"; quote_area,
//     jump_list, card_action and image_text_area of type 1 without url → 42028,
//     of type 2 without appid → 42030, of a type outside 0–2 → 40058 (card_action:
//     42045); horizontal_content_list > 6 → 42035, an item without keyname →
//     42027, of type 1/2/3 without url/media_id/userid → 42028/42029/42050;
//     jump_list > 3 → 42042, an entry without title → 42033; card_action
//     missing on text_notice or news_notice, or of a type other than 1 or 2
//     there ("取值范围为[1,2]"), or outside 0–2 on button_interaction → 42045.
//     news_notice: neither card_image nor image_text_area ("两者必填一个"), a
//     card_image without url, an aspect_ratio outside 1.3–2.25, or an
//     image_text_area without image_url → 42044 (card_image.url 缺失或不合法);
//     vertical_content_list > 4 → 42036, an entry without title → 42033.
//     button_interaction: button_selection without question_key → 42043,
//     with 0 or > 10 options → 42037; button_list empty or > 6 → 40058 (no
//     code of its own), a button without text → 42038, of a type other than
//     0/1 → 40058, of type 1 without url → 42028, a callback button without
//     key, with a key > 1024 bytes or a repeated key → 42039; a style outside
//     1–4 or a selected_id that is no option is accepted ("不填或错填默认…").
//     vote_interaction: no checkbox or no question_key → 42043, 0 or > 20
//     options → 42037, mode other than 0/1 → 40058. multiple_interaction:
//     select_list empty or > 3 → 42047, a question_key missing or repeated →
//     42043. Options: id missing, > 128 bytes or repeated → 42040, text
//     missing → 42041. submit_button missing or without key → 42046, without
//     text → 42049. Fields a card type does not take, and unknown fields, are
//     ignored. response_code is returned for button_interaction,
//     vote_interaction and multiple_interaction only.
//   - Recipients: "a|b" lists are split on "|" with spaces trimmed. Userids are
//     case-insensitive, delivered and reported lower-cased. Every member of the
//     corp can see every app. toparty reaches the department's members and its
//     sub-departments'; totag its users and departments. A member reached twice
//     receives once. 81013 only when every named target is invalid (or @all
//     in an empty corp); it carries the invalid* lists and no msgid.
//   - invaliduser/invalidparty/invalidtag: "a|b" strings present only when
//     non-empty; with Options.ArrayShapedInvalid, arrays always present.
//   - Per-member limits are exact sliding windows over receipt time (the
//     simulator clock when the request is applied, after injected latency): a
//     message is delivered to a member only if fewer than Count messages were
//     delivered to that member by the app in (t-Window, t]. Only deliveries count
//     (a dropped message does not), suppressed duplicates do not count, and every
//     member reached through toparty/totag/@all counts like a touser member.
//     The optional daily cap (Options.DailyLimit) counts deliveries per app per
//     Asia/Shanghai day and drops the excess silently.
//   - Duplicate check (enable_duplicate_check=1): "the same content" is the
//     byte-identical request body, per app. The interval
//     (duplicate_check_interval; ≤ 0 means 1800 s, more than 14400 s is clamped
//     to 14400 s) runs from the accepted original and is not extended by
//     duplicates. A duplicate within it is answered exactly as the original was
//     (errcode 0, the ORIGINAL msgid, the same invalid* lists and
//     response_code), is not delivered, does not count against any limit, and
//     is recorded as [Suppressed]. Only accepted requests are remembered: a
//     refused one (81013, 44004, an injected error) does not suppress its retry;
//     one whose response was lost (LostResponse) does.
//   - Recall: unknown msgid or one sent by another app → 40058; older than 24 h →
//     42052; recalling twice answers 0.
//   - Concurrency: with Options.MaxConcurrentPerCorp > 0, a request arriving
//     while that many requests of its corp to the same endpoint are in flight
//     (injected latency included) gets 45033 and is not applied. The corp is
//     told from the corpid (gettoken) or the token; WeCom publishes no number.
//     [Sim.Concurrency] reports the peak in any case.
//   - Faults are applied before the request is handled (a faulted request is
//     not applied), except LostResponse, which applies it and then drops the
//     connection. A faulted request still appears in Requests. While down
//     (SetDown) every API request gets HTTP 503.
//   - Suites ([Sim.AddSuite]): get_suite_token takes the suite's current
//     suite_ticket, or the previous one while it is under 30 minutes old
//     (40085 otherwise; 40083 unknown suite, 40080 wrong secret) and, like
//     get_corp_token, answers success WITHOUT errcode ("没返回errcode视为调用成功").
//     One suite token per suite, reused with its remaining lifetime. A suite
//     call with an unknown suite token gets 40082, an expired one 42009.
//   - Installations ([Sim.InstallTenant]): the corp's userids are
//     case-sensitive (encrypted ids) unless the corp existed before; the
//     auth_code is valid 10 minutes and exchanged once (40078 after); a
//     permanent code is refused with 40084 when wrong or after the corp
//     cancelled ([Sim.CancelTenant]), when message/send with a token issued
//     before answers 48004. A 代开发 (Custom) tenant's permanent code is its app
//     secret for gettoken (40001 once cancelled or reset); a third-party one is
//     not. Members installed as Unlicensed are listed in unlicenseduser and not
//     delivered to. Bodies of the service/ endpoints are never recorded.
//   - Callbacks (Sim.Fire…): instruction callbacks are sealed for the suite id
//     and must be answered "success"; card clicks are sealed for the tenant's
//     corp id (a self-built app's: [Sim.SetAppCallback]) and carry a fresh
//     ResponseCode. Timestamps are the simulator clock's.
//   - Unknown paths get HTTP 404. update_template_card and appchat are not
//     simulated.
package wecomsim
