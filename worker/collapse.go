package worker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/internal/record"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// collapseRequest gives a quota request the message's collapse key (and, in
// digest mode, its text).
func collapseRequest(req *ratelimit.Request, j *job.Send) {
	if j.Collapse == nil || j.Collapse.Key == "" {
		return
	}
	req.CollapseKey = j.Collapse.Key
	if j.Collapse.Mode == job.CollapseDigest {
		req.Digest, req.DigestText = true, j.Message.Text
	}
}

// recordSuperseded adds the recipients a newer message claimed to the
// record, once each, and drops them from its bookings.
func (w *Worker) recordSuperseded(rec *record.Record, d *ratelimit.Decision, orig map[string]string) {
	now := w.now()
	for _, s := range d.Superseded {
		name := orig[s.Recipient]
		if name == "" {
			name = s.Recipient
		}
		if slices.ContainsFunc(rec.Superseded, func(x record.Supersession) bool { return x.Recipient == name }) {
			continue
		}
		rec.Superseded = append(rec.Superseded, record.Supersession{Recipient: name, SupersededBy: s.By, At: now})
		rec.Booked = slices.DeleteFunc(rec.Booked, func(b record.Booking) bool { return b.Recipient == name })
	}
}

func supersededDetail(ss []record.Supersession) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s superseded by %s", s.Recipient, s.SupersededBy)
	}
	return b.String()
}

// prepareDigests renders msg: as one Prepare, or, in digest mode with
// recipients that collapsed older messages, one Prepare per distinct digest
// line (text and markdown get the line appended; other kinds are sent as
// they are).
func (w *Worker) prepareDigests(ctx context.Context, prov providers.Provider, msg *providers.Message, j *job.Send, digests map[string]ratelimit.Digest) ([]providers.Part, error) {
	opts := providers.PrepareOptions{MessageID: j.ID, Generation: j.Generation}
	if len(digests) == 0 || j.Collapse == nil || (msg.Kind != providers.KindText && msg.Kind != providers.KindMarkdown) {
		return prov.Prepare(ctx, msg, opts)
	}
	groups := map[string][]string{} // line → users
	var plain []string
	for _, u := range msg.To.Users {
		if g, ok := digests[u]; ok && g.Count > 0 {
			line := DigestLine(j.Collapse.Template, g)
			groups[line] = append(groups[line], u)
		} else {
			plain = append(plain, u)
		}
	}
	var parts []providers.Part
	add := func(m providers.Message) error {
		ps, err := prov.Prepare(ctx, &m, opts)
		for i := range ps {
			ps[i].Index = len(parts) + i
		}
		parts = append(parts, ps...)
		return err
	}
	rest := *msg
	rest.To.Users = plain
	if !rest.To.Empty() {
		if err := add(rest); err != nil {
			return nil, err
		}
	}
	for _, line := range slices.Sorted(func(yield func(string) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	}) {
		m := *msg
		m.To = providers.Recipients{Users: groups[line]}
		m.Text = msg.Text + "\n" + line
		if err := add(m); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// DigestLine renders a digest template: {{count}}, {{first_at}} (HH:MM in
// Asia/Shanghai, from the first collapsed message's id), {{first_text}} and
// {{last_text}}. An empty template is job.DefaultDigestTemplate.
func DigestLine(tmpl string, g ratelimit.Digest) string {
	if tmpl == "" {
		tmpl = job.DefaultDigestTemplate
	}
	at := ""
	if t, ok := job.TimeOf(g.FirstID); ok {
		at = t.In(time.FixedZone("Asia/Shanghai", 8*3600)).Format("15:04")
	}
	return strings.NewReplacer("{{count}}", strconv.Itoa(g.Count), "{{first_at}}", at,
		"{{first_text}}", g.FirstText, "{{last_text}}", g.LastText).Replace(tmpl)
}
