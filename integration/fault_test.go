package integration

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgrest/pgrest/embedpg"
)

// PostgreSQL restarted under a write load: every write pgrest acknowledged
// (2xx) is in the table afterwards, and pgrest serves again without a
// restart of its own.
func TestRestartUnderWriteLoseNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own cluster")
	}
	ctx := context.Background()
	own, err := embedpg.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Remove()
	if err = own.Exec(ctx, "postgres", `CREATE ROLE authenticator LOGIN NOINHERIT; CREATE ROLE web_anon NOLOGIN; GRANT web_anon TO authenticator;
		CREATE TABLE ledger (id int PRIMARY KEY); GRANT SELECT, INSERT ON ledger TO web_anon;`); err != nil {
		t.Fatal(err)
	}
	cfg := BaseConfig("postgres")
	cfg.DBURI = own.URI("authenticator", "postgres")
	cfg.DBPoolAcquisitionTimeout = 2 * time.Second
	p := StartPgrestConfig(t, cfg)
	p.WaitReady()

	var (
		next   atomic.Int64
		mu     sync.Mutex
		acked  []int64
		stop   atomic.Bool
		wg     sync.WaitGroup
		fivexx atomic.Int64
		client = &http.Client{Timeout: 10 * time.Second}
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				id := next.Add(1)
				res, perr := client.Post(p.URL+"/ledger", "application/json", strings.NewReader(`{"id":`+strconv.FormatInt(id, 10)+`}`))
				if perr != nil {
					continue
				}
				res.Body.Close()
				switch {
				case res.StatusCode/100 == 2:
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				case res.StatusCode >= 500:
					fivexx.Add(1) // expected while the database is down
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err = own.StopServer(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err = own.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, "/ledger?limit=1", 200, 60*time.Second)
	time.Sleep(500 * time.Millisecond) // writes succeed again
	stop.Store(true)
	wg.Wait()

	conn, err := pgx.Connect(ctx, own.URI("postgres", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stored := map[int64]bool{}
	rows, err := conn.Query(ctx, "SELECT id FROM ledger")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		stored[id] = true
	}
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	for _, id := range acked {
		if !stored[id] {
			t.Errorf("write %d was acknowledged but is not stored", id)
		}
	}
	t.Logf("%d writes acknowledged, all stored; %d answered 5xx while the database was down", len(acked), fivexx.Load())
}
