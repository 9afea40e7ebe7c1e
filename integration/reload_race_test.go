package integration

import (
	"sync"
	"testing"

	"github.com/pgrest/pgrest/server/config"
)

// Configuration reloads while requests run: each request reads the
// configuration once (config and JWT verifier swapped together), so under
// -race nothing is read while it is written, and every answer is whole.
func TestConfigReloadUnderLoad(t *testing.T) {
	db := NewDB(t, `CREATE TABLE items (id int); INSERT INTO items VALUES (1); GRANT SELECT ON items TO web_anon;`)
	p := StartPgrest(t, db, nil)
	flip := false
	p.App.SetConfigSource(func() (*config.Config, error) {
		cfg := BaseConfig(db)
		flip = !flip
		cfg.ServerTimingEnabled = flip
		if flip {
			cfg.DBPreRequest = "pg_catalog.now"
		}
		return cfg, nil
	})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				res, err := p.Client.Get(p.URL + "/items")
				if err != nil {
					errs <- err.Error()
					return
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					errs <- res.Status
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if err := p.App.ReloadConfig(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
