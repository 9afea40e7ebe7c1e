package planner

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/server/apierr"
	"github.com/pgrest/pgrest/server/request"
)

// call is a resolved /rpc request: which overload, and how its arguments
// reach it. The arguments are one bind parameter (a JSON object, or the
// whole body for a function taking a single unnamed parameter).
type call struct {
	fn *cache.Function
	// args are the parameters given, in the function's order.
	args []cache.Param
	// whole is set when the body is the function's single unnamed argument.
	whole   bool
	payload any
}

// shape is what the compiled SQL depends on besides the request grammar.
func (c *call) shape() string {
	var b strings.Builder
	b.WriteString(c.fn.Signature())
	b.WriteString(strconv.FormatBool(c.whole))
	for _, p := range c.args {
		b.WriteString("\x00" + p.Name)
	}
	return b.String()
}

// singleBodyTypes are the types of a single unnamed parameter that takes
// the whole body, by the Content-Type that sends it.
var singleBodyTypes = map[string]string{
	"json": "application/json", "jsonb": "application/json", "text": "text/plain",
	"bytea": "application/octet-stream", "xml": "text/xml",
}

// resolveCall picks the overload an /rpc request names (PGRST202 when none
// fits, PGRST203 when several do) and moves the query parameters that are
// its arguments out of the filters.
func resolveCall(req *request.Request, snap *cache.Snapshot) (*call, error) {
	fns := snap.Functions[cache.QI{Schema: req.Schema, Name: req.Resource}]
	post := req.Method == http.MethodPost
	var keys []string
	var obj map[string]json.RawMessage
	bodyIsObject := false
	if post {
		body := bytes.TrimSpace(req.Body)
		if len(body) == 0 {
			body = []byte("{}")
		}
		if isJSON(req.ContentType) {
			if body[0] == '{' {
				if err := json.Unmarshal(body, &obj); err != nil {
					return nil, apierr.InvalidBody(err.Error())
				}
				bodyIsObject = true
			} else if !json.Valid(body) {
				return nil, apierr.InvalidBody("the body is not valid JSON")
			}
		}
		for k := range obj {
			keys = append(keys, k)
		}
	} else {
		for k := range req.RPCArgs {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	filterable := map[string]bool{}
	for _, f := range req.Filters {
		filterable[f.Key] = true
	}

	var matches []*call
	for _, f := range fns {
		if f.IsProcedure {
			continue
		}
		if cl := match(f, req, keys, bodyIsObject, filterable); cl != nil {
			matches = append(matches, cl)
		}
	}
	if len(matches) > 1 {
		// Overloads that take exactly the given arguments beat those that
		// would fill the rest with defaults.
		var exact []*call
		for _, m := range matches {
			if len(m.args) == len(m.fn.Params) {
				exact = append(exact, m)
			}
		}
		if len(exact) == 1 {
			matches = exact
		}
	}
	switch {
	case len(matches) == 0:
		return nil, noFunction(snap, req, keys)
	case len(matches) > 1:
		var sigs []string
		for _, m := range matches {
			sigs = append(sigs, m.fn.Signature())
		}
		return nil, apierr.New(http.StatusMultipleChoices, "PGRST203",
			"Could not choose the best candidate function between: "+strings.Join(sigs, ", "), "",
			"Try renaming the parameters or the function itself in the database so function overloading can be resolved")
	}
	cl := matches[0]
	if cl.whole {
		cl.payload = string(req.Body)
		if cl.fn.Params[0].Type == "bytea" {
			cl.payload = req.Body
		}
		return cl, nil
	}
	if len(cl.args) == 0 {
		return cl, nil
	}
	if post {
		cl.payload = string(req.Body)
		return cl, nil
	}
	// Query-string arguments are text; json_to_record parses each with its
	// parameter's input function, as if written in SQL.
	args := map[string]any{}
	for _, p := range cl.args {
		vs := req.RPCArgs[p.Name]
		if p.Variadic {
			args[p.Name] = vs
		} else {
			args[p.Name] = vs[len(vs)-1]
		}
	}
	b, _ := json.Marshal(args)
	cl.payload = string(b)
	return cl, nil
}

func isJSON(mt request.MediaType) bool {
	return mt.Type == "" || (mt.Type == "application" && mt.Subtype == "json")
}

// match reports how f takes the request's arguments, or nil if it can't.
func match(f *cache.Function, req *request.Request, keys []string, bodyIsObject bool, filterable map[string]bool) *call {
	post := req.Method == http.MethodPost
	if len(f.Params) == 1 && f.Params[0].Name == "" {
		ct := singleBodyTypes[f.Params[0].Type]
		sent := req.ContentType.Type + "/" + req.ContentType.Subtype
		if isJSON(req.ContentType) {
			sent = "application/json"
		}
		if post && ct == sent {
			return &call{fn: f, whole: true}
		}
		return nil
	}
	if post && !bodyIsObject && len(req.Body) > 0 && len(bytes.TrimSpace(req.Body)) > 0 {
		return nil
	}
	byName := map[string]bool{}
	for _, k := range keys {
		byName[k] = true
	}
	cl := &call{fn: f}
	for _, p := range f.Params {
		switch {
		case byName[p.Name]:
			cl.args = append(cl.args, p)
			delete(byName, p.Name)
		case !p.HasDefault:
			return nil
		}
	}
	for k := range byName {
		// On GET, a parameter that is no argument must be a filter on the result.
		if post || !filterable[k] {
			return nil
		}
	}
	return cl
}

// noFunction is PGRST202, with a hint naming the closest function.
func noFunction(snap *cache.Snapshot, req *request.Request, keys []string) error {
	name := req.Schema + "." + req.Resource
	with := "without parameters"
	if len(keys) > 0 {
		with = "with parameters " + strings.Join(keys, ", ")
	}
	e := apierr.New(http.StatusNotFound, "PGRST202",
		"Could not find the function "+name+"("+strings.Join(keys, ", ")+") in the schema cache",
		"Searched for the function "+name+" "+with+" or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.", "")
	if fs := snap.Functions[cache.QI{Schema: req.Schema, Name: req.Resource}]; len(fs) > 0 {
		// The overload whose parameter list, written "(a, b)" sorted, is
		// nearest to the keys given.
		var lists []string
		for _, f := range fs {
			var ps []string
			for _, p := range f.Params {
				ps = append(ps, p.Name)
			}
			lists = append(lists, paramList(ps))
		}
		if best := fuzzyBest(lists, paramList(keys), otherHintScore); best != "" {
			e.Hint = "Perhaps you meant to call the function " + name + best
		}
		return e
	}
	var names []string
	for qi := range snap.Functions {
		if qi.Schema == req.Schema {
			names = append(names, qi.Name)
		}
	}
	sort.Strings(names)
	if best := fuzzyBest(names, req.Resource, nameHintScore); best != "" {
		e.Hint = "Perhaps you meant to call the function " + req.Schema + "." + best
	}
	return e
}

func paramList(names []string) string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return "(" + strings.Join(sorted, ", ") + ")"
}

// callSource is the FROM item of a call: the function's rows under alias.
// Scalar results get one column, pgrst_scalar.
func (c *compiler) callSource(cl *call, alias string) string {
	f := cl.fn
	fn := ident(f.Schema) + "." + ident(f.Name)
	as := " AS " + ident(alias)
	if f.ReturnKind != cache.ReturnsComposite {
		as += "(pgrst_scalar)"
	}
	switch {
	case cl.whole:
		return fn + "(" + c.param(&c.req.Body) + "::" + f.Params[0].Type + ")" + as
	case len(cl.args) == 0:
		return fn + "()" + as
	}
	var defs, named []string
	for _, p := range cl.args {
		defs = append(defs, ident(p.Name)+" "+p.Type)
		arg := ident(p.Name) + " := _pgrest_args." + ident(p.Name)
		if p.Variadic {
			arg = "VARIADIC " + arg
		}
		named = append(named, arg)
	}
	return "json_to_record(" + c.param(&c.req.Body) + "::json) AS _pgrest_args(" + strings.Join(defs, ", ") + "), LATERAL " +
		fn + "(" + strings.Join(named, ", ") + ")" + as
}

// callResult is the relation a call's rows are planned against: the
// relation whose row type it returns (so embedding and computed fields
// work), else the function's own result columns.
func callResult(snap *cache.Snapshot, f *cache.Function) *cache.Relation {
	if f.ReturnsRelation {
		if r := snap.Relations[f.ReturnType]; r != nil {
			return r
		}
	}
	return &cache.Relation{Schema: f.Schema, Name: f.Name, Columns: f.Columns}
}

// hoisted are the function's settings that must be set on the transaction
// before the call (db-hoisted-tx-settings).
func hoisted(f *cache.Function, names []string) map[string]string {
	var out map[string]string
	for _, n := range names {
		if v, ok := f.Settings[n]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[n] = v
		}
	}
	return out
}
