package mobile

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gomobileBasic are the basic types `gomobile bind` maps to Java/Kotlin and ObjC/Swift.
var gomobileBasic = map[string]bool{
	"string": true, "bool": true, "int": true, "int8": true, "int16": true, "int32": true,
	"int64": true, "float32": true, "float64": true, "error": true, "byte": true, "rune": true,
}

// apiViolations lists every exported function, method, struct field, interface method and
// variable of the package in dir whose type gomobile cannot bind.
func apiViolations(fset *token.FileSet, files []*ast.File) []string {
	exported := map[string]bool{} // exported struct and interface types declared here
	for _, f := range files {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					ts := s.(*ast.TypeSpec)
					switch ts.Type.(type) {
					case *ast.StructType, *ast.InterfaceType:
						if ts.Name.IsExported() {
							exported[ts.Name.Name] = true
						}
					}
				}
			}
		}
	}
	var ok func(e ast.Expr, elem bool) bool
	ok = func(e ast.Expr, elem bool) bool {
		switch t := e.(type) {
		case *ast.Ident:
			if elem {
				return t.Name == "byte" // only []byte among slices
			}
			return gomobileBasic[t.Name] && t.Name != "byte" && t.Name != "rune" || exported[t.Name]
		case *ast.ArrayType:
			return t.Len == nil && !elem && ok(t.Elt, true)
		case *ast.StarExpr: // pointers to exported structs
			id, isID := t.X.(*ast.Ident)
			return isID && exported[id.Name] && !elem
		}
		return false
	}
	var bad []string
	checkFields := func(where string, fl *ast.FieldList) {
		if fl == nil {
			return
		}
		for _, f := range fl.List {
			if !ok(f.Type, false) {
				bad = append(bad, fmt.Sprintf("%s: %s uses %s", fset.Position(f.Pos()), where, types(f.Type)))
			}
		}
	}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					rt := d.Recv.List[0].Type
					if s, isStar := rt.(*ast.StarExpr); isStar {
						rt = s.X
					}
					if id, isID := rt.(*ast.Ident); !isID || !id.IsExported() {
						continue // methods of unexported types are not bound
					}
				}
				if d.Type.TypeParams != nil {
					bad = append(bad, fmt.Sprintf("%s: %s is generic", fset.Position(d.Pos()), d.Name.Name))
				}
				checkFields(d.Name.Name, d.Type.Params)
				checkFields(d.Name.Name, d.Type.Results)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						if d.Tok == token.VAR {
							for _, n := range s.Names {
								if n.IsExported() && (s.Type == nil || !ok(s.Type, false)) {
									bad = append(bad, fmt.Sprintf("%s: var %s needs a bindable declared type", fset.Position(n.Pos()), n.Name))
								}
							}
						}
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						switch t := s.Type.(type) {
						case *ast.StructType:
							for _, fld := range t.Fields.List {
								for _, n := range fld.Names {
									if n.IsExported() && !ok(fld.Type, false) {
										bad = append(bad, fmt.Sprintf("%s: field %s.%s uses %s", fset.Position(n.Pos()), s.Name.Name, n.Name, types(fld.Type)))
									}
								}
							}
						case *ast.InterfaceType:
							for _, m := range t.Methods.List {
								if ft, isFn := m.Type.(*ast.FuncType); isFn {
									checkFields(s.Name.Name+"."+m.Names[0].Name, ft.Params)
									checkFields(s.Name.Name+"."+m.Names[0].Name, ft.Results)
								} else {
									bad = append(bad, fmt.Sprintf("%s: interface %s embeds %s", fset.Position(m.Pos()), s.Name.Name, types(m.Type)))
								}
							}
						default:
							bad = append(bad, fmt.Sprintf("%s: exported type %s is neither struct nor interface", fset.Position(s.Pos()), s.Name.Name))
						}
					}
				}
			}
		}
	}
	return bad
}

func types(e ast.Expr) string {
	var b strings.Builder
	ast.Fprint(&b, token.NewFileSet(), e, nil)
	fields := strings.Fields(b.String())
	return strings.Join(fields[:min(len(fields), 8)], " ")
}

func parseDir(t *testing.T, dir string) (*token.FileSet, []*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

func TestExportedAPIIsGomobileCompatible(t *testing.T) {
	fset, files := parseDir(t, ".")
	if len(files) == 0 {
		t.Fatal("no source files found")
	}
	for _, v := range apiViolations(fset, files) {
		t.Error(v)
	}
	// the API the issue asks for is there
	want := []string{"Init", "Track", "Screen", "SetUser", "Reset", "Flush", "GetDeviceId",
		"OnBackground", "OnForeground", "SetNetworkAvailable"}
	have := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil {
				have[fn.Name.Name] = true
			}
		}
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("exported function %s is missing", w)
		}
	}
}

// The checker itself must catch what gomobile refuses, or the test above proves nothing.
func TestAPICheckerRejectsUnbindableTypes(t *testing.T) {
	dir := t.TempDir()
	src := `package mobile
import "context"
type Ok struct{ Name string; Data []byte; Next *Ok }
type Bad struct{ Tags []string }
type Cb interface{ Done(n int64, err error) }
type Names []string
var Global map[string]int
func Fine(a string, b bool, c int64, d float64, e []byte, o *Ok, cb Cb) (string, error) { return "", nil }
func WithMap(m map[string]string) {}
func WithCtx(ctx context.Context) {}
func WithChan() chan int { return nil }
func WithSlice(s []int) {}
func WithFunc(f func()) {}
func Generic[T any](t T) {}
func (o *Ok) Method(u uint64) {}
func (n notExported) Skip(m map[int]int) {}
type notExported struct{}
`
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fset, files := parseDir(t, dir)
	got := strings.Join(apiViolations(fset, files), "\n")
	for _, want := range []string{"field Bad.Tags", "Names is neither", "var Global", "WithMap uses",
		"WithCtx uses", "WithChan uses", "WithSlice uses", "WithFunc uses", "Generic is generic", "Method uses"} {
		if !strings.Contains(got, want) {
			t.Errorf("checker missed %q; it said:\n%s", want, got)
		}
	}
	for _, clean := range []string{"Fine", "Skip", "Ok."} {
		if strings.Contains(got, clean) {
			t.Errorf("checker flagged %s:\n%s", clean, got)
		}
	}
}
