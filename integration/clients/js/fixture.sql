-- The schema the client tests drive: a small lending library in schema
-- "api" (the default) and a second exposed schema "archive" for schema()
-- switching. Roles follow PostgREST's recommended setup and are created
-- cluster-wide by the Go harness: authenticator (LOGIN NOINHERIT) may become
-- web_anon (anonymous) or test_user (authenticated, from a JWT).
CREATE SCHEMA api;
CREATE SCHEMA archive;
GRANT USAGE ON SCHEMA api, archive TO web_anon, test_user;

CREATE TABLE api.authors (
  id   int PRIMARY KEY,
  name text NOT NULL,
  born int
);
CREATE TABLE api.author_profiles (
  author_id int PRIMARY KEY REFERENCES api.authors(id),
  bio text NOT NULL
);
CREATE TABLE api.books (
  id        serial PRIMARY KEY,
  title     text NOT NULL,
  author_id int REFERENCES api.authors(id),
  year      int,
  pages     int NOT NULL DEFAULT 100,
  available boolean NOT NULL DEFAULT true,
  tags      text[] NOT NULL DEFAULT '{}',
  title_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', title)) STORED
);
CREATE TABLE api.reviews (
  id       serial PRIMARY KEY,
  book_id  int NOT NULL REFERENCES api.books(id),
  reviewer text NOT NULL,
  stars    int NOT NULL CHECK (stars BETWEEN 1 AND 5)
);
CREATE TABLE api.shelves (
  id   int PRIMARY KEY,
  name text NOT NULL
);
CREATE TABLE api.book_shelves (
  book_id  int REFERENCES api.books(id),
  shelf_id int REFERENCES api.shelves(id),
  PRIMARY KEY (book_id, shelf_id)
);
-- self-referencing: a staff member's manager is another staff member
CREATE TABLE api.staff (
  id         int PRIMARY KEY,
  name       text NOT NULL,
  manager_id int REFERENCES api.staff(id)
);
CREATE TABLE api.loans (
  id      serial PRIMARY KEY,
  book_id int NOT NULL REFERENCES api.books(id),
  member  text NOT NULL DEFAULT current_setting('request.jwt.claims', true)::json->>'sub',
  note    text
);
ALTER TABLE api.loans ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_loans ON api.loans TO test_user
  USING (member = current_setting('request.jwt.claims', true)::json->>'sub');

CREATE TABLE api.exhibitions (
  id     int PRIMARY KEY,
  name   text NOT NULL,
  during daterange NOT NULL,
  meta   jsonb NOT NULL DEFAULT '{}'
);

CREATE VIEW api.book_ratings AS
  SELECT b.id, b.title, avg(r.stars)::numeric(3,2) AS rating, count(r.*) AS reviews
  FROM api.books b LEFT JOIN api.reviews r ON r.book_id = b.id
  GROUP BY b.id, b.title;

CREATE FUNCTION api.search_books(q text) RETURNS SETOF api.books
  LANGUAGE sql STABLE AS $$ SELECT * FROM api.books WHERE title ILIKE '%' || q || '%' ORDER BY id $$;
CREATE FUNCTION api.add_numbers(a int, b int) RETURNS int
  LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE FUNCTION api.checkout(book int, note text DEFAULT NULL) RETURNS api.loans
  LANGUAGE sql VOLATILE AS $$ INSERT INTO api.loans(book_id, note) VALUES (book, note) RETURNING * $$;
CREATE FUNCTION api.whoami() RETURNS text
  LANGUAGE sql STABLE AS $$ SELECT current_user::text $$;

CREATE FUNCTION api.count_tags(tags text[], extra json DEFAULT NULL) RETURNS int
  LANGUAGE sql IMMUTABLE AS $$ SELECT cardinality(tags) $$;

CREATE TABLE archive.old_books (
  id    int PRIMARY KEY,
  title text NOT NULL
);

INSERT INTO api.authors VALUES
  (1, 'Ursula K. Le Guin', 1929), (2, 'Octavia E. Butler', 1947), (3, 'Italo Calvino', 1923), (4, 'Nobody Yet', NULL);
INSERT INTO api.author_profiles VALUES (1, 'Wrote Earthsea.'), (2, 'Wrote Kindred.');
INSERT INTO api.books (title, author_id, year, pages, tags) VALUES
  ('A Wizard of Earthsea', 1, 1968, 183, '{fantasy,classic}'),
  ('The Left Hand of Darkness', 1, 1969, 304, '{scifi,classic}'),
  ('The Dispossessed', 1, 1974, 387, '{scifi}'),
  ('Kindred', 2, 1979, 264, '{scifi,historical}'),
  ('Parable of the Sower', 2, 1993, 345, '{scifi}'),
  ('Invisible Cities', 3, 1972, 165, '{fantasy}'),
  ('If on a winter''s night a traveler', 3, 1979, 260, '{}');
INSERT INTO api.reviews (book_id, reviewer, stars) VALUES
  (1, 'ana', 5), (1, 'bo', 4), (2, 'ana', 5), (4, 'cy', 5), (6, 'bo', 3);
INSERT INTO api.shelves VALUES (1, 'Favourites'), (2, 'To read');
INSERT INTO api.book_shelves VALUES (1, 1), (2, 1), (4, 1), (5, 2), (7, 2);
INSERT INTO api.staff VALUES (1, 'Dana', NULL), (2, 'Eli', 1), (3, 'Fay', 1), (4, 'Gus', 2);
INSERT INTO api.loans (book_id, member, note) VALUES (1, 'alice', 'first'), (2, 'bob', 'second'), (3, 'alice', NULL);
INSERT INTO api.exhibitions VALUES
  (1, 'Winter', '[2024-01-01,2024-03-01)', '{"lang":"en","tags":["cold"],"rooms":{"main":2}}'),
  (2, 'Spring', '[2024-03-01,2024-06-01)', '{"lang":"fr","rooms":{"main":1}}'),
  (3, 'Summer', '[2024-06-01,2024-09-01)', '{"lang":"en"}');
INSERT INTO archive.old_books VALUES (1, 'Codex Seraphinianus'), (2, 'Voynich');
CREATE FUNCTION archive.count_old() RETURNS bigint
  LANGUAGE sql STABLE AS $$ SELECT count(*) FROM archive.old_books $$;

GRANT SELECT ON ALL TABLES IN SCHEMA api, archive TO web_anon, test_user;
GRANT INSERT, UPDATE, DELETE ON api.books, api.reviews, api.authors, api.author_profiles, api.shelves, api.book_shelves TO web_anon, test_user;
GRANT INSERT, UPDATE, DELETE ON api.loans TO test_user;
REVOKE SELECT ON api.loans FROM web_anon;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA api TO web_anon, test_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api, archive TO web_anon, test_user;
REVOKE EXECUTE ON FUNCTION api.checkout(int, text) FROM PUBLIC, web_anon;
