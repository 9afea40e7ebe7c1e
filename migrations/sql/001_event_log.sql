-- pgrest's DDL event log: every committed DDL command appends rows here and
-- notifies the configured channel with the newest event id.
CREATE SCHEMA IF NOT EXISTS pgrest;

CREATE TABLE IF NOT EXISTS pgrest.settings (
  name text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE IF NOT EXISTS pgrest.ddl_events (
  id bigserial PRIMARY KEY,
  txid bigint NOT NULL DEFAULT txid_current(),
  command_tag text NOT NULL,
  object_type text,
  object_identity text,
  schema_name text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION pgrest.on_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  r record;
  last_id bigint;
  chan text;
BEGIN
  IF TG_EVENT = 'sql_drop' THEN
    FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
      IF r.schema_name IS DISTINCT FROM 'pgrest' THEN
        INSERT INTO pgrest.ddl_events (command_tag, object_type, object_identity, schema_name)
        VALUES (TG_TAG, r.object_type, r.object_identity, r.schema_name) RETURNING id INTO last_id;
      END IF;
    END LOOP;
  ELSE
    FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
      IF r.schema_name IS DISTINCT FROM 'pgrest' THEN
        INSERT INTO pgrest.ddl_events (command_tag, object_type, object_identity, schema_name)
        VALUES (r.command_tag, r.object_type, r.object_identity, r.schema_name) RETURNING id INTO last_id;
      END IF;
    END LOOP;
  END IF;
  IF last_id IS NOT NULL THEN
    SELECT value INTO chan FROM pgrest.settings WHERE name = 'channel';
    PERFORM pg_notify(coalesce(chan, 'pgrst'), last_id::text);
  END IF;
END $$;

DROP EVENT TRIGGER IF EXISTS pgrest_ddl_end;
CREATE EVENT TRIGGER pgrest_ddl_end ON ddl_command_end EXECUTE FUNCTION pgrest.on_ddl();
DROP EVENT TRIGGER IF EXISTS pgrest_sql_drop;
CREATE EVENT TRIGGER pgrest_sql_drop ON sql_drop EXECUTE FUNCTION pgrest.on_ddl();

GRANT USAGE ON SCHEMA pgrest TO PUBLIC;
GRANT SELECT ON pgrest.ddl_events TO PUBLIC;
