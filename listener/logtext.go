package listener

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// serverName is how PostgREST names the server in its listener line:
// "PostgreSQL" and the version number.
func serverName(conn *pgx.Conn) string {
	v := conn.PgConn().ParameterStatus("server_version")
	if f := strings.Fields(v); len(f) > 0 {
		v = f[0]
	}
	return "PostgreSQL " + v
}

// connAddr is host:port of the connection as the connection string gave
// them (a socket directory for unix sockets), as libpq reports them.
func connAddr(conn *pgx.Conn) string {
	c := conn.Config()
	return c.Host + ":" + strconv.Itoa(int(c.Port))
}

// listenError words a connection failure on one line, with libpq's
// message for a host name that does not resolve (PostgREST shows libpq's).
func listenError(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "could not translate host name " + strconv.Quote(dns.Name) + " to address: " + dns.Err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	if errors.Is(err, context.Canceled) {
		return "Connection error"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

// millis is a duration as PostgREST logs it: milliseconds, one decimal.
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}
