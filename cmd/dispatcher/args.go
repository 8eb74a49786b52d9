package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command describes one subcommand for parsing and for -h.
type command struct {
	// name is how it is called after "dispatcher": "send", "tenant add".
	name string
	// synopsis is the usage line after "dispatcher <name> ".
	synopsis string
	// args names the positional arguments it takes, exactly that many.
	args []string
	// notes say which flags go together ("exactly one of …"); may be empty.
	notes string
	// example is one complete command line.
	example string
}

// usageLine is "usage: dispatcher <name> <synopsis>".
func (c *command) usageLine() string { return "usage: dispatcher " + c.name + " " + c.synopsis }

// help writes the command's usage: the usage line, the notes, the flags and
// the example.
func (c *command) help(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, c.usageLine())
	if c.notes != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(c.notes, "\n"))
	}
	fmt.Fprintln(w, "\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nexample:\n  %s\n", c.example)
}

// parse parses args with fs. Flags and positional arguments may come in any
// order ("status ID --config F" is "status --config F ID"); "--" ends the
// flags. -h, -help or --help writes the usage to stdout and returns
// flag.ErrHelp. It returns the positional arguments, exactly len(c.args) of
// them: a missing one or a stray one (an unquoted value with spaces: --text
// hello world) is an error naming it, with the usage line.
func (c *command) parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard) // errors are returned as one line, not printed with the defaults
	fs.Usage = func() {}
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		f := fs.Lookup(name)
		if f == nil && (name == "h" || name == "help") {
			c.help(stdout, fs)
			return nil, flag.ErrHelp
		}
		flags = append(flags, a)
		if f == nil || hasValue {
			continue // an unknown flag: fs.Parse names it
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, fmt.Errorf("%s: %w (%s; -h for help)", c.name, err, c.usageLine())
	}
	switch {
	case len(pos) > len(c.args):
		stray := pos[len(c.args):]
		what := "no positional arguments"
		if len(c.args) > 0 {
			what = "only " + strings.Join(c.args, " ")
		}
		return nil, fmt.Errorf("%s: unexpected argument %q: it takes %s (quote a value that has spaces: --text \"hello world\"; %s)",
			c.name, stray[0], what, c.usageLine())
	case len(pos) < len(c.args):
		return nil, fmt.Errorf("%s: missing %s (%s)", c.name, c.args[len(pos)], c.usageLine())
	}
	return pos, nil
}

// isHelp reports whether err is the answer to -h, which is no failure.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
