// postgrest-js (the client of supabase-js) against pgrest, through its public
// API only. The Go test TestClientPostgrestJS serves fixture.sql and passes
// PGREST_URL and PGREST_JWT (role test_user, sub alice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgrestClient } from '@supabase/postgrest-js';

const url = process.env.PGREST_URL;
assert.ok(url, 'PGREST_URL must be set');
const db = new PostgrestClient(url);
const user = new PostgrestClient(url, { headers: { Authorization: `Bearer ${process.env.PGREST_JWT}` } });

// ok asserts a successful response and returns it.
function ok(res, status = 200) {
  assert.equal(res.error, null, `unexpected error: ${JSON.stringify(res.error)}`);
  assert.equal(res.status, status);
  return res;
}

// failed asserts a PostgREST error object with every field present.
function failed(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.error));
  assert.ok(res.error, 'expected an error');
  for (const k of ['code', 'message', 'details', 'hint']) assert.ok(k in res.error, `error lacks ${k}`);
  assert.equal(res.error.code, code);
  return res.error;
}

const titles = (rows) => rows.map((r) => r.title);

test('select with comparison filters', async () => {
  const { data } = ok(await db.from('books').select('id,title').gte('year', 1970).lt('year', 1980).neq('id', 3).order('id'));
  assert.deepEqual(titles(data), ['Kindred', 'Invisible Cities', "If on a winter's night a traveler"]);
  ok(await db.from('books').select('id').like('title', '%Earth%')).data.length === 1 || assert.fail('like');
  assert.deepEqual(ok(await db.from('books').select('id').ilike('title', 'the %').order('id')).data, [{ id: 2 }, { id: 3 }]);
  assert.deepEqual(ok(await db.from('books').select('id').in('id', [2, 4, 99]).order('id')).data, [{ id: 2 }, { id: 4 }]);
  assert.deepEqual(ok(await db.from('authors').select('id').is('born', null)).data, [{ id: 4 }]);
  assert.deepEqual(ok(await db.from('books').select('id').contains('tags', ['scifi', 'classic'])).data, [{ id: 2 }]);
  assert.deepEqual(ok(await db.from('books').select('id').overlaps('tags', ['historical', 'nothing'])).data, [{ id: 4 }]);
  assert.deepEqual(ok(await db.from('books').select('id').match({ author_id: 2, year: 1993 })).data, [{ id: 5 }]);
  assert.deepEqual(ok(await db.from('books').select('id').filter('pages', 'gt', 350)).data, [{ id: 3 }]);
  assert.deepEqual(ok(await db.from('books').select('id').containedBy('tags', ['fantasy', 'classic', 'x']).order('id')).data, [{ id: 1 }, { id: 6 }, { id: 7 }]);
});

test('pattern, regex, distinct and range filters; rollback; stripped nulls', async () => {
  assert.deepEqual(ok(await db.from('books').select('id').likeAnyOf('title', ['%Sower', 'Kin%']).order('id')).data, [{ id: 4 }, { id: 5 }]);
  assert.deepEqual(ok(await db.from('books').select('id').ilikeAllOf('title', ['%the%', '%dis%'])).data, [{ id: 3 }]);
  assert.deepEqual(ok(await db.from('books').select('id').regexMatch('title', '^[AK]').order('id')).data, [{ id: 1 }, { id: 4 }]);
  assert.deepEqual(ok(await db.from('books').select('id').regexIMatch('title', '^invisible')).data, [{ id: 6 }]);
  assert.deepEqual(ok(await db.from('authors').select('id').isDistinct('born', 1929).order('id')).data, [{ id: 2 }, { id: 3 }, { id: 4 }]);
  assert.deepEqual(ok(await db.from('books').select('id').notIn('author_id', [1, 3]).order('id')).data, [{ id: 4 }, { id: 5 }]);
  let res = ok(await db.from('shelves').insert({ id: 99, name: 'never' }).select().rollback(), 201);
  assert.deepEqual(res.data, [{ id: 99, name: 'never' }]);
  assert.equal(ok(await db.from('shelves').select('id').eq('id', 99)).data.length, 0);
  res = ok(await db.from('authors').select('id,born').eq('id', 4).stripNulls());
  assert.deepEqual(res.data, [{ id: 4 }]);
  res = ok(await db.from('books').select('id').lte('id', 2).order('id').abortSignal(new AbortController().signal));
  assert.deepEqual(res.data, [{ id: 1 }, { id: 2 }]);
});

test('or, not and text search', async () => {
  let { data } = ok(await db.from('books').select('id').or('year.lt.1969,pages.gt.380').order('id'));
  assert.deepEqual(data, [{ id: 1 }, { id: 3 }]);
  ({ data } = ok(await db.from('books').select('id').or('and(author_id.eq.2,year.gt.1980),id.eq.1').order('id')));
  assert.deepEqual(data, [{ id: 1 }, { id: 5 }]);
  ({ data } = ok(await db.from('books').select('id').not('author_id', 'in', '(1,2)').order('id')));
  assert.deepEqual(data, [{ id: 6 }, { id: 7 }]);
  ({ data } = ok(await db.from('authors').select('id').not('born', 'is', null).order('id')));
  assert.deepEqual(data, [{ id: 1 }, { id: 2 }, { id: 3 }]);
  ({ data } = ok(await db.from('books').select('id').textSearch('title_tsv', 'darkness')));
  assert.deepEqual(data, [{ id: 2 }]);
  ({ data } = ok(await db.from('books').select('id').textSearch('title_tsv', "'parable' & 'sower'", { config: 'english' })));
  assert.deepEqual(data, [{ id: 5 }]);
  ({ data } = ok(await db.from('books').select('id').textSearch('title_tsv', 'left hand', { type: 'plain', config: 'english' })));
  assert.deepEqual(data, [{ id: 2 }]);
  ({ data } = ok(await db.from('books').select('id').textSearch('title_tsv', 'traveler or sower -parable', { type: 'websearch' })));
  assert.deepEqual(data, [{ id: 7 }]);
  ({ data } = ok(await db.from('books').select('id').textSearch('title_tsv', 'invisible cities', { type: 'phrase' })));
  assert.deepEqual(data, [{ id: 6 }]);
});

test('order, limit, range and their embedded forms', async () => {
  let { data } = ok(await db.from('books').select('title').order('year', { ascending: false }).order('id').limit(2));
  assert.deepEqual(titles(data), ['Parable of the Sower', 'Kindred']);
  ({ data } = ok(await db.from('authors').select('name').order('born', { ascending: true, nullsFirst: true }).limit(2)));
  assert.deepEqual(data.map((a) => a.name), ['Nobody Yet', 'Italo Calvino']);
  ({ data } = ok(await db.from('books').select('id').order('id').range(2, 4)));
  assert.deepEqual(data, [{ id: 3 }, { id: 4 }, { id: 5 }]);
  ({ data } = ok(await db.from('authors').select('id,books(title)').eq('id', 1)
    .order('year', { referencedTable: 'books', ascending: false }).limit(2, { referencedTable: 'books' })));
  assert.deepEqual(data, [{ id: 1, books: [{ title: 'The Dispossessed' }, { title: 'The Left Hand of Darkness' }] }]);
  ({ data } = ok(await db.from('authors').select('id,books(id)').eq('id', 2).range(1, 1, { referencedTable: 'books' }).order('id', { referencedTable: 'books' })));
  assert.deepEqual(data, [{ id: 2, books: [{ id: 5 }] }]);
  ({ data } = ok(await db.from('books').select('title,authors!inner(name)').order('authors(name)').order('id').limit(1)));
  assert.deepEqual(data, [{ title: 'Invisible Cities', authors: { name: 'Italo Calvino' } }]);
});

test('single and maybeSingle', async () => {
  let res = ok(await db.from('books').select('title').eq('id', 4).single());
  assert.deepEqual(res.data, { title: 'Kindred' });
  res = await db.from('books').select('title').eq('author_id', 1).single();
  const e = failed(res, 406, 'PGRST116');
  assert.match(e.details, /3 rows/);
  failed(await db.from('books').select('title').eq('id', 999).single(), 406, 'PGRST116');
  res = ok(await db.from('books').select('title').eq('id', 999).maybeSingle());
  assert.equal(res.data, null);
  res = ok(await db.from('books').select('title').eq('id', 6).maybeSingle());
  assert.deepEqual(res.data, { title: 'Invisible Cities' });
  failed(await db.from('books').select('title').maybeSingle(), 406, 'PGRST116');
});

test('csv quotes like PostgREST', async () => {
  const { data } = ok(await db.from('books').select('id,title,tags').in('id', [2, 7]).order('id').csv());
  assert.equal(data, 'id,title,tags\n'
    + '2,"The Left Hand of Darkness","{scifi,classic}"\n'
    + '7,"If on a winter\'s night a traveler",{}');
  const shelves = ok(await db.from('authors').select('name,born').eq('id', 4).csv()).data;
  assert.equal(shelves, 'name,born\n"Nobody Yet",');
  const quoted = ok(await db.from('reviews').select('reviewer').eq('id', 1).csv()).data;
  assert.equal(quoted, 'reviewer\nana');
  // no rows: PostgREST's header comes from the first row, so only a newline is left
  assert.equal(ok(await db.from('reviews').select('reviewer').eq('id', -1).csv()).data, '\n');
});

test('count options and head on reads', async () => {
  let res = ok(await db.from('books').select('id', { count: 'exact' }).limit(2), 206);
  assert.equal(res.count, 7);
  assert.equal(res.data.length, 2);
  res = ok(await db.from('books').select('*', { count: 'exact', head: true }).eq('author_id', 1));
  assert.equal(res.count, 3);
  assert.equal(res.data, null);
  // planned and estimated counts come from the planner's estimate, which
  // may exceed the rows and make the page partial
  res = await db.from('books').select('*', { count: 'planned', head: true });
  assert.ok([200, 206].includes(res.status), `status ${res.status}`);
  assert.ok(Number.isInteger(res.count) && res.count >= 0, `planned count ${res.count}`);
  res = await db.from('books').select('*', { count: 'estimated', head: true });
  assert.ok([200, 206].includes(res.status), `status ${res.status}`);
  assert.ok(Number.isInteger(res.count) && res.count >= 0, `estimated count ${res.count}`);
  res = ok(await db.from('books').select('id').eq('id', 1));
  assert.equal(res.count, null);
});

test('embedding: every relationship kind, hints, aliases, inner, spread', async () => {
  // many-to-one, one-to-many, one-to-one, many-to-many
  let { data } = ok(await db.from('books').select('title,authors(name)').eq('id', 4));
  assert.deepEqual(data, [{ title: 'Kindred', authors: { name: 'Octavia E. Butler' } }]);
  ({ data } = ok(await db.from('authors').select('name,books(id)').eq('id', 3).order('id', { referencedTable: 'books' })));
  assert.deepEqual(data, [{ name: 'Italo Calvino', books: [{ id: 6 }, { id: 7 }] }]);
  ({ data } = ok(await db.from('authors').select('id,author_profiles(bio)').in('id', [1, 3]).order('id')));
  assert.deepEqual(data, [{ id: 1, author_profiles: { bio: 'Wrote Earthsea.' } }, { id: 3, author_profiles: null }]);
  ({ data } = ok(await db.from('shelves').select('name,books(id)').eq('id', 2).order('id', { referencedTable: 'books' })));
  assert.deepEqual(data, [{ name: 'To read', books: [{ id: 5 }, { id: 7 }] }]);
  // aliases, a hint by foreign key column, !inner, spread
  ({ data } = ok(await db.from('books').select('title,writer:authors!author_id(name)').eq('id', 1)));
  assert.deepEqual(data, [{ title: 'A Wizard of Earthsea', writer: { name: 'Ursula K. Le Guin' } }]);
  ({ data } = ok(await db.from('books').select('title,authors!books_author_id_fkey(id)').eq('id', 6)));
  assert.deepEqual(data, [{ title: 'Invisible Cities', authors: { id: 3 } }]);
  ({ data } = ok(await db.from('books').select('id,reviews!inner(stars)').eq('reviews.reviewer', 'ana').order('id')));
  assert.deepEqual(data, [{ id: 1, reviews: [{ stars: 5 }] }, { id: 2, reviews: [{ stars: 5 }] }]);
  ({ data } = ok(await db.from('books').select('title,...authors(author:name)').eq('id', 5)));
  assert.deepEqual(data, [{ title: 'Parable of the Sower', author: 'Octavia E. Butler' }]);
  // embedding through the foreign key column's name
  ({ data } = ok(await db.from('books').select('id,author_id(name)').eq('id', 2)));
  assert.deepEqual(data, [{ id: 2, author_id: { name: 'Ursula K. Le Guin' } }]);
  ({ data } = ok(await db.from('books').select('id,writer:author_id(id)').eq('id', 4)));
  assert.deepEqual(data, [{ id: 4, writer: { id: 2 } }]);
  // a view embeds through the table it selects from
  ({ data } = ok(await db.from('book_ratings').select('title,rating,reviews(stars)').eq('id', 1)));
  assert.equal(data[0].reviews.length, 2);
  // empty embedded filter: null parent embeds filtered out
  ({ data } = ok(await db.from('authors').select('id,author_profiles()').not('author_profiles', 'is', null).order('id')));
  assert.deepEqual(data, [{ id: 1 }, { id: 2 }]);
});

test('self-referencing table: both directions without and with hints', async () => {
  let { data } = ok(await db.from('staff').select('name,manager:manager_id(name)').eq('id', 4));
  assert.deepEqual(data, [{ name: 'Gus', manager: { name: 'Eli' } }]);
  ({ data } = ok(await db.from('staff').select('name,staff!manager_id(name)').eq('id', 1)));
  assert.deepEqual(data, [{ name: 'Dana', staff: [{ name: 'Eli' }, { name: 'Fay' }] }]);
  ({ data } = ok(await db.from('staff').select('name,staff(name)').eq('id', 2)));
  assert.deepEqual(data, [{ name: 'Eli', staff: [{ name: 'Gus' }] }]);
});

test('aggregates', async () => {
  let { data } = ok(await db.from('books').select('author_id,count(),pages.sum()').order('author_id'));
  assert.deepEqual(data, [
    { author_id: 1, count: 3, sum: 874 },
    { author_id: 2, count: 2, sum: 609 },
    { author_id: 3, count: 2, sum: 425 },
  ]);
  ({ data } = ok(await db.from('reviews').select('stars.avg(),max_stars:stars.max()')));
  assert.equal(data.length, 1);
  assert.equal(data[0].max_stars, 5);
  ({ data } = ok(await db.from('authors').select('name,books(count)').eq('id', 2)));
  assert.deepEqual(data, [{ name: 'Octavia E. Butler', books: [{ count: 2 }] }]);
});

test('insert: single, bulk, defaultToNull false, count', async () => {
  let res = ok(await db.from('shelves').insert({ id: 10, name: 'Loaned' }), 201);
  assert.equal(res.data, null);
  res = ok(await db.from('shelves').insert([{ id: 11, name: 'a' }, { id: 12, name: 'b' }, { id: 13, name: 'c' }], { count: 'exact' }), 201);
  assert.equal(res.count, 3);
  res = ok(await db.from('books').insert([
    { title: 'New One', author_id: 4, pages: 50 },
    { title: 'New Two', author_id: 4 },
  ], { defaultToNull: false }).select('title,pages,available,tags'), 201);
  assert.deepEqual(res.data, [
    { title: 'New One', pages: 50, available: true, tags: [] },
    { title: 'New Two', pages: 100, available: true, tags: [] },
  ]);
  // the default (defaultToNull: true) sends null for a missing key
  res = await db.from('books').insert([{ title: 'X', pages: 1 }, { title: 'Y' }]);
  const e = failed(res, 400, '23502');
  assert.match(e.message, /pages/);
  res = ok(await db.from('reviews').insert({ book_id: 7, reviewer: 'dee', stars: 4 }).select().single(), 201);
  assert.equal(res.data.reviewer, 'dee');
  assert.ok(Number.isInteger(res.data.id));
  res = ok(await db.from('shelves').insert({ id: 14, name: 'counted' }, { count: 'exact' }).select(), 201);
  assert.equal(res.count, 1);
});

test('upsert: merge, ignore duplicates, onConflict', async () => {
  let res = ok(await db.from('shelves').upsert([{ id: 1, name: 'Favourites!' }, { id: 20, name: 'Fresh' }], { count: 'exact' }).select().order('id'), 201);
  assert.deepEqual(res.data, [{ id: 1, name: 'Favourites!' }, { id: 20, name: 'Fresh' }]);
  assert.equal(res.count, 2);
  res = ok(await db.from('shelves').upsert({ id: 1, name: 'ignored' }, { ignoreDuplicates: true }).select(), 201);
  assert.deepEqual(res.data, []);
  assert.equal(ok(await db.from('shelves').select('name').eq('id', 1).single()).data.name, 'Favourites!');
  res = ok(await db.from('author_profiles').upsert({ author_id: 3, bio: 'Wrote Invisible Cities.' }, { onConflict: 'author_id' }).select(), 201);
  assert.deepEqual(res.data, [{ author_id: 3, bio: 'Wrote Invisible Cities.' }]);
  res = ok(await db.from('books').upsert([{ id: 6, title: 'Invisible Cities' }, { id: 100, title: 'Hundred' }], { defaultToNull: false, onConflict: 'id' }).select('id,pages').order('id'), 201);
  assert.deepEqual(res.data, [{ id: 6, pages: 165 }, { id: 100, pages: 100 }]);
});

test('update and delete with counts, maxAffected', async () => {
  let res = ok(await db.from('shelves').update({ name: 'renamed' }, { count: 'exact' }).in('id', [11, 12, 13]), 204);
  assert.equal(res.count, 3);
  res = ok(await db.from('shelves').update({ name: 'again' }, { count: 'exact' }).eq('id', 11).select());
  assert.deepEqual(res.data, [{ id: 11, name: 'again' }]);
  assert.equal(res.count, 1);
  res = ok(await db.from('shelves').update({ name: 'none' }, { count: 'exact' }).eq('id', 999), 204);
  assert.equal(res.count, 0);
  res = await db.from('shelves').update({ name: 'too many' }).in('id', [11, 12, 13]).maxAffected(2);
  failed(res, 400, 'PGRST124');
  assert.equal(ok(await db.from('shelves').select('name').eq('id', 12).single()).data.name, 'renamed');
  res = ok(await db.from('shelves').update({ name: 'fine' }).eq('id', 12).maxAffected(1), 204);
  res = ok(await db.from('shelves').delete({ count: 'exact' }).in('id', [12, 13]), 204);
  assert.equal(res.count, 2);
  res = ok(await db.from('shelves').delete().eq('id', 11).select());
  assert.deepEqual(res.data, [{ id: 11, name: 'again' }]);
  failed(await db.from('shelves').delete().gte('id', 10).maxAffected(1), 400, 'PGRST124');
});

test('rpc: POST, GET, head, filters on the result', async () => {
  let res = ok(await db.rpc('add_numbers', { a: 2, b: 40 }));
  assert.equal(res.data, 42);
  res = ok(await db.rpc('add_numbers', { a: 1, b: 2 }, { get: true }));
  assert.equal(res.data, 3);
  res = ok(await db.rpc('search_books', { q: 'the' }).select('id,title').gt('id', 2).order('id', { ascending: false }));
  assert.deepEqual(res.data.map((b) => b.id), [5, 3]);
  res = ok(await db.rpc('search_books', { q: 'of' }, { head: true, count: 'exact' }));
  assert.equal(res.count, 3);
  assert.equal(res.data, null);
  res = ok(await db.rpc('search_books', { q: 'kindred' }, { get: true }).select('title,authors(name)').single());
  assert.deepEqual(res.data, { title: 'Kindred', authors: { name: 'Octavia E. Butler' } });
  res = ok(await db.rpc('search_books', { q: '' }, { count: 'exact' }).range(0, 1), 206);
  assert.equal(res.count, 10); // seven in the fixture, three inserted above
  failed(await db.rpc('no_such_function'), 404, 'PGRST202');
  failed(await db.rpc('checkout', { book: 1 }), 401, '42501');
});

test('more client paths: rpc with arrays and object args, csv writes, ranges out of bounds, expired tokens', async () => {
  let res = ok(await db.rpc('count_tags', { tags: ['a', 'b', 'c'] }, { get: true }));
  assert.equal(res.data, 3);
  res = ok(await db.rpc('count_tags', { tags: ['a', 'b'] }));
  assert.equal(res.data, 2);
  // head with an object argument: postgrest-js POSTs with return=minimal
  res = ok(await db.rpc('count_tags', { tags: ['a'], extra: { x: 1 } }, { head: true }).then((r) => r), 200);
  res = ok(await db.from('shelves').insert({ id: 30, name: 'csv, "quoted"' }).select('id,name').csv(), 201);
  assert.equal(res.data, 'id,name\n30,"csv, ""quoted"""');
  res = ok(await db.from('shelves').upsert([{ id: 30, name: 'x' }, { id: 31, name: 'y' }], { ignoreDuplicates: true, count: 'exact' }).select('id'), 201);
  assert.deepEqual(res.data, [{ id: 31 }]);
  assert.equal(res.count, 1);
  res = await db.from('books').select('id', { count: 'exact' }).range(50, 60);
  failed(res, 416, 'PGRST103');
  failed(await db.from('books').select('id').filter('id', 'nope', 1), 400, 'PGRST100');
  const expired = new PostgrestClient(url, { headers: { Authorization: `Bearer ${process.env.PGREST_EXPIRED_JWT}` } });
  const e = failed(await expired.from('books').select('id'), 401, 'PGRST303');
  assert.match(e.message, /expired/);
  res = ok(await db.schema('archive').rpc('count_old', {}));
  assert.equal(res.data, 2);
  res = ok(await db.from('books').update({ pages: 101 }).eq('author_id', 3).order('id').limit(1).select('id,pages'));
  assert.deepEqual(res.data, [{ id: 6, pages: 101 }]);
});

test('range operators, JSON paths, filters on embeds', async () => {
  const ids = (res) => ok(res).data.map((r) => r.id);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').rangeGt('during', '[2024-02-01,2024-02-02)').order('id')), [2, 3]);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').rangeGte('during', '[2024-03-01,2024-03-02)').order('id')), [2, 3]);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').rangeLt('during', '[2024-06-01,2024-06-02)').order('id')), [1, 2]);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').rangeLte('during', '[2024-02-01,2024-03-01)')), [1]);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').rangeAdjacent('during', '[2024-09-01,2024-10-01)')), [3]);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').overlaps('during', '[2024-02-15,2024-03-15)').order('id')), [1, 2]);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').contains('during', '[2024-07-04,2024-07-05)')), [3]);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').eq('meta->>lang', 'en').order('id')), [1, 3]);
  assert.deepEqual(ids(await db.from('exhibitions').select('id').contains('meta', { rooms: { main: 1 } })), [2]);
  let { data } = ok(await db.from('exhibitions').select('name,lang:meta->>lang,main:meta->rooms->main').eq('id', 1));
  assert.deepEqual(data, [{ name: 'Winter', lang: 'en', main: 2 }]);
  ({ data } = ok(await db.from('exhibitions').select('id,meta->tags->0').eq('id', 1)));
  assert.deepEqual(data, [{ id: 1, tags: 'cold' }]); // an index takes the last key's name
  // filters, or and order on an embedded resource
  ({ data } = ok(await db.from('authors').select('id,books(title)').eq('id', 1).or('year.lt.1969,year.gt.1970', { referencedTable: 'books' }).order('year', { referencedTable: 'books' })));
  assert.deepEqual(data, [{ id: 1, books: [{ title: 'A Wizard of Earthsea' }, { title: 'The Dispossessed' }] }]);
  ({ data } = ok(await db.from('authors').select('name,books!inner(id)', { count: 'exact' }).eq('books.year', 1993)));
  assert.deepEqual(data, [{ name: 'Octavia E. Butler', books: [{ id: 5 }] }]);
  ({ data } = ok(await db.from('authors').select('id,books(id)').eq('id', 3).order('id', { foreignTable: 'books', ascending: false })));
  assert.deepEqual(data, [{ id: 3, books: [{ id: 7 }, { id: 6 }] }]);
  ({ data } = ok(await db.from('books').select('id').contains('tags', '{historical}')));
  assert.deepEqual(data, [{ id: 4 }]);
  const res = ok(await db.from('books').update({ year: 1980 }).eq('id', 7).select('id,year').single());
  assert.deepEqual(res.data, { id: 7, year: 1980 });
});

test('schema switching', async () => {
  let res = ok(await db.schema('archive').from('old_books').select('title').order('id'));
  assert.deepEqual(titles(res.data), ['Codex Seraphinianus', 'Voynich']);
  failed(await db.from('old_books').select('title'), 404, 'PGRST205');
  failed(await db.schema('nope').from('old_books').select(), 406, 'PGRST106');
});

test('explain shows the whole statement', async () => {
  let res = ok(await db.from('books').select('id,authors(name)').eq('id', 1).explain());
  assert.equal(typeof res.data, 'string');
  assert.match(res.data, /Aggregate/, res.data);
  assert.match(res.data, /books/);
  res = ok(await db.from('books').select('id').explain({ format: 'json', analyze: true }));
  assert.ok(Array.isArray(res.data), JSON.stringify(res.data));
  assert.ok(res.data[0].Plan['Node Type'] === 'Aggregate', JSON.stringify(res.data[0].Plan));
  assert.ok('Execution Time' in res.data[0]);
});

test('error objects', async () => {
  let e = failed(await db.from('nope').select(), 404, 'PGRST205');
  assert.match(e.message, /public\.nope|api\.nope/);
  e = failed(await db.from('books').select('nope'), 400, '42703');
  assert.match(e.message, /nope/);
  e = failed(await db.from('books').select('id,staff(id)'), 400, 'PGRST200');
  assert.ok(e.hint === null || typeof e.hint === 'string');
  e = failed(await db.from('books').insert({ id: 1, title: 'dup' }), 409, '23505');
  assert.match(e.details, /\(id\)=\(1\)/);
  e = failed(await db.from('reviews').insert({ book_id: 1, reviewer: 'z', stars: 9 }), 400, '23514');
  e = failed(await db.from('books').select('id').eq('year', 'not a number'), 400, '22P02');
  e = failed(await db.from('loans').select(), 401, '42501');
  assert.match(e.message, /permission denied/);
});

test('an authenticated client with a JWT', async () => {
  let res = ok(await user.rpc('whoami'));
  assert.equal(res.data, 'test_user');
  res = ok(await user.from('loans').select('book_id,note').order('id'));
  assert.deepEqual(res.data, [{ book_id: 1, note: 'first' }, { book_id: 3, note: null }]);
  res = ok(await user.rpc('checkout', { book: 4, note: 'by rpc' }));
  assert.equal(res.data.member, 'alice');
  res = ok(await user.from('loans').insert({ book_id: 5 }).select('member,books(title)').single(), 201);
  assert.deepEqual(res.data, { member: 'alice', books: { title: 'Parable of the Sower' } });
  res = ok(await user.from('loans').select('*', { count: 'exact', head: true }));
  assert.equal(res.count, 4);
  const bad = new PostgrestClient(url, { headers: { Authorization: 'Bearer not.a.jwt' } });
  failed(await bad.from('books').select('id'), 401, 'PGRST301');
});
