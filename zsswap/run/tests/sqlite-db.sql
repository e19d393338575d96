-- zsswap-run's sqlite3 test: an in-memory database of @rows rows (300,000: about 60 MB), built
-- and queried by the shell; the output is the same with and without the
-- wrapper.
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, body TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @rows)
INSERT INTO t SELECT i, 'name-' || i, i % 101,
  printf('%08x-%s-%d', (i * 2654435761) % 4294967296, hex(i % 251), i * 7)
  || substr('the quick brown fox jumps over the lazy dog again and again ', 1 + i % 40)
  || printf('%.40d', i)
FROM n;
CREATE INDEX t_grp ON t(grp, name);
SELECT count(*), sum(length(body)), sum(grp) FROM t;
SELECT grp, count(*), max(name), min(body) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT name FROM t WHERE grp = 42 ORDER BY name DESC LIMIT 3;
UPDATE t SET body = upper(body) WHERE id % 3 = 0;
SELECT sum(length(body)), count(*) FROM t WHERE body GLOB '*QUICK*';
