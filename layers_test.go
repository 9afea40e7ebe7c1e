package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/pgrest/pgrest/"

// layers is the one-way flow request → parse → plan → execute → respond,
// written down: for each package, the project packages it may import.
// server/ (the HTTP edge) and the binary sit on top and may use all of
// them; nothing below may reach up into the edge. A new package must be
// added here, which is the moment to decide where it sits.
var layers = map[string][]string{
	"apierr":         {},
	"request":        {"apierr"},
	"cache":          {},
	"planner":        {"apierr", "cache", "request"},
	"executor":       {"apierr", "cache", "planner"},
	"listener":       {"cache", "migrations"},
	"realtime":       {"apierr", "cache", "executor", "planner", "request"},
	"migrations":     {},
	"embedpg":        {},
	"server/config":  {"server/auth"}, // validates jwt-role-claim-key with the JWT code
	"server/auth":    {"apierr"},
	"server/openapi": {"cache"},
	"server":         nil, // the edge: anything below it
	".":              nil, // the binary
	"integration":    nil, // end-to-end tests
}

func TestImportsFlowOneWay(t *testing.T) {
	imports := map[string]map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if imports[dir] == nil {
			imports[dir] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if rest, ok := strings.CutPrefix(p, module); ok {
				imports[dir][rest] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dirs := make([]string, 0, len(imports))
	for d := range imports {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		allowed, known := layers[dir]
		if !known {
			t.Errorf("package %s is not in the layers table (layers_test.go): place it in the flow", dir)
			continue
		}
		if allowed == nil {
			continue
		}
		for imp := range imports[dir] {
			ok := false
			for _, a := range allowed {
				ok = ok || a == imp
			}
			if !ok {
				t.Errorf("%s imports %s: against the one-way flow (allowed: %v)", dir, imp, allowed)
			}
		}
	}
}

// Every exported identifier of the project's packages says what it is for.
func TestExportedIdentifiersDocumented(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fs := token.NewFileSet()
		f, err := parser.ParseFile(fs, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && d.Doc == nil && !onUnexported(d) {
					t.Errorf("%s: func %s has no doc comment", fs.Position(d.Pos()), d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() && d.Doc == nil && s.Doc == nil {
							t.Errorf("%s: type %s has no doc comment", fs.Position(s.Pos()), s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() && d.Doc == nil && s.Doc == nil && s.Comment == nil {
								t.Errorf("%s: %s has no doc comment", fs.Position(n.Pos()), n.Name)
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// onUnexported tells a method of an unexported type (not part of the API).
func onUnexported(d *ast.FuncDecl) bool {
	if d.Recv == nil {
		return false
	}
	typ := d.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && !id.IsExported()
}

// TestOneErrorCatalogue keeps every PGRST code's status and wording in
// apierr/: elsewhere an error is made with its catalogue constructor, and a
// code literal may only be compared against (matching an error already
// made), never used to build one.
func TestOneErrorCatalogue(t *testing.T) {
	code := regexp.MustCompile(`^"PGRST\d+"$`)
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "apierr" || (strings.HasPrefix(d.Name(), ".") && path != ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fs := token.NewFileSet()
		f, err := parser.ParseFile(fs, path, nil, 0)
		if err != nil {
			return err
		}
		compared := map[ast.Expr]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				if n.Op == token.EQL || n.Op == token.NEQ {
					compared[n.X], compared[n.Y] = true, true
				}
			case *ast.CaseClause:
				for _, e := range n.List {
					compared[e] = true
				}
			case *ast.CallExpr:
				// strings.HasPrefix(code, "PGRST00") matches a class of codes
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "HasPrefix" {
					for _, e := range n.Args {
						compared[e] = true
					}
				}
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "apierr" && (n.Sel.Name == "New" || n.Sel.Name == "Errorf") {
					t.Errorf("%s: apierr.%s outside the catalogue: add a constructor in apierr/", fs.Position(n.Pos()), n.Sel.Name)
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING && code.MatchString(n.Value) && !compared[n] {
					t.Errorf("%s: error code %s built outside apierr/", fs.Position(n.Pos()), n.Value)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
