package contract

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/meshdfu/meshdfu/"

// forbiddenCalls are package-qualified calls protocol code must not make.
var forbiddenCalls = map[string]map[string]string{
	"time": {
		"Now": "read time from mesh.Clock", "Sleep": "schedule with Clock.AfterFunc",
		"After": "use Clock.AfterFunc", "AfterFunc": "use Clock.AfterFunc", "NewTimer": "use Clock.AfterFunc",
		"NewTicker": "use Clock.AfterFunc", "Tick": "use Clock.AfterFunc", "Since": "use Clock.Now", "Until": "use Clock.Now",
	},
	"fmt": {"Print": "log with slog", "Printf": "log with slog", "Println": "log with slog"},
	"os":  {"Exit": "only cmd/ exits"},
}

// forbiddenImports lists, per tree, the module packages it must not import.
var forbiddenImports = map[string][]string{
	"mesh/":   {"models/", "sim", "runtime", "bearer/", "web", "cmd/", "fw"},
	"models/": {"sim", "runtime", "bearer/", "web", "cmd/"},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "..", "..")
}

func TestExecutionContract(t *testing.T) {
	root := repoRoot(t)
	checked := 0
	for tree := range forbiddenImports {
		base := filepath.Join(root, tree)
		if _, err := os.Stat(base); err != nil {
			continue
		}
		err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || d.Name() == "faketime" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			checked++
			checkFile(t, root, tree, path)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked == 0 {
		t.Fatal("no protocol source files found: is the test running from internal/contract?")
	}
}

func checkFile(t *testing.T, root, tree, path string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	rel, _ := filepath.Rel(root, path)
	imports := map[string]string{} // local name -> path
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		imports[name] = p
		if strings.HasPrefix(p, module) {
			inner := strings.TrimPrefix(p, module)
			for _, bad := range forbiddenImports[tree] {
				if inner == strings.TrimSuffix(bad, "/") || strings.HasPrefix(inner, bad) {
					t.Errorf("%s imports %s: %s must not import %s", rel, p, tree, bad)
				}
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			t.Errorf("%s: go statement: protocol code never starts goroutines", fset.Position(n.Pos()))
		case *ast.SelectorExpr:
			id, ok := n.X.(*ast.Ident)
			if !ok {
				return true
			}
			pkg := imports[id.Name]
			if why, bad := forbiddenCalls[pkg][n.Sel.Name]; bad {
				t.Errorf("%s: %s.%s: %s (execution contract)", fset.Position(n.Pos()), pkg, n.Sel.Name, why)
			}
		}
		return true
	})
}
