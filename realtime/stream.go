package realtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/pgrest/pgrest/cache"
)

// keyVal is one replica-identity column of a changed row, as pgoutput's
// text format gives it (the type's output function, like ::text).
type keyVal struct {
	Col string
	Val string
	OID uint32
}

// change is one row event of a transaction: which relation, which key.
// No other column of the WAL is kept: rows are always re-read.
type change struct {
	Pos int
	Rel cache.QI
	Op  byte // 'I', 'U', 'D'
	Key []keyVal
	// Cols are the relation's columns as the WAL knew them, to tell when
	// the schema cache has not caught up with a DDL change yet.
	Cols []string
}

// ident names a row of a relation, stable across transactions.
func (c *change) ident() string {
	var sb strings.Builder
	sb.WriteString(c.Rel.String())
	for _, k := range c.Key {
		sb.WriteByte(0)
		sb.WriteString(k.Val)
	}
	return sb.String()
}

// txn is a committed transaction's changes to published tables.
type txn struct {
	LSN     pglogrepl.LSN // commit LSN: the event id's first half
	End     pglogrepl.LSN // end LSN: what the slot may be confirmed to
	At      time.Time
	Changes []change
	// Truncated relations lost every row at once: their subscribers get
	// a reset (re-fetch) rather than one delete per row.
	Truncated []cache.QI
}

// missingSetting is a setup problem the client is told about (503).
type missingSetting struct{ setting, hint string }

func (e *missingSetting) Error() string { return e.setting + ": " + e.hint }

// replConn opens a replication connection (replication=database) and
// checks what logical decoding needs, naming what is missing.
func (h *Hub) replConn(ctx context.Context) (*pgconn.PgConn, error) {
	pc, err := pgconn.ParseConfig(h.cfg.ConnString)
	if err != nil {
		return nil, err
	}
	pc.RuntimeParams["replication"] = "database"
	pc.RuntimeParams["application_name"] = "pgrest realtime " + h.cfg.Slot
	conn, err := pgconn.ConnectConfig(ctx, pc)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" {
		return nil, &missingSetting{"REPLICATION", "the role pgrest connects as needs the REPLICATION attribute (ALTER ROLE ... REPLICATION): " + pe.Message}
	}
	if err != nil {
		return nil, err
	}
	if err := h.preflight(ctx, conn); err != nil {
		_ = conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

func (h *Hub) preflight(ctx context.Context, conn *pgconn.PgConn) error {
	rows, err := conn.Exec(ctx, "SHOW wal_level").ReadAll()
	if err != nil {
		return err
	}
	if lvl := string(rows[0].Rows[0][0]); lvl != "logical" {
		return &missingSetting{"wal_level", "wal_level is " + lvl + "; realtime needs wal_level = logical (postgresql.conf, then restart PostgreSQL)"}
	}
	pub := escapeLiteral(h.cfg.Publication)
	rows, err = conn.Exec(ctx, "SELECT count(*) FROM pg_publication WHERE pubname = '"+pub+"'").ReadAll()
	if err != nil {
		return err
	}
	if string(rows[0].Rows[0][0]) == "0" {
		return &missingSetting{"publication " + h.cfg.Publication, "the publication " + h.cfg.Publication + " does not exist; run `pgrest migrate` as a superuser"}
	}
	_, err = pglogrepl.CreateReplicationSlot(ctx, conn, h.cfg.Slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42710" {
		err = nil // the slot of an earlier run: resume from it
	}
	if errors.As(err, &pe) && pe.Code == "42501" {
		return &missingSetting{"REPLICATION", "the role pgrest connects as needs the REPLICATION attribute (ALTER ROLE ... REPLICATION)"}
	}
	return err
}

// escapeLiteral: names come from configuration, never from a client, but
// are still quoted (the replication protocol's simple queries take no
// parameters).
func escapeLiteral(s string) string { return strings.ReplaceAll(s, "'", "''") }

// slotPosition is where the slot resumes: changes after it are retained.
func (h *Hub) slotPosition(ctx context.Context, conn *pgconn.PgConn) (pglogrepl.LSN, error) {
	rows, err := conn.Exec(ctx, "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '"+escapeLiteral(h.cfg.Slot)+"'").ReadAll()
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 || len(rows[0].Rows) == 0 || rows[0].Rows[0][0] == nil {
		return 0, fmt.Errorf("replication slot %s disappeared", h.cfg.Slot)
	}
	return pglogrepl.ParseLSN(string(rows[0].Rows[0][0]))
}

// decoder turns pgoutput messages into transactions.
type decoder struct {
	rels map[uint32]*pglogrepl.RelationMessage
	cols map[uint32][]string // per relation, shared by its changes
	cur  *txn
}

func (d *decoder) handle(data []byte) (*txn, error) {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return nil, err
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		d.rels[m.RelationID] = m
		cols := make([]string, len(m.Columns))
		for i, c := range m.Columns {
			cols[i] = c.Name
		}
		d.cols[m.RelationID] = cols
	case *pglogrepl.BeginMessage:
		d.cur = &txn{At: m.CommitTime}
	case *pglogrepl.InsertMessage:
		d.add(m.RelationID, 'I', m.Tuple)
	case *pglogrepl.UpdateMessage:
		if m.OldTuple != nil {
			// The key changed: the old key's row is gone.
			d.add(m.RelationID, 'D', m.OldTuple)
		}
		d.add(m.RelationID, 'U', m.NewTuple)
	case *pglogrepl.DeleteMessage:
		d.add(m.RelationID, 'D', m.OldTuple)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if rel := d.rels[id]; rel != nil && d.cur != nil {
				d.cur.Truncated = append(d.cur.Truncated, cache.QI{Schema: rel.Namespace, Name: rel.RelationName})
			}
		}
	case *pglogrepl.CommitMessage:
		t := d.cur
		d.cur = nil
		if t == nil {
			return nil, nil
		}
		t.LSN, t.End, t.At = m.CommitLSN, m.TransactionEndLSN, m.CommitTime
		return t, nil
	}
	return nil, nil
}

func (d *decoder) add(relID uint32, op byte, tup *pglogrepl.TupleData) {
	rel := d.rels[relID]
	if rel == nil || tup == nil || d.cur == nil {
		return
	}
	c := change{Pos: len(d.cur.Changes), Rel: cache.QI{Schema: rel.Namespace, Name: rel.RelationName}, Op: op, Cols: d.cols[relID]}
	for i, col := range rel.Columns {
		if col.Flags&1 == 0 || i >= len(tup.Columns) {
			continue
		}
		tc := tup.Columns[i]
		if tc.DataType != pglogrepl.TupleDataTypeText {
			return // a NULL or unchanged key: not addressable
		}
		c.Key = append(c.Key, keyVal{Col: col.Name, Val: string(tc.Data), OID: col.DataType})
	}
	if len(c.Key) > 0 {
		d.cur.Changes = append(d.cur.Changes, c)
	}
}

// stream runs the replication protocol until ctx ends or the connection
// fails, handing each committed transaction to h.committed.
func (h *Hub) stream(ctx context.Context, conn *pgconn.PgConn) error {
	err := pglogrepl.StartReplication(ctx, conn, h.cfg.Slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + escapeLiteral(h.cfg.Publication) + "'"},
	})
	if err != nil {
		return err
	}
	// Ask for a keepalive now: it tells how far the server has sent, which
	// is how a resuming subscriber knows the history is all here.
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: h.confirmable(), ReplyRequested: true,
	}); err != nil {
		return err
	}
	d := &decoder{rels: map[uint32]*pglogrepl.RelationMessage{}, cols: map[uint32][]string{}}
	// Report often enough that the slot follows a short retention window.
	statusEvery := min(5*time.Second, max(h.cfg.Retention/2, 100*time.Millisecond))
	next := time.Now().Add(statusEvery)
	for {
		if time.Now().After(next) {
			if err := h.sendStatus(ctx, conn); err != nil {
				return err
			}
			next = time.Now().Add(statusEvery)
		}
		rctx, cancel := context.WithDeadline(ctx, next)
		raw, err := conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && ctx.Err() == nil {
				continue
			}
			return err
		}
		cd, ok := raw.(*pgproto3.CopyData)
		if !ok {
			if er, isErr := raw.(*pgproto3.ErrorResponse); isErr {
				return pgconn.ErrorResponseToPgError(er)
			}
			continue
		}
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err != nil {
				return err
			}
			h.serverEnd(ka.ServerWALEnd, ka.ServerWALEnd, d.cur == nil)
			if ka.ReplyRequested {
				next = time.Time{}
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				return err
			}
			t, err := d.handle(xld.WALData)
			if err != nil {
				return err
			}
			if t != nil {
				h.committed(ctx, t)
			}
			h.serverEnd(xld.ServerWALEnd, xld.WALStart, d.cur == nil)
		}
	}
}

func (h *Hub) sendStatus(ctx context.Context, conn *pgconn.PgConn) error {
	pos := h.confirmable()
	return pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pos, WALFlushPosition: pos, WALApplyPosition: pos,
	})
}
