// Package layering holds the test that keeps the project's layers apart: the
// provider-neutral core imports no provider package (the registry carries
// them), and provider packages import neither Redis nor the core.
package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/msgdispatch/msgdispatch"

// root is the module root, two levels above this package.
func root(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

// imports returns, for every non-test Go file under dir, the import paths
// it names.
func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			out[path] = append(out[path], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The core (internal/, producer/, worker/, ratelimit/) names no provider:
// it imports the neutral package providers only.
func TestCoreImportsNoProvider(t *testing.T) {
	t.Parallel()
	r := root(t)
	files := 0
	for _, dir := range []string{"internal", "producer", "worker", "ratelimit"} {
		for file, paths := range imports(t, filepath.Join(r, dir)) {
			files++
			for _, p := range paths {
				if strings.HasPrefix(p, module+"/providers/") {
					rel, _ := filepath.Rel(r, file)
					t.Errorf("%s imports %s: the core reaches providers through the registry", rel, p)
				}
			}
		}
	}
	if files < 20 {
		t.Fatalf("read %d core files: the walk is broken", files)
	}
}

// A provider package (not its simulator) imports the standard library, the
// neutral package providers and its own subpackages only: no Redis client,
// no core package.
func TestProvidersImportNoCore(t *testing.T) {
	t.Parallel()
	r := root(t)
	entries, err := os.ReadDir(filepath.Join(r, "providers"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "all" {
			continue
		}
		name := e.Name()
		for file, paths := range imports(t, filepath.Join(r, "providers", name)) {
			rel, _ := filepath.Rel(r, file)
			if strings.Contains(filepath.ToSlash(rel), name+"sim/") {
				continue // simulators may use what they like to model the provider
			}
			checked++
			for _, p := range paths {
				first, _, _ := strings.Cut(p, "/")
				switch {
				case !strings.Contains(first, "."): // standard library
				case p == module+"/providers", strings.HasPrefix(p, module+"/providers/"+name+"/"):
				default:
					t.Errorf("%s imports %s: a provider package imports only the standard library and providers", rel, p)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("read %d provider files: the walk is broken", checked)
	}
}
