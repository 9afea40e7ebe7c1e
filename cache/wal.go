package cache

import (
	"fmt"
	"strconv"
	"strings"
)

// LSN is a position in PostgreSQL's write-ahead log (pg_lsn). A snapshot
// records the WAL insert position read when it was loaded: a replica that
// has replayed that far has every DDL change the snapshot reflects.
type LSN uint64

// walPageSize and shortPageHeader are PostgreSQL's XLOG_BLCKSZ and
// SizeOfXLogShortPHD (the defaults every packaged build uses).
const (
	walPageSize     = 8192
	shortPageHeader = 24
)

// RecordEnd turns a WAL insert position into the end of the last record
// written before it. The insert position skips the next page's header when
// a record ends exactly at a page boundary, while a standby's replay
// position stops at the boundary: compared unadjusted, an idle standby
// would look one header behind until the next record.
func (l LSN) RecordEnd() LSN {
	if l%walPageSize == shortPageHeader {
		return l - shortPageHeader
	}
	return l
}

// String is PostgreSQL's text form, e.g. 0/16B3748.
func (l LSN) String() string {
	return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF)
}

// ParseLSN reads PostgreSQL's text form of a pg_lsn (hex "X/Y").
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("invalid LSN %q: expected the form X/Y", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid LSN %q", s)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid LSN %q", s)
	}
	return LSN(h<<32 | l), nil
}

// LSNQuery selects a pg_lsn expression as a number a Go uint64 scans from.
func LSNQuery(expr string) string {
	return "SELECT (" + expr + " - '0/0'::pg_lsn)::bigint"
}

// CommittedLSNSQL selects, right after a commit, a WAL position at or past
// its commit record that a standby will reach without waiting for other
// work: the flush position, which a synchronous commit has moved past its
// record; under synchronous_commit = off the commit may not be flushed
// yet, so the insert position (the WAL writer flushes it shortly).
var CommittedLSNSQL = LSNQuery(`CASE WHEN current_setting('synchronous_commit') = 'off'
	THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END`)
