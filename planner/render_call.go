package planner

import (
	"strings"

	"github.com/pgrest/pgrest/cache"
)

// call renders a call's plan.
func (c *renderer) call(p *readPlan) *Plan {
	cn, alias := p.call, p.root.alias
	from, with := callSource(cn, alias), ""
	if p.count == "exact" && !cn.readOnly {
		// Counting reads the rows a second time: a call that may write
		// must still run once, so its rows are materialized first.
		with = "WITH pgrst_source AS (SELECT " + ident(alias) + ".* FROM " + from + ") "
		from = "pgrst_source AS " + ident(alias)
	}
	pl := c.read(p, from, with)
	pl.ReadOnly = cn.readOnly
	pl.Volatile = cn.fn.Volatility == cache.Volatile
	pl.NoContent = cn.fn.ReturnKind == cache.ReturnsVoid
	pl.Settings = cn.settings
	return pl
}

// callSource is the FROM item of a call: the function's rows under alias.
// Scalar results get one column, pgrst_scalar.
func callSource(cl *callNode, alias string) string {
	f := cl.fn
	fn := ident(f.Schema) + "." + ident(f.Name)
	as := " AS " + ident(alias)
	// A function returning a bare record can't be a FROM item without a
	// column list: it is called in a select list instead.
	wrap := func(call string) string { return call + as }
	// A scalar is called in a select list, as PostgREST calls it (its plan
	// costs are what PostgREST's tests pin): no Function Scan, whose
	// tuplestore would hold the one value.
	scalar := f.ReturnKind != cache.ReturnsComposite
	if scalar {
		wrap = func(call string) string { return "(SELECT " + call + " AS pgrst_scalar)" + as }
	}
	switch {
	case cl.whole:
		return wrap(fn + "(" + param(cl.param) + "::" + f.Params[0].Type + ")")
	case len(cl.args) == 0:
		return wrap(fn + "()")
	}
	var defs, named []string
	for _, p := range cl.args {
		defs = append(defs, ident(p.Name)+" "+argType(p.Type))
		arg := ident(p.Name) + " := _pgrest_args." + ident(p.Name)
		if p.Variadic {
			arg = "VARIADIC " + arg
		}
		named = append(named, arg)
	}
	args := "json_to_record(" + param(cl.param) + "::json) AS _pgrest_args(" + strings.Join(defs, ", ") + ")"
	call := fn + "(" + strings.Join(named, ", ") + ")"
	if scalar {
		return "(SELECT " + call + " AS pgrst_scalar FROM " + args + ")" + as
	}
	return args + ", LATERAL " + wrap(call)
}

// argType is the type an argument is read as before the call. A
// parameter's declared type has no length, and character and bit alone
// mean length 1: reading as the varying type leaves the length check to
// whatever the function does with the value, as PostgREST does.
func argType(t string) string {
	base, arr := strings.CutSuffix(t, "[]")
	switch base {
	case "character":
		base = "character varying"
	case "bit":
		base = "bit varying"
	default:
		return t
	}
	if arr {
		base += "[]"
	}
	return base
}
