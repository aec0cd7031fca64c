package sqlitedb_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortex-db/cortex/sqlitedb"
	"github.com/cortex-db/cortex/state"
)

// TestHint_Chain: a hint is found anywhere in the chain, by sqlitedb.Hint
// and by state.Hint (which does not know the type), and is not part of
// the message.
func TestHint_Chain(t *testing.T) {
	err := fmt.Errorf("serve: %w", &sqlitedb.HintError{Op: "open x.db", Err: sqlitedb.ErrReadOnly, Hint: "make it writable"})
	if sqlitedb.Hint(err) != "make it writable" || state.Hint(err) != "make it writable" {
		t.Fatalf("hint of %v: %q, %q", err, sqlitedb.Hint(err), state.Hint(err))
	}
	if !errors.Is(err, sqlitedb.ErrReadOnly) || strings.Contains(err.Error(), "writable") {
		t.Fatalf("%v: want ErrReadOnly in the chain and the hint outside the message", err)
	}
	if sqlitedb.Hint(errors.New("plain")) != "" {
		t.Fatal("a plain error has a hint")
	}
}

// TestHint_NoTryInLibraryErrors: no error built in the library packages
// carries a "Try:" text (hints are HintError's field), and none of them
// matches on an error's message.
func TestHint_NoTryInLibraryErrors(t *testing.T) {
	for _, dir := range []string{".", "../sqlitestore", "../pgstore", "../state"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, _ := sel.X.(*ast.Ident)
				if x == nil {
					return true
				}
				name := x.Name + "." + sel.Sel.Name
				switch name {
				case "fmt.Errorf", "errors.New":
					ast.Inspect(call, func(n ast.Node) bool {
						if lit, ok := n.(*ast.BasicLit); ok && strings.Contains(lit.Value, "Try:") {
							t.Errorf("%s: %s builds an error with a Try: text; use HintError's Hint", fset.Position(lit.Pos()), name)
						}
						return true
					})
				case "strings.Contains", "strings.HasPrefix", "strings.HasSuffix":
					if len(call.Args) > 0 {
						if c, ok := call.Args[0].(*ast.CallExpr); ok {
							if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "Error" {
								t.Errorf("%s: matches on an error's message; classify by type or result code", fset.Position(call.Pos()))
							}
						}
					}
				}
				return true
			})
		}
	}
	if _, err := os.Stat("../pgstore"); err != nil {
		t.Fatal(err)
	}
}
