package planner

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/pgrest/pgrest/request"
)

// richRequest sets every field of a request, at least once, to a value
// other than its zero, so that changing any field is a change the shape
// walk can see.
func richRequest() *request.Request {
	lim, maxAff := int64(5), int64(3)
	filter := func(op string, list []string) request.Filter {
		return request.Filter{Path: []string{"o"}, Field: request.Field{Name: "data", Path: []request.JSONOp{{Text: true, Key: "k"}}},
			Op: request.Operation{Negated: true, Op: op, Quant: "any", Language: "english", Value: "v", List: list}, Key: "o.data"}
	}
	f1, f2 := filter("eq", nil), filter("in", []string{"a"})
	return &request.Request{
		Method: "POST", Action: request.ActUpdate, HeadOnly: true, Schema: "public", SchemaNegotiated: true, Resource: "items", RPC: true,
		Select: []request.SelectItem{
			{Field: request.Field{Name: "data", Path: []request.JSONOp{{Text: true, Key: "a"}}}, Cast: "text", Aggregate: "sum", AggregateCast: "int"},
			{Alias: "al", Field: request.Field{Name: "id"}},
			{Embed: &request.Embed{Name: "owners", Alias: "o", Hint: "fk", JoinType: "inner", Spread: true,
				Select: []request.SelectItem{{Field: request.Field{Name: "name"}}}}},
		},
		Filters: []request.Filter{f1, f2},
		Logic: []request.Logic{{Path: []string{"o"}, Or: true, Negated: true, Children: []request.LogicNode{
			{Filter: &f1}, {Tree: &request.Logic{Or: true, Children: []request.LogicNode{{Filter: &f2}}}},
		}}},
		Orders: []request.Order{{Path: []string{"o"}, Terms: []request.OrderTerm{{Relation: "owners", Field: request.Field{Name: "name",
			Path: []request.JSONOp{{Key: "0"}}}, Desc: true, Nulls: request.NullsLast}}}},
		Ranges:      []request.Range{{Path: []string{"o"}, Offset: 2, Limit: &lim}},
		RangeHeader: true, Columns: []string{"id"}, OnConflict: []string{"id"},
		RPCArgs: map[string][]string{"a": {"1"}},
		Prefs: request.Preferences{Return: "representation", Count: "exact", Resolution: "merge-duplicates", Missing: "default",
			Handling: "strict", Timezone: "UTC", Tx: "commit", MaxAffected: &maxAff, Invalid: []string{"x"}},
		Accept:      []request.MediaType{{Type: "application", Subtype: "vnd.pgrst.plan", Params: map[string]string{"for": "text/csv", "options": "analyze", "nulls": "stripped"}, Q: 1}},
		ContentType: request.MediaType{Type: "application", Subtype: "json", Params: map[string]string{"charset": "utf-8"}, Q: 1},
		Body:        []byte(`{"id":1}`), Path: "/items", Headers: map[string]string{"accept": "*/*"}, Cookies: map[string]string{"c": "1"},
	}
}

// shapeOf is what the memo sees of a request: its key and its values.
func shapeOf(req *request.Request) string {
	v := walkShape(req, testSnapshot(), Options{})
	return string(v.key) + "\x00" + fmt.Sprint(v.args)
}

// TestShapeCoversRequest changes every field of the request, one at a
// time, wherever it occurs: a field whose change leaves both the key and
// the values alike must be listed in notInShape.
func TestShapeCoversRequest(t *testing.T) {
	req := richRequest()
	base := shapeOf(req)
	covered, seen := map[string]bool{}, map[string]bool{}
	var visit func(v reflect.Value, typ reflect.Type)
	visit = func(v reflect.Value, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			name := typ.Name() + "." + sf.Name
			if !composite(sf.Type) {
				seen[name] = true // a composite is covered by its fields
			}
			f := v.Field(i)
			if !f.CanSet() {
				continue // unexported: must be listed
			}
			perturb(f, func() {
				if shapeOf(req) != base {
					covered[name] = true
				}
			}, visit)
		}
	}
	visit(reflect.ValueOf(req).Elem(), reflect.TypeOf(*req))
	for name := range seen {
		if _, ok := notInShape[name]; !ok && !covered[name] {
			t.Errorf("request field %s changes neither the memo key nor the bind values: write it in the shape walk (shape.go) or list it in notInShape", name)
		}
		if _, ok := notInShape[name]; ok && covered[name] {
			t.Errorf("request field %s is in the shape but listed in notInShape", name)
		}
	}
	for name := range notInShape {
		if !seen[name] {
			t.Errorf("notInShape lists %s, which is no field of the request", name)
		}
	}
}

// perturb changes a field (or, for a struct, each field under it) and
// calls check, restoring it afterwards.
func perturb(f reflect.Value, check func(), visit func(reflect.Value, reflect.Type)) {
	old := reflect.New(f.Type()).Elem()
	old.Set(f)
	defer f.Set(old)
	switch f.Kind() {
	case reflect.String:
		f.SetString(f.String() + "x")
	case reflect.Bool:
		f.SetBool(!f.Bool())
	case reflect.Int, reflect.Int64:
		f.SetInt(f.Int() + 1)
	case reflect.Float64:
		f.SetFloat(f.Float() + 1)
	case reflect.Map:
		m := reflect.MakeMap(f.Type())
		for _, k := range f.MapKeys() {
			m.SetMapIndex(k, f.MapIndex(k))
		}
		m.SetMapIndex(reflect.ValueOf("zz"), reflect.New(f.Type().Elem()).Elem())
		f.Set(m)
	case reflect.Pointer:
		if f.IsNil() {
			return
		}
		if f.Elem().Kind() == reflect.Struct {
			visit(f.Elem(), f.Elem().Type())
			return
		}
		p := reflect.New(f.Type().Elem())
		p.Elem().Set(f.Elem())
		f.Set(p)
		perturb(p.Elem(), check, visit)
		return
	case reflect.Slice:
		if f.Type().Elem().Kind() == reflect.Struct {
			for i := 0; i < f.Len(); i++ {
				visit(f.Index(i), f.Type().Elem())
			}
			return
		}
		f.Set(reflect.Append(reflect.AppendSlice(reflect.MakeSlice(f.Type(), 0, f.Len()+1), f), reflect.New(f.Type().Elem()).Elem()))
	case reflect.Struct:
		visit(f, f.Type())
		return
	default:
		panic("perturb: no change for kind " + f.Kind().String())
	}
	check()
}

func composite(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Slice, reflect.Pointer:
		return t.Elem().Kind() == reflect.Struct
	}
	return false
}
