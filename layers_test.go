package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
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
