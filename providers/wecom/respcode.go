package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/msgdispatch/msgdispatch/providers"
)

// KindButton is an update-only kind: it replaces the text of the clicked
// button of an interactive card and makes it unclickable; Text holds the new
// button text (update_template_card "button.replace_name").
const KindButton providers.Kind = "button"

// WeCom updates a sent card only through update_template_card with a
// response_code, a single-use capability valid 72 h (ResponseCodeTTL): one
// comes back from each message/send of an interaction card (usable once, for
// any of that request's ≤ 1000 users) and one with every click of a user on
// the card (stored by the callback handler, usable once). The keys of
// Client's state (providers.KV, under the app's hash tag):
//
//	rc:<tenant>:<task_id>:<user>          a click's code, taken (deleted) before use
//	rcused:<message id>:<gen>:<part>      the send's code of a part was used

// Reasons a user is unreachable by an update.
const (
	reasonNoCode = "no unused response_code: WeCom updates a card only with a single-use response_code — one per send request " +
		"and one per click of the user — and this recipient's are used up or expired (72 h)"
	reasonNotCard = "not an updatable card: WeCom updates only template cards that return a response_code " +
		"(button, vote and multiple-choice interaction cards, cards with action_menu)"
)

// codeState is the Result.State of a send or update that returned code.
func codeState(code string) json.RawMessage {
	if code == "" {
		return nil
	}
	b, _ := json.Marshal(struct {
		ResponseCode string `json:"response_code"`
	}{code})
	return b
}

// ResponseCodeOf returns the response_code a send of an interaction card
// returned, kept in its Result.State; "" when there is none.
func ResponseCodeOf(r *providers.Result) string {
	if r == nil || len(r.State) == 0 {
		return ""
	}
	var s struct {
		ResponseCode string `json:"response_code"`
	}
	_ = json.Unmarshal(r.State, &s)
	return s.ResponseCode
}

// ClickCodeKey is the key, in the app's state (providers.KV), of the click
// code of a user (normalised, NormalizeUser) on the card taskID of tenant.
func ClickCodeKey(tenant, taskID, user string) string {
	return "rc:" + tenant + ":" + taskID + ":" + user
}

// UsedCodeKey is the key, in the app's state, that marks the send code of a
// part (message, generation, index) used.
func UsedCodeKey(messageID string, gen, part int) string {
	return "rcused:" + messageID + ":" + strconv.Itoa(gen) + ":" + strconv.Itoa(part)
}

// PutClickCode stores the single-use response code of user's click on the
// card taskID of tenant, for ResponseCodeTTL.
func (c *Client) PutClickCode(ctx context.Context, tenant, taskID, user, code string) error {
	if c.state == nil {
		return errors.New("wecom: no state store for response codes")
	}
	key := ClickCodeKey(tenant, taskID, NormalizeUser(c.cfg.EffectiveMode(), user))
	if err := c.state.Set(ctx, key, []byte(code), ResponseCodeTTL); err != nil {
		return fmt.Errorf("wecom: store response code of a click: %w", err)
	}
	return nil
}

// takeClickCode takes (deletes) the click code of user, or returns "".
func (c *Client) takeClickCode(ctx context.Context, tenant, taskID, user string) (string, error) {
	b, err := c.state.Take(ctx, ClickCodeKey(tenant, taskID, NormalizeUser(c.cfg.EffectiveMode(), user)))
	if errors.Is(err, providers.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("wecom: take response code: %w", err)
	}
	return string(b), nil
}

// Update gives req.Users of an accepted part new content (providers.Provider).
// It uses the part's send code first — marked used in the app's state before
// the call, never used again after a crash or an unknown outcome — and then,
// user by user, the users' click codes (taken before the call). A code WeCom
// refused before applying (retryable, throttled, app disabled) is released
// or put back, and the error returned so that the update is retried. 60140
// after a possibly consumed code is final. A user left with no usable code is
// unreachable with the reason: WeCom's rule, not a dispatcher fault.
func (c *Client) Update(ctx context.Context, req *providers.UpdateRequest) (*providers.UpdateResult, error) {
	out := &providers.UpdateResult{}
	if req == nil || req.Part == nil {
		return nil, providers.Invalid("part", "required")
	}
	if c.state == nil {
		return nil, errors.New("wecom: update needs a state store for response codes")
	}
	// Content that cannot apply is refused before any code is used.
	if err := ValidateUpdate(req.Content.Kind, req.Content.Text, req.Content.Body); err != nil {
		return nil, err
	}
	taskID := CardTaskID(req.Part.Body)
	if taskID == "" || req.Part.NotUpdatable {
		for _, u := range req.Users {
			out.Unreach(u, reasonNotCard)
		}
		return out, nil
	}
	call := func(code string, users []string) (*providers.Result, error) {
		return c.UpdateCard(ctx, &CardUpdate{Tenant: req.Part.Tenant, ResponseCode: code, To: providers.Recipients{Users: users},
			Kind: req.Content.Kind, Text: req.Content.Text, Body: req.Content.Body})
	}
	rest := req.Users
	partReason := "the send's response_code of this part was used by an earlier update"
	if code := ResponseCodeOf(req.Sent); code != "" {
		used := UsedCodeKey(req.MessageID, req.Generation, req.Part.Index)
		fresh, err := c.state.SetNX(ctx, used, []byte("1"), ResponseCodeTTL)
		if err != nil {
			return out, fmt.Errorf("wecom: mark response code used: %w", err)
		}
		if fresh {
			res, err := call(code, rest)
			switch cls := providers.ClassOf(err); {
			case err == nil:
				for _, u := range rest {
					if res != nil && containsFold(res.Invalid.Users, u) {
						out.Unreach(u, "WeCom listed the user in invaliduser")
						continue
					}
					out.Updated = append(out.Updated, u)
				}
				rest = nil
			case refusedBeforeApplied(cls):
				if rerr := c.state.Delete(context.WithoutCancel(ctx), used); rerr != nil {
					return out, fmt.Errorf("wecom: release response code: %w (after %w)", rerr, err)
				}
				return out, err
			default:
				partReason = "the send's response_code of this part failed: " + err.Error()
			}
		}
	} else {
		partReason = "the part's send returned no response_code"
	}
	for _, u := range rest {
		code, err := c.takeClickCode(ctx, req.Part.Tenant, taskID, u)
		if err != nil {
			return out, err
		}
		if code == "" {
			out.Unreach(u, reasonNoCode+" ("+partReason+")")
			continue
		}
		res, err := call(code, []string{u})
		switch cls := providers.ClassOf(err); {
		case err == nil && res != nil && containsFold(res.Invalid.Users, u):
			out.Unreach(u, "WeCom listed the user in invaliduser")
		case err == nil:
			out.Updated = append(out.Updated, u)
		case refusedBeforeApplied(cls):
			// Not applied: put the click's code back for the next try.
			if perr := c.PutClickCode(context.WithoutCancel(ctx), req.Part.Tenant, taskID, u, code); perr != nil {
				return out, fmt.Errorf("%w (and the click's code was lost: %w)", err, perr)
			}
			return out, err
		default:
			// 60140 after a code that may be consumed is final; so is any other refusal.
			out.Unreach(u, "the click's response_code failed: "+err.Error())
		}
	}
	return out, nil
}

// refusedBeforeApplied reports whether a failure of class cls left the
// request unapplied (its code unused).
func refusedBeforeApplied(cls providers.Class) bool {
	return cls == providers.ClassRetryable || cls == providers.ClassThrottled || cls == providers.ClassAppDisabled
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
