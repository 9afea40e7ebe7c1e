package planner

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/pgrest/pgrest/apierr"
	"github.com/pgrest/pgrest/cache"
	"github.com/pgrest/pgrest/request"
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

// singleBodyTypes are the types of a single unnamed parameter that takes
// the whole body, by the Content-Type that sends it.
var singleBodyTypes = map[string]string{
	"json": "application/json", "jsonb": "application/json", "text": "text/plain",
	"bytea": "application/octet-stream", "xml": "text/xml",
}

// callArgs are the arguments a call names. text holds those given as
// text (a GET's operator-less parameters, a urlencoded form's fields),
// nil when the body is JSON.
type callArgs struct {
	keys         []string
	text         map[string][]string
	bodyIsObject bool
}

// readCallArgs finds the argument names of a request: the JSON object's
// keys, a form's fields, or a GET's operator-less parameters; sorted.
func readCallArgs(req *request.Request) (*callArgs, error) {
	a := &callArgs{}
	switch {
	case req.Method != http.MethodPost:
		a.text = req.RPCArgs
	case req.ContentType.Type == "application" && req.ContentType.Subtype == "x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(req.Body))
		if err != nil {
			return nil, apierr.InvalidBody(err.Error())
		}
		a.text, a.bodyIsObject = vals, true
	case isJSON(req.ContentType):
		body := bytes.TrimSpace(req.Body)
		if len(body) == 0 {
			body = []byte("{}")
		}
		if body[0] != '{' {
			if !json.Valid(body) {
				return nil, apierr.InvalidBody("the body is not valid JSON")
			}
			return a, nil
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, apierr.InvalidBody(err.Error())
		}
		a.bodyIsObject = true
		for k := range obj {
			a.keys = append(a.keys, k)
		}
	}
	for k := range a.text {
		a.keys = append(a.keys, k)
	}
	sort.Strings(a.keys)
	return a, nil
}

// resolveCall picks the overload an /rpc request names (PGRST202 when none
// fits, PGRST203 when several do) and the payload its arguments are read from.
func resolveCall(req *request.Request, snap *cache.Snapshot) (*call, error) {
	a, err := readCallArgs(req)
	if err != nil {
		return nil, err
	}
	cl, err := chooseOverload(req, snap, a)
	if err != nil {
		return nil, err
	}
	if req.Prefs.MaxAffected != nil && req.Prefs.Handling == "strict" && !cl.fn.ReturnsSet {
		// Only rows can be counted against max-affected.
		return nil, apierr.MaxAffectedRpcViolation()
	}
	switch {
	case cl.whole && cl.fn.Params[0].Type == "bytea":
		cl.payload = req.Body
	case cl.whole:
		cl.payload = string(req.Body)
	case len(cl.args) == 0:
	case a.text == nil:
		cl.payload = string(req.Body)
	default:
		cl.payload = textPayload(cl.args, a.text)
	}
	return cl, nil
}

func chooseOverload(req *request.Request, snap *cache.Snapshot, a *callArgs) (*call, error) {
	var matches []*call
	for _, f := range callable(snap, cache.QI{Schema: req.Schema, Name: req.Resource}) {
		if cl := match(f, req, a.keys, a.bodyIsObject); cl != nil {
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
		return nil, noFunction(snap, req, a.keys)
	case len(matches) > 1:
		var sigs []string
		for _, m := range matches {
			sigs = append(sigs, m.fn.Signature())
		}
		return nil, apierr.AmbiguousFunction(sigs)
	}
	return matches[0], nil
}

// textPayload is the JSON object of text arguments: json_to_record reads
// each with its parameter's input function, as if written in SQL. A
// variadic parameter takes every value given, the others the last one.
func textPayload(params []cache.Param, text map[string][]string) string {
	args := map[string]any{}
	for _, p := range params {
		vs := text[p.Name]
		if p.Variadic {
			args[p.Name] = vs
		} else {
			args[p.Name] = vs[len(vs)-1]
		}
	}
	b, _ := json.Marshal(args)
	return string(b)
}

func isJSON(mt request.MediaType) bool {
	return mt.Type == "" || (mt.Type == "application" && mt.Subtype == "json")
}

// match reports how f takes the request's arguments, or nil if it can't.
func match(f *cache.Function, req *request.Request, keys []string, bodyIsObject bool) *call {
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
	if len(byName) > 0 {
		return nil
	}
	return cl
}

// callable lists the overloads of a name that a request can call: those
// whose parameters all have names, or with one unnamed parameter of a
// type that takes a whole body. (PostgREST's schema cache holds no others.)
func callable(snap *cache.Snapshot, qi cache.QI) []*cache.Function {
	var out []*cache.Function
	for _, f := range snap.Functions[qi] {
		if f.IsProcedure || !hasCallableParams(f) {
			continue
		}
		out = append(out, f)
	}
	return out
}

func hasCallableParams(f *cache.Function) bool {
	if len(f.Params) == 1 && f.Params[0].Name == "" {
		return singleBodyTypes[f.Params[0].Type] != ""
	}
	for _, p := range f.Params {
		if p.Name == "" {
			return false
		}
	}
	return true
}

// singleUnnamedKinds name, by the Content-Type of a POST, the single
// unnamed parameter a body of that type is searched for.
var singleUnnamedKinds = map[string]string{"text/plain": "text", "text/xml": "xml", "application/octet-stream": "bytea"}

// noFunction is PGRST202, worded as PostgREST words it for what was
// searched, with a hint naming the closest parameter list of the
// function's overloads, or else the closest function name.
func noFunction(snap *cache.Snapshot, req *request.Request, keys []string) error {
	qi := cache.QI{Schema: req.Schema, Name: req.Resource}
	name := req.Schema + "." + req.Resource
	post := req.Method == http.MethodPost
	kind := ""
	if post {
		kind = singleUnnamedKinds[req.ContentType.Type+"/"+req.ContentType.Subtype]
	}
	listed, searched := " without parameters", " without parameters"
	if len(keys) > 0 {
		listed = "(" + strings.Join(keys, ", ") + ")"
		searched = " with parameter "
		if len(keys) > 1 {
			searched = " with parameters "
		}
		searched += strings.Join(keys, ", ")
	}
	switch {
	case kind != "":
		listed, searched = "", " with a single unnamed "+kind+" parameter"
	case post && isJSON(req.ContentType):
		searched += " or with a single unnamed json/jsonb parameter"
	}
	e := apierr.NotFoundFunction("Could not find the function "+name+listed+" in the schema cache",
		"Searched for the function "+name+searched+", but no matches were found in the schema cache.", "")
	if kind != "" {
		return e
	}
	if fs := callable(snap, qi); len(fs) > 0 {
		var lists []string
		for _, f := range fs {
			var ps []string
			for _, p := range f.Params {
				ps = append(ps, p.Name)
			}
			lists = append(lists, paramList(ps))
		}
		if best := fuzzyBest(lists, paramList(keys)); best != "" {
			e.Hint = "Perhaps you meant to call the function " + name + best
		}
		return e
	}
	var names []string
	for q := range snap.Functions {
		if q.Schema == req.Schema && len(callable(snap, q)) > 0 {
			names = append(names, q.Name)
		}
	}
	sort.Strings(names)
	if best := fuzzyBest(names, req.Resource); best != "" {
		e.Hint = "Perhaps you meant to call the function " + req.Schema + "." + best
	}
	return e
}

// paramList renders parameter names as PostgREST compares them in hints:
// sorted, "(a, b)".
func paramList(names []string) string {
	ps := append([]string(nil), names...)
	sort.Strings(ps)
	return "(" + strings.Join(ps, ", ") + ")"
}

// callNode is a resolved call in the plan tree: the overload, how its
// arguments reach it, and the parameter ($n) carrying them.
type callNode struct {
	fn       *cache.Function
	args     []cache.Param
	whole    bool
	param    int // 0 when the call takes no arguments
	readOnly bool
	settings map[string]string
}

// call resolves a call's plan: the call and the read of its result.
func (b *builder) call(cl *call) (*readPlan, error) {
	req := b.req
	cn := &callNode{fn: cl.fn, args: cl.args, whole: cl.whole, settings: hoisted(cl.fn, b.opts.HoistedSettings),
		readOnly: req.Method != http.MethodPost || cl.fn.Volatility != cache.Volatile}
	if cl.payload != nil {
		cn.param = b.param(&req.Body)
	}
	rp, err := b.read(callResult(b.snap, cl.fn), cl.fn)
	if err != nil {
		return nil, err
	}
	rp.call = cn
	return rp, nil
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
