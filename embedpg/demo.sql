-- The demo schema: a tiny library. Served from schema "api" to the
-- anonymous role "web_anon" through the login role "authenticator".
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE web_anon NOLOGIN;
GRANT web_anon TO authenticator;

CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO web_anon;

CREATE TABLE api.authors (
  id serial PRIMARY KEY,
  name text NOT NULL,
  born date
);
COMMENT ON TABLE api.authors IS 'People who wrote books';

CREATE TABLE api.books (
  id serial PRIMARY KEY,
  title text NOT NULL,
  year int,
  author_id int NOT NULL REFERENCES api.authors(id),
  tags text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE api.readers (
  id serial PRIMARY KEY,
  name text NOT NULL
);

CREATE TABLE api.loans (
  reader_id int REFERENCES api.readers(id),
  book_id int REFERENCES api.books(id),
  loaned_on date NOT NULL DEFAULT current_date,
  PRIMARY KEY (reader_id, book_id)
);

INSERT INTO api.authors (name, born) VALUES
  ('Ursula K. Le Guin', '1929-10-21'),
  ('Italo Calvino', '1923-10-15'),
  ('Octavia E. Butler', '1947-06-22');
INSERT INTO api.books (title, year, author_id, tags) VALUES
  ('A Wizard of Earthsea', 1968, 1, '{fantasy}'),
  ('The Left Hand of Darkness', 1969, 1, '{scifi}'),
  ('The Dispossessed', 1974, 1, '{scifi,utopia}'),
  ('Invisible Cities', 1972, 2, '{fiction}'),
  ('If on a winter''s night a traveler', 1979, 2, '{fiction}'),
  ('Kindred', 1979, 3, '{scifi}'),
  ('Parable of the Sower', 1993, 3, '{scifi,dystopia}');
INSERT INTO api.readers (name) VALUES ('Ada'), ('Grace');
INSERT INTO api.loans (reader_id, book_id) VALUES (1, 1), (1, 4), (2, 6);

CREATE VIEW api.books_by_decade AS
  SELECT (year / 10) * 10 AS decade, count(*) AS books
  FROM api.books GROUP BY 1;

CREATE FUNCTION api.search_books(q text) RETURNS SETOF api.books
  LANGUAGE sql STABLE AS $$
    SELECT * FROM api.books WHERE title ILIKE '%' || q || '%'
  $$;

GRANT SELECT ON ALL TABLES IN SCHEMA api TO web_anon;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO web_anon;
