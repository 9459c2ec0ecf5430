package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/buildinfo"
)

// Every command and command group answers -h and --help with its usage on
// stdout and exit 0; a bad flag still exits 2.
func TestHelpExitsZero(t *testing.T) {
	paths := []string{"", "run", "check", "explain", "pki", "apikey", "apikey issue", "apikey jwks",
		"apikey hash", "app", "app create", "app secret", "app secret rotate", "policy", "policy capabilities", "policy test", "version", "completion"}
	for _, p := range paths {
		for _, h := range []string{"-h", "--help"} {
			args := append(strings.Fields(p), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errb bytes.Buffer
				if code := dispatch(args, &out, &errb); code != 0 {
					t.Fatalf("exit %d, stderr: %s", code, errb.String())
				}
				if !strings.Contains(strings.ToLower(out.String()), "usage") {
					t.Errorf("no usage on stdout: %q", out.String())
				}
			})
		}
	}
	for _, args := range [][]string{{"help", "run"}, {"help"}} {
		if code := dispatch(args, new(bytes.Buffer), new(bytes.Buffer)); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
	bad := [][]string{{}, {"nope"}, {"run", "--nope"}, {"version", "--nope"}, {"apikey", "hash", "--nope"},
		{"completion"}, {"completion", "tcsh"}, {"version", "extra"}}
	for _, args := range bad {
		var errb bytes.Buffer
		if code := dispatch(args, new(bytes.Buffer), &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, errb.String())
		}
	}
}

func TestVersion(t *testing.T) {
	b := buildinfo.Get()
	tests := []struct {
		name string
		args []string
	}{
		{name: "ok/version", args: []string{"version"}},
		{name: "ok/--version", args: []string{"--version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := dispatch(tt.args, &out, new(bytes.Buffer)); code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, want := range []string{"gatehouse " + b.Version, "commit:   " + b.Commit, "go:       " + runtime.Version(), "opa:      " + b.OPA} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("missing %q in:\n%s", want, out.String())
				}
			}
		})
	}
	var out bytes.Buffer
	if code := dispatch([]string{"version", "--json"}, &out, new(bytes.Buffer)); code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	var got buildinfo.Info
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got != b {
		t.Errorf("--json: %v, %+v, want %+v", err, got, b)
	}
}

// The bash script is loaded into a real bash and asked to complete, the
// way bash does on TAB; zsh and fish scripts are syntax-checked by their
// shells where installed, and fish completes one line too.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var out bytes.Buffer
		if code := dispatch([]string{"completion", sh}, &out, new(bytes.Buffer)); code != 0 {
			t.Fatalf("%s: exit %d", sh, code)
		}
		file := filepath.Join(dir, "gatehouse."+sh)
		if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		bin, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("%s not installed: its completion script is not syntax-checked", sh)
			continue
		}
		if b, err := exec.Command(bin, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, b)
		}
		if sh == "fish" { // fish can complete a line non-interactively
			b, err := exec.Command(bin, "-c", `source $argv[1]; complete -C "gatehouse apikey "`, file).CombinedOutput()
			if got := strings.Fields(string(b)); err != nil || strings.Join(got, " ") != "hash issue jwks" {
				t.Errorf("fish completes %q (%v), want hash issue jwks", got, err)
			}
		}
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	tests := []struct {
		name, line string
		want       []string
	}{
		{name: "ok/commands", line: "gatehouse ", want: []string{"apikey", "app", "check", "completion", "explain", "pki", "policy", "run", "version"}},
		{name: "ok/command prefix", line: "gatehouse ex", want: []string{"explain"}},
		{name: "ok/group words", line: "gatehouse apikey ", want: []string{"issue", "jwks", "hash"}},
		{name: "ok/nested group", line: "gatehouse app secret ", want: []string{"rotate"}},
		{name: "ok/flags", line: "gatehouse explain --me", want: []string{"--method"}},
		{name: "ok/flags after a flag value", line: "gatehouse apikey issue -c gw.yaml --a", want: []string{"--all-apis", "--api", "--application"}},
		{name: "ok/shells", line: "gatehouse completion ", want: []string{"bash", "zsh", "fish"}},
		{name: "ok/files for values", line: "gatehouse run -c ", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := `source "$1"; read -ra COMP_WORDS <<<"$2"; [[ $2 == *" " ]] && COMP_WORDS+=("");` +
				` COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _gatehouse; printf '%s\n' "${COMPREPLY[@]}"`
			b, err := exec.Command("bash", "-c", script, "bash", filepath.Join(dir, "gatehouse.bash"), tt.line).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			got := strings.Fields(string(b))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("completing %q: %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}
