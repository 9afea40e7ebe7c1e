package executor

import (
	"encoding/binary"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The raw readers take only what they can read exactly; anything else
// goes back to pgx's scan.
func TestRawColumns(t *testing.T) {
	bin := make([]byte, 8)
	binary.BigEndian.PutUint64(bin, uint64(1<<40+7))
	int8Bin := pgconn.FieldDescription{DataTypeOID: pgtype.Int8OID, Format: pgtype.BinaryFormatCode}
	int8Text := pgconn.FieldDescription{DataTypeOID: pgtype.Int8OID, Format: pgtype.TextFormatCode}
	if n, ok := rawInt8(int8Bin, bin); !ok || *n != 1<<40+7 {
		t.Fatalf("binary int8: %v %v", n, ok)
	}
	if n, ok := rawInt8(int8Text, []byte("-42")); !ok || *n != -42 {
		t.Fatalf("text int8: %v %v", n, ok)
	}
	if n, ok := rawInt8(int8Bin, nil); !ok || n != nil {
		t.Fatal("NULL int8 is nil")
	}
	for _, bad := range []struct {
		fd pgconn.FieldDescription
		v  []byte
	}{
		{int8Bin, []byte{1, 2, 3}},
		{int8Text, []byte("4.5")},
		{pgconn.FieldDescription{DataTypeOID: pgtype.Int4OID}, []byte("1")},
	} {
		if _, ok := rawInt8(bad.fd, bad.v); ok {
			t.Fatalf("%+v %q read as int8", bad.fd, bad.v)
		}
	}
	if s, ok := rawText(pgconn.FieldDescription{DataTypeOID: pgtype.JSONOID, Format: pgtype.BinaryFormatCode}, []byte(`{"a":1}`)); !ok || *s != `{"a":1}` {
		t.Fatal("json is its text")
	}
	if _, ok := rawText(pgconn.FieldDescription{DataTypeOID: pgtype.JSONBOID, Format: pgtype.BinaryFormatCode}, []byte("\x01{}")); ok {
		t.Fatal("binary jsonb carries a version byte: not read raw")
	}
}
