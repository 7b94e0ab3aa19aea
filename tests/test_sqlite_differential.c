/*
 * The differential test: thousands of random statements, DDL and DML
 * mixed, run through gatherd's query job on four workers and through this
 * process's own SQLite connection on a copy of the same database, every
 * result compared, type for type. It shares the suite name sqlite_schema
 * with test_sqlite_schema.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sqlite3.h>

#include "base64.h"
#include "dbtest.h"
#include "harness.h"
#include "jsonpath.h"
#include "utf8.h"

static struct daemon	d;

HARNESS_SUITE(sqlite_schema, 240);

/*
 * The differential test.
 */

/* A small deterministic generator (xorshift64*), seeded per run. */
static uint64_t	rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static int
pick(int n)
{
	return (int)(rng() % (uint64_t)n);
}

#define MAX_TABLES	6
#define MAX_COLS	8

/* What the generator knows of the schema (from the reference's results). */
struct mtable {
	char	name[16];
	int	view;
	int	ncols;
	char	cols[MAX_COLS][16];
};

static struct mtable	model[MAX_TABLES];
static int		nmodel;
static int		next_id;

enum { K_QUERY, K_DML, K_DDL };

/* A random SQL literal: integer, real, text, blob or NULL. */
static void
literal(char *buf, size_t size)
{
	static const char *const texts[] = {
		"'a'", "'hello world'", "'caf\xc3\xa9'", "'\xe2\x98\x83'",
		"'it''s'", "''", "'42'", "'1e3'",
	};

	switch (pick(6)) {
	case 0:
		snprintf(buf, size, "%lld", (long long)(pick(2001) - 1000));
		break;
	case 1:
		snprintf(buf, size, "%lld", (long long)rng());
		break;
	case 2:
		snprintf(buf, size, "%d.%d", pick(1000) - 500, pick(100));
		break;
	case 3:
		snprintf(buf, size, "%s", texts[pick(8)]);
		break;
	case 4:
		snprintf(buf, size, "x'%02x%02x00ff'", pick(256), pick(256));
		break;
	default:
		snprintf(buf, size, "NULL");
		break;
	}
}

static struct mtable *
random_table(int want_view)
{
	int	i, n = 0, idx[MAX_TABLES];

	for (i = 0; i < nmodel; i++) {
		if (model[i].view == want_view)
			idx[n++] = i;
	}
	return n == 0 ? NULL : &model[idx[pick(n)]];
}

static const char *
random_col(const struct mtable *t)
{
	return t->ncols == 0 ? "rowid" : t->cols[pick(t->ncols)];
}

/* The next random statement into sql; its kind. */
static int
generate(char *sql, size_t size)
{
	static const char *const types[] = {
		"integer", "real", "text", "blob", "", "numeric",
	};
	struct mtable	*t = random_table(0), *u;
	char		 lit[64], lit2[64];
	int		 i, n, r = pick(100);

	if (t == NULL || (r < 8 && nmodel < MAX_TABLES)) {
		n = 1 + pick(4);
		i = snprintf(sql, size, "create table t%d(", next_id++);
		for (int c = 0; c < n; c++)
			i += snprintf(sql + i, size - (size_t)i, "%sc%d %s%s",
			    c > 0 ? ", " : "", next_id++, types[pick(6)],
			    pick(5) == 0 ? " default 7" : "");
		snprintf(sql + i, size - (size_t)i, ")");
		return K_DDL;
	}
	if (r < 10) {
		snprintf(sql, size, "drop table %s", t->name);
		return K_DDL;
	}
	if (r < 14) {
		literal(lit, sizeof lit);
		snprintf(sql, size, "alter table %s add column c%d %s default %s",
		    t->name, next_id++, types[pick(6)], lit);
		return K_DDL;
	}
	if (r < 17) {
		snprintf(sql, size, "alter table %s rename column %s to c%d",
		    t->name, random_col(t), next_id++);
		return K_DDL;
	}
	if (r < 19) {
		snprintf(sql, size, "alter table %s drop column %s", t->name,
		    random_col(t));
		return K_DDL;
	}
	if (r < 21) {
		snprintf(sql, size, "alter table %s rename to t%d", t->name,
		    next_id++);
		return K_DDL;
	}
	if (r < 25) {
		snprintf(sql, size, "create index i%d on %s(%s)", pick(6),
		    t->name, random_col(t));
		return K_DDL;
	}
	if (r < 27) {
		snprintf(sql, size, "drop index i%d", pick(6));
		return K_DDL;
	}
	if (r < 28) {
		snprintf(sql, size, "reindex %s", t->name);
		return K_DDL;
	}
	if (r < 31) {
		if (nmodel >= MAX_TABLES) {
			u = random_table(1);
			snprintf(sql, size, "drop view %s", u != NULL ?
			    u->name : "nosuch");
			return K_DDL;
		}
		snprintf(sql, size, "create view v%d as select * from %s where"
		    " %s is not null", next_id++, t->name, random_col(t));
		return K_DDL;
	}
	if (r < 33) {
		snprintf(sql, size, "create trigger tr%d after %s on %s begin"
		    " insert into log values ('%s', %s.rowid); end", pick(4),
		    pick(2) ? "insert" : "delete", t->name, t->name,
		    "new");
		/* "new" for insert, "old" for delete. */
		if (strstr(sql, "after delete") != NULL)
			memcpy(strstr(sql, "new.rowid"), "old", 3);
		return K_DDL;
	}
	if (r < 50) {
		n = 1 + pick(3);
		i = snprintf(sql, size, "insert into %s values ", t->name);
		for (int row = 0; row < n; row++) {
			i += snprintf(sql + i, size - (size_t)i, "%s(",
			    row > 0 ? ", " : "");
			for (int c = 0; c < t->ncols; c++) {
				literal(lit, sizeof lit);
				i += snprintf(sql + i, size - (size_t)i, "%s%s",
				    c > 0 ? ", " : "", lit);
			}
			i += snprintf(sql + i, size - (size_t)i, ")");
		}
		return K_DML;
	}
	if (r < 54) {
		u = random_table(0);
		snprintf(sql, size, "insert into %s select * from %s limit 5",
		    t->name, u->name);
		return K_DML;
	}
	if (r < 60) {
		literal(lit, sizeof lit);
		snprintf(sql, size, "update %s set %s = %s where rowid %% %d = %d",
		    t->name, random_col(t), lit, 2 + pick(3), pick(2));
		return K_DML;
	}
	if (r < 64) {
		snprintf(sql, size, "delete from %s where rowid %% %d = 0",
		    t->name, 2 + pick(4));
		return K_DML;
	}
	if (r < 66) {
		literal(lit, sizeof lit);
		snprintf(sql, size, "insert or replace into %s(rowid, %s) values"
		    " (%d, %s)", t->name, random_col(t), 1 + pick(5), lit);
		return K_DML;
	}
	if (r < 78) {
		snprintf(sql, size, "select rowid, * from %s order by rowid",
		    t->name);
		return K_QUERY;
	}
	if (r < 82) {
		u = random_table(1);
		snprintf(sql, size, "select * from %s", u != NULL ? u->name :
		    t->name);
		return K_QUERY;
	}
	if (r < 86) {
		snprintf(sql, size, "select count(*), typeof(max(%s)), min(%s),"
		    " total(length(%s)) from %s", random_col(t), random_col(t),
		    random_col(t), t->name);
		return K_QUERY;
	}
	if (r < 89) {
		snprintf(sql, size, "select name, type, \"notnull\", dflt_value"
		    " from pragma_table_info('%s') order by cid", t->name);
		return K_QUERY;
	}
	if (r < 92) {
		snprintf(sql, size, "select type, name, tbl_name, sql from"
		    " sqlite_schema order by name");
		return K_QUERY;
	}
	if (r < 95) {
		snprintf(sql, size, "select what, count(*) from log group by"
		    " what order by what");
		return K_QUERY;
	}
	if (r < 97) {
		literal(lit, sizeof lit);
		literal(lit2, sizeof lit2);
		snprintf(sql, size, "select %s, %s, %s || %s, %s + 1", lit, lit2,
		    lit, lit2, lit);
		return K_QUERY;
	}
	snprintf(sql, size, "select %s from %s where rowid > 2 order by"
	    " rowid limit 3", random_col(t), t->name);
	return K_QUERY;
}

/* Read the schema back from the reference into the model. */
static void
model_load(sqlite3 *ref)
{
	sqlite3_stmt	*st, *ci;
	char		 q[128];
	struct mtable	*t;

	nmodel = 0;
	cr_assert_eq(sqlite3_prepare_v2(ref, "select name, type = 'view' from"
	    " sqlite_schema where type in ('table', 'view') and name not in"
	    " ('log') and name not like 'sqlite%' order by name", -1, &st,
	    NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && nmodel < MAX_TABLES) {
		t = &model[nmodel++];
		snprintf(t->name, sizeof t->name, "%s",
		    (const char *)sqlite3_column_text(st, 0));
		t->view = sqlite3_column_int(st, 1);
		t->ncols = 0;
		snprintf(q, sizeof q, "select name from pragma_table_info('%s')",
		    t->name);
		cr_assert_eq(sqlite3_prepare_v2(ref, q, -1, &ci, NULL),
		    SQLITE_OK);
		while (sqlite3_step(ci) == SQLITE_ROW && t->ncols < MAX_COLS)
			snprintf(t->cols[t->ncols++], sizeof t->cols[0], "%s",
			    (const char *)sqlite3_column_text(ci, 0));
		sqlite3_finalize(ci);
	}
	sqlite3_finalize(st);
}

/*
 * Run sql on the reference and build what gatherd should answer: the
 * result object {"ok":true,"value":{...}} or {"ok":false,"error":...},
 * values mapped as gatherd maps them.
 */
static json_t *
reference(sqlite3 *ref, const char *sql, int kind)
{
	sqlite3_stmt	*st;
	json_t		*cols, *rows, *row, *v;
	char		*b64;
	size_t		 len;
	int		 i, n, rc;

	if (sqlite3_prepare_v2(ref, sql, -1, &st, NULL) != SQLITE_OK)
		return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error",
		    "code", "db_error", "message", sqlite3_errmsg(ref));
	cols = json_array();
	rows = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n = sqlite3_column_count(st);
		row = json_array();
		for (i = 0; i < n; i++) {
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER:
				v = json_integer(sqlite3_column_int64(st, i));
				break;
			case SQLITE_FLOAT:
				v = json_real(sqlite3_column_double(st, i));
				break;
			case SQLITE_TEXT:
				/*
				 * As gatherd: text not UTF-8 fails the job
				 * (no statement here makes any).
				 */
				if (!utf8_valid(sqlite3_column_text(st, i),
				    (size_t)sqlite3_column_bytes(st, i),
				    NULL)) {
					json_decref(row);
					json_decref(rows);
					json_decref(cols);
					sqlite3_finalize(st);
					return json_pack("{s:b, s:{s:s}}", "ok",
					    0, "error", "code", "bad_encoding");
				}
				v = json_stringn((const char *)
				    sqlite3_column_text(st, i),
				    (size_t)sqlite3_column_bytes(st, i));
				break;
			case SQLITE_BLOB:
				b64 = base64_encode_alloc(
				    sqlite3_column_blob(st, i),
				    (size_t)sqlite3_column_bytes(st, i), &len);
				v = json_stringn(b64, len);
				free(b64);
				break;
			default:
				v = json_null();
				break;
			}
			json_array_append_new(row, v);
		}
		json_array_append_new(rows, row);
	}
	n = sqlite3_column_count(st);
	for (i = 0; i < n; i++)
		json_array_append_new(cols, json_string(sqlite3_column_name(st,
		    i)));
	if (rc != SQLITE_DONE) {
		json_decref(cols);
		json_decref(rows);
		v = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
		    "db_error", "message", sqlite3_errmsg(ref));
		sqlite3_finalize(st);
		return v;
	}
	sqlite3_finalize(st);
	return json_pack("{s:b, s:{s:o, s:o, s:I}}", "ok", 1, "value",
	    "columns", cols, "rows", rows, "changes", kind == K_DML ?
	    (json_int_t)sqlite3_changes64(ref) : (json_int_t)0);
}

/* Assert gatherd's result equals the reference's, type for type. */
static void
compare(int index, const char *sql, json_t *want, json_t *got)
{
	json_t	*w, *g;
	char	*ws, *gs;

	if (json_is_true(jget(want, "ok"))) {
		w = json_object_get(want, "value");
		g = json_object_get(got, "value");
	} else {
		w = json_object_get(want, "error");
		g = json_object_get(got, "error");
		/* A reference error with no message: the code is enough. */
		if (json_object_get(w, "message") == NULL) {
			w = json_object_get(w, "code");
			g = json_object_get(g, "code");
		}
	}
	if (json_equal(json_object_get(want, "ok"),
	    json_object_get(got, "ok")) && json_equal(w, g))
		return;
	ws = json_dumps(want, JSON_COMPACT);
	gs = json_dumps(got, JSON_COMPACT);
	cr_assert_fail("statement %d, %s:\nreference %s\ngatherd   %s", index,
	    sql, ws, gs);
}

Test(sqlite_schema, differential_against_another_client)
{
	const int	 chunk = 50;
	int		 total = harness_slack() > 1.0 ? 600 : 3000;
	sqlite3		*ref;
	json_t		*jobs, *want, *sqls, *r;
	char		 sql[1024], *line, path[32];
	int		 done = 0, k, kind, nfail = 0, nddl = 0;
	int		 fd;
	double		 t0 = now_ms();
	const char	*seed_env = getenv("GATHERD_DIFF_SEED");

	rng_state = seed_env != NULL ? strtoull(seed_env, NULL, 0) :
	    UINT64_C(0x9e3779b97f4a7c15);
	fprintf(stderr, "sqlite_schema: differential seed 0x%llx"
	    " (GATHERD_DIFF_SEED)\n", (unsigned long long)rng_state);
	dbtest_files_init();
	dbtest_make("main.db", "create table log(what, id);"
	    " create table t0(c1 integer, c2 text); insert into t0"
	    " values (1, 'one'), (2, 'two')");
	dbtest_make("ref.db", "create table log(what, id);"
	    " create table t0(c1 integer, c2 text); insert into t0"
	    " values (1, 'one'), (2, 'two')");
	next_id = 10;
	dbtest_start(&d, "threads = 4\n"
	    "[db.rw]\ndriver = sqlite\npath = %D/main.db\nwritable = true\n");
	ref = dbtest_open("ref.db");
	fd = client_connect(d.sock);

	while (done < total) {
		/*
		 * A chunk: generated and run on the reference statement by
		 * statement, then run by gatherd one job at a time, in order
		 * (concurrency 1), on whichever worker is free.
		 */
		jobs = json_array();
		want = json_array();
		sqls = json_array();
		for (k = 0; k < chunk; k++) {
			model_load(ref);
			kind = generate(sql, sizeof sql);
			json_array_append_new(want, reference(ref, sql, kind));
			json_array_append_new(jobs, dbtest_qjob("rw", sql,
			    NULL));
			json_array_append_new(sqls, json_string(sql));
			nddl += kind == K_DDL;
		}
		line = dbtest_batch_line(jobs, "concurrency", json_integer(1));
		client_send(fd, line);
		free(line);
		r = client_recv_json(fd, slack_ms(60000));
		for (k = 0; k < chunk; k++) {
			snprintf(path, sizeof path, "results[%d]", k);
			compare(done + k, json_string_value(json_array_get(sqls,
			    (size_t)k)), json_array_get(want, (size_t)k),
			    jget(r, path));
			nfail += !json_is_true(json_object_get(jget(r, path),
			    "ok"));
		}
		json_decref(r);
		json_decref(want);
		json_decref(sqls);
		done += chunk;
	}
	close(fd);
	sqlite3_close(ref);
	fprintf(stderr, "sqlite_schema: %d statements (%d DDL, %d failed on"
	    " both sides) identical to the reference in %.0f ms\n", done,
	    nddl, nfail, now_ms() - t0);
	daemon_stop(&d);
}
