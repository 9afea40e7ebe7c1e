package embedpg

import (
	"context"
	_ "embed"
)

// DemoSQL is the schema `pgrest demo` serves: a few related tables, a view,
// a function, and the authenticator/anonymous roles with grants.
//
//go:embed demo.sql
var DemoSQL string

// DemoDB is the database the demo schema is loaded into.
const DemoDB = "pgrest_demo"

// LoadDemo creates the demo database and loads DemoSQL into it.
func (c *Cluster) LoadDemo(ctx context.Context) error {
	if err := c.CreateDatabase(ctx, DemoDB); err != nil {
		return err
	}
	return c.Exec(ctx, DemoDB, DemoSQL)
}
