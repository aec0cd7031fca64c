package testutil_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestSource_OneWayToSayAHint walks every non-test Go file of the module:
//
//   - no string literal holds "Try:" (a hint is a typed error's field,
//     sqlitedb.HintError, or a health check's Hint; the CLI renders it as
//     a "Try:" line in one place, cmd/cortex's tryLine, whose literal is
//     the one allowed);
//   - no strings.Contains, HasPrefix or HasSuffix looks into an error's
//     message (err.Error(), or an InvalidError's Reason): errors are told
//     apart by type, sentinel or SQLite result code.
func TestSource_OneWayToSayAHint(t *testing.T) {
	root := filepath.Join("..", "..")
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if strings.HasSuffix(f.Name.Name, "test") {
			return nil // test support (statetest, pgtest): its checks read messages on purpose
		}
		renderer := filepath.ToSlash(path) == "../../cmd/cortex/output.go"
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if n.Kind == token.STRING && strings.Contains(n.Value, "Try:") && !(renderer && n.Value == `"Try: "`) {
					t.Errorf("%s: a string holds \"Try:\"; put the hint in a HintError (or a health check's Hint)", fset.Position(n.Pos()))
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || len(n.Args) == 0 {
					return true
				}
				if x, _ := sel.X.(*ast.Ident); x == nil || x.Name != "strings" {
					return true
				}
				switch sel.Sel.Name {
				case "Contains", "HasPrefix", "HasSuffix", "Index", "TrimPrefix":
				default:
					return true
				}
				if messageOf(n.Args[0]) {
					t.Errorf("%s: strings.%s on an error's message; tell errors apart by type, sentinel or result code", fset.Position(n.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("walked %d Go files: is the module root %s?", files, root)
	}
}

// messageOf reports whether e is x.Error() or x.Reason.
func messageOf(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.CallExpr:
		s, ok := e.Fun.(*ast.SelectorExpr)
		return ok && s.Sel.Name == "Error" && len(e.Args) == 0
	case *ast.SelectorExpr:
		return e.Sel.Name == "Reason"
	}
	return false
}
