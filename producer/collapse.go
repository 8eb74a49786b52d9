package producer

import (
	"github.com/msgdispatch/msgdispatch/internal/job"
	"github.com/msgdispatch/msgdispatch/providers"
	"github.com/msgdispatch/msgdispatch/ratelimit"
)

// CollapseKey gives the message a collapse key: for each recipient, a newer
// message of the same app (and tenant) with the same key supersedes this one
// if it has not been sent to that recipient yet (queued, waiting for a peak
// deferral, or booked by quota for a later slot); its record then lists the
// recipient under superseded, with the newer message's id. At most 128
// bytes, without ':', '{', '}' or control characters. Default none.
func CollapseKey(key string) SendOption {
	return func(o *sendOptions) {
		if o.Collapse == nil {
			o.Collapse = &job.Collapse{}
		}
		o.Collapse.Key = key
	}
}

// CollapseDigest makes a collapse key's message say what it replaced: a line
// appended to text and markdown, rendered from template ({{count}},
// {{first_at}}, {{first_text}}, {{last_text}}; "" is
// job.DefaultDigestTemplate, "(and {{count}} more since {{first_at}})"). It
// needs CollapseKey. Default: replace without a line.
func CollapseDigest(template string) SendOption {
	return func(o *sendOptions) {
		if o.Collapse == nil {
			o.Collapse = &job.Collapse{}
		}
		o.Collapse.Mode, o.Collapse.Template = job.CollapseDigest, template
	}
}

func validateCollapse(c *job.Collapse) error {
	if c == nil {
		return nil
	}
	if c.Key == "" {
		return providers.Invalid("collapse_key", "required with collapse: %s", c.Mode)
	}
	if err := ratelimit.CheckCollapseKey(c.Key); err != nil {
		return providers.Invalid("collapse_key", "%v", err)
	}
	switch c.Mode {
	case "", job.CollapseReplace, job.CollapseDigest:
	default:
		return providers.Invalid("collapse", "%q: want replace or digest", c.Mode)
	}
	if len(c.Template) > 200 {
		return providers.Invalid("collapse.template", "longer than 200 bytes")
	}
	return nil
}
