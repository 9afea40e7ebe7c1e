-- Each DDL event records the WAL insert position when it was logged, so
-- tools and other instances can tell whether a standby has replayed up to
-- a migration. It is written inside the DDL's transaction, so it is a lower
-- bound of the commit's position; pgrest itself dates each schema snapshot
-- with the position read after loading it (cache.Snapshot.LSN).
-- Existing events keep NULL: their position is not known.
ALTER TABLE pgrest.ddl_events ADD COLUMN IF NOT EXISTS lsn pg_lsn;
ALTER TABLE pgrest.ddl_events ALTER COLUMN lsn SET DEFAULT pg_current_wal_insert_lsn();
