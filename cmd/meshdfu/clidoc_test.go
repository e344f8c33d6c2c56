package main

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md from the command tree")

// cliReference renders every command's help as one Markdown page.
func cliReference(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("# meshdfu command-line reference\n\nGenerated from the command tree by `go test ./cmd/meshdfu -run TestCLIReference -update`; do not edit by hand.\n\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		var one bytes.Buffer
		if err := doc.GenMarkdownCustom(c, &one, func(s string) string { return "#" + strings.ReplaceAll(strings.TrimSuffix(s, ".md"), "_", "-") }); err != nil {
			t.Fatal(err)
		}
		// One page: demote headings and drop the per-page footer.
		text := strings.ReplaceAll(one.String(), "\n## ", "\n### ")
		text = strings.Replace(text, "## "+c.CommandPath(), "## "+c.CommandPath(), 1)
		buf.WriteString(text)
		buf.WriteString("\n")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := newRootCmd()
	root.DisableAutoGenTag = true
	walk(root)
	return buf.Bytes()
}

func TestCLIReference(t *testing.T) {
	got := cliReference(t)
	const path = "../../docs/cli.md"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/meshdfu -run TestCLIReference -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/cli.md is out of date: run go test ./cmd/meshdfu -run TestCLIReference -update")
	}
}
