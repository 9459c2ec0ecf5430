package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// completionCmd prints a completion script for bash, zsh or fish. The
// commands and their flags are read from the commands table and from each
// command's own -h output at the moment the script is generated, so the
// script cannot drift from the binary that printed it.
//
//	source <(gatehouse completion bash)
//	gatehouse completion zsh  > "${fpath[1]}/_gatehouse"
//	gatehouse completion fish > ~/.config/fish/completions/gatehouse.fish
func completionCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gatehouse completion bash|zsh|fish")
	}
	if code, stop := parseFlags(fs, args, stdout, stderr); stop {
		return code
	}
	if fs.NArg() != 1 {
		fs.SetOutput(stderr)
		fs.Usage()
		return 2
	}
	tmpl, ok := completionScripts[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "gatehouse completion: unsupported shell %q (bash, zsh or fish)\n", fs.Arg(0))
		return 2
	}
	if err := tmpl.Execute(stdout, completionModel()); err != nil {
		fmt.Fprintf(stderr, "gatehouse completion: %v\n", err)
		return 1
	}
	return 0
}

// completionGroups are the commands that take a subcommand word first.
var completionGroups = map[string][]string{
	"apikey":     {"issue", "jwks", "hash"},
	"app":        {"create", "secret"},
	"policy":     {"capabilities", "test"},
	"completion": {"bash", "zsh", "fish"},
}

// completionCommand is one completable command path (e.g. "apikey issue",
// "app secret rotate") with its flags, without dashes.
type completionCommand struct {
	Path  string
	Words []string // what may follow Path: subcommands
	Flags []string
}

type completionData struct {
	Commands []string
	Paths    []completionCommand
}

func completionModel() completionData {
	var d completionData
	for name := range commands {
		d.Commands = append(d.Commands, name)
	}
	slices.Sort(d.Commands)
	for _, name := range d.Commands {
		subs := completionGroups[name]
		d.Paths = append(d.Paths, completionCommand{Path: name, Words: subs, Flags: commandFlags(name)})
		if name == "completion" {
			continue
		}
		for _, sub := range subs {
			path := name + " " + sub
			if name == "app" && sub == "secret" {
				d.Paths = append(d.Paths, completionCommand{Path: path, Words: []string{"rotate"}})
				path += " rotate"
			}
			d.Paths = append(d.Paths, completionCommand{Path: path, Flags: commandFlags(path)})
		}
	}
	return d
}

// flagLine matches a flag in flag.PrintDefaults output: "  -name value".
var flagLine = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// commandFlags runs "<path> -h" and collects the flag names it prints.
func commandFlags(path string) []string {
	var out bytes.Buffer
	args := append(strings.Fields(path), "-h")
	if dispatch(args, &out, io.Discard) != 0 {
		return nil
	}
	var flags []string
	for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
		flags = append(flags, m[1])
	}
	return flags
}

var completionScripts = map[string]*template.Template{
	"bash": template.Must(template.New("bash").Funcs(completionFuncs).Parse(bashCompletion)),
	"zsh":  template.Must(template.New("zsh").Funcs(completionFuncs).Parse(zshCompletion)),
	"fish": template.Must(template.New("fish").Funcs(completionFuncs).Parse(fishCompletion)),
}

var completionFuncs = template.FuncMap{
	"join": strings.Join,
	"dashed": func(flags []string) string {
		out := make([]string, len(flags))
		for i, f := range flags {
			out[i] = dashed(f)
		}
		return strings.Join(out, " ")
	},
	"fishflag": func(f string) string {
		if len(f) == 1 {
			return "-s " + f
		}
		return "-l " + f
	},
}

// dashed spells a flag the way the README does: -c, --method. Go's flag
// package accepts one or two dashes for every flag.
func dashed(f string) string {
	if len(f) == 1 {
		return "-" + f
	}
	return "--" + f
}
