// Package wecomsim simulates WeCom's (企业微信) HTTP API for self-built apps:
// /cgi-bin/gettoken, /cgi-bin/message/send and /cgi-bin/message/recall. It is a
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
//     without description → 41033 or url → 41010, news/mpnews without articles or
//     miniprogram_notice without appid → 40058, > 8 articles → 45008, news with
//     safe ≠ 0 → 40074. template_card: card_type outside the five types → 42031;
//     task_id missing on an interaction card or one with action_menu, badly
//     formed, or already used by the app ("同一个应用任务id不能重复") → 42014;
//     a callback button without key → 42039. response_code is returned for
//     button_interaction, vote_interaction and multiple_interaction only.
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
//   - Unknown paths get HTTP 404. update_template_card and appchat are not
//     simulated.
package wecomsim
