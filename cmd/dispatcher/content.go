package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/msgdispatch/msgdispatch/providers"
)

// contentFlags are the flags that say what a message says, shared by send and
// update: exactly one of --text, --markdown, --card, --raw, --kind with --body
// (and, for updates, --button).
type contentFlags struct {
	text, markdown, card, raw, kind, body, button *string
}

// addContentFlags registers the content flags on fs; withButton adds --button.
func addContentFlags(fs *flag.FlagSet, withButton bool) *contentFlags {
	c := &contentFlags{
		text:     fs.String("text", "", "plain text content"),
		markdown: fs.String("markdown", "", "markdown content"),
		card:     fs.String("card", "", "card JSON (WeCom template_card): @file.json or inline JSON"),
		raw:      fs.String("raw", "", "provider-native message JSON: @file.json or inline JSON"),
		kind:     fs.String("kind", "", "a typed message kind (wecom: textcard, news, mpnews, image, voice, video, file, miniprogram_notice), with --body"),
		body:     fs.String("body", "", "the content object of --kind: @file.json or inline JSON"),
	}
	if withButton {
		c.button = fs.String("button", "", "new text of the clicked button of a sent card (WeCom)")
	}
	return c
}

// content returns the one content the flags give; cmd names the command in errors.
func (c *contentFlags) content(cmd string) (providers.Kind, string, json.RawMessage, error) {
	if (*c.kind == "") != (*c.body == "") {
		return "", "", nil, fmt.Errorf("%s: --kind and --body go together", cmd)
	}
	type choice struct {
		flag, val string
		kind      providers.Kind
		json      bool
	}
	choices := []choice{
		{"--text", *c.text, providers.KindText, false},
		{"--markdown", *c.markdown, providers.KindMarkdown, false},
		{"--card", *c.card, providers.KindCard, true},
		{"--raw", *c.raw, providers.KindRaw, true},
		{"--body", *c.body, providers.Kind(*c.kind), true},
	}
	names := []string{"--text", "--markdown", "--card", "--raw", "--kind/--body"}
	if c.button != nil {
		choices = append(choices, choice{"--button", *c.button, providers.Kind("button"), false}) // an update-only kind (WeCom)
		names = append(names, "--button")
	}
	var given []choice
	for _, ch := range choices {
		if ch.val != "" {
			given = append(given, ch)
		}
	}
	if len(given) != 1 {
		return "", "", nil, fmt.Errorf("%s: give exactly one of %s (got %d)", cmd, strings.Join(names, ", "), len(given))
	}
	ch := given[0]
	if !ch.json {
		return ch.kind, ch.val, nil, nil
	}
	b, err := readJSONArg(ch.flag, ch.val)
	if err != nil {
		return "", "", nil, fmt.Errorf("%s: %w", cmd, err)
	}
	return ch.kind, "", b, nil
}

// readJSONArg reads "@file.json" or inline JSON and checks that it is JSON.
func readJSONArg(flagName, v string) (json.RawMessage, error) {
	b := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s: not valid JSON", flagName)
	}
	return json.RawMessage(b), nil
}
