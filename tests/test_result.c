/*
 * The query value's encoder (db/result.c), on its own: what each type
 * becomes, the rule for text that is not UTF-8, and the limit, held
 * while the value is built. Both drivers go through it; test_query and
 * test_postgres check that they do.
 */

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "db/result.h"

/* End r and check its text is want, and valid JSON. */
static void
ends_as(struct db_result *r, uint64_t changes, const char *want)
{
	json_error_t	 err;
	json_t		*v;
	char		*text;
	size_t		 len;

	text = db_result_end(r, changes, &len);
	cr_assert_not_null(text, "failed: %s", r->error);
	cr_assert_str_eq(text, want);
	cr_assert_eq(len, strlen(want));
	v = json_loadb(text, len, JSON_ALLOW_NUL, &err);
	cr_assert_not_null(v, "not JSON: %s (%s)", text, err.text);
	json_decref(v);
	free(text);
	db_result_free(r);
}

/* Assert r failed with code and a message that has part. */
static void
failed_with(struct db_result *r, enum err_code code, const char *part)
{
	enum err_code	 got;
	char		*message;

	cr_assert_eq(r->code, code, "code %d, message %s", r->code, r->error);
	/* A failed value takes nothing more. */
	cr_assert_eq(db_result_null(r), -1);
	cr_assert_eq(db_result_row(r), -1);
	cr_assert_null(db_result_end(r, 0, NULL));
	message = db_result_take_error(r, &got);
	cr_assert_eq(got, code);
	cr_assert_not_null(strstr(message, part), "message: %s", message);
	free(message);
	db_result_free(r);
}

Test(result, empty)
{
	struct db_result	r;

	db_result_init(&r, 1000);
	ends_as(&r, 0, "{\"columns\":[],\"rows\":[],\"changes\":0}");

	/* Columns, no rows: an empty SELECT. */
	db_result_init(&r, 1000);
	cr_assert_eq(db_result_column(&r, "a", 1), 0);
	cr_assert_eq(db_result_column(&r, "b", 1), 0);
	ends_as(&r, 12, "{\"columns\":[\"a\",\"b\"],\"rows\":[],"
	    "\"changes\":12}");
}

Test(result, every_type)
{
	static const unsigned char	bytes[] = { 0x00, 0x01, 0xff, '"' };
	struct db_result		r;

	db_result_init(&r, 10000);
	cr_assert_eq(db_result_column(&r, "n", 1), 0);
	cr_assert_eq(db_result_column(&r, "caf\xc3\xa9 \"q\"", 9), 0);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(db_result_null(&r), 0);
	cr_assert_eq(db_result_bool(&r, 1), 0);
	cr_assert_eq(db_result_bool(&r, 0), 0);
	cr_assert_eq(db_result_int(&r, INT64_MIN), 0);
	cr_assert_eq(db_result_int(&r, 9007199254740993LL), 0);
	cr_assert_eq(db_result_real(&r, 0.1), 0);
	cr_assert_eq(db_result_real(&r, 3.0), 0);
	cr_assert_eq(db_result_real(&r, 1e20), 0);
	cr_assert_eq(db_result_real(&r, -0.0), 0);
	cr_assert_eq(db_result_real(&r, NAN), 0);
	cr_assert_eq(db_result_real(&r, -INFINITY), 0);
	cr_assert_eq(db_result_number(&r, "12.50", 5), 0);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(db_result_text(&r, "a\n\"\\\x01", 5), 0);
	cr_assert_eq(db_result_text(&r, "nul\0x", 5), 0);
	cr_assert_eq(db_result_text(&r, "", 0), 0);
	cr_assert_eq(db_result_bytes(&r, bytes, sizeof bytes), 0);
	cr_assert_eq(db_result_bytes(&r, "", 0), 0);
	cr_assert_eq(db_result_json(&r, "{\"a\":\r\n [1,\n2]}", 15), 0);
	cr_assert_eq(db_result_row(&r), 0);
	ends_as(&r, 3,
	    "{\"columns\":[\"n\",\"caf\xc3\xa9 \\\"q\\\"\"],"
	    "\"rows\":["
	    "[null,true,false,-9223372036854775808,9007199254740993,"
	    "0.1,3.0,1e+20,-0.0,null,null,12.50],"
	    "[\"a\\n\\\"\\\\\\u0001\",\"nul\\u0000x\",\"\",\"AAH/Ig==\",\"\","
	    "{\"a\":   [1, 2]}],"
	    "[]],\"changes\":3}");
}

/* Assert a value whose first cell is s (given by cell) fails at where. */
static void
bad_first_cell(int (*cell)(struct db_result *, const char *, size_t),
    const char *s, size_t len, const char *where)
{
	struct db_result	r;

	db_result_init(&r, 1000);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(cell(&r, s, len), -1);
	failed_with(&r, ERR_BAD_ENCODING, where);
}

/* Text that is not UTF-8 is never a string, whatever type it came as. */
Test(result, text_not_utf8_is_bad_encoding)
{
	struct db_result	r;

	db_result_init(&r, 1000);
	cr_assert_eq(db_result_column(&r, "a", 1), 0);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(db_result_text(&r, "fine", 4), 0);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(db_result_int(&r, 1), 0);
	cr_assert_eq(db_result_text(&r, "ok\xff\xfe", 4), -1);
	failed_with(&r, ERR_BAD_ENCODING, "rows[1][1]: not valid UTF-8 at"
	    " byte 2; select it as bytes");

	/* A sequence cut short, an overlong one; JSON text alike. */
	bad_first_cell(db_result_text, "\xe2\x82", 2,
	    "rows[0][0]: not valid UTF-8 at byte 0");
	bad_first_cell(db_result_text, "\xc0\xaf", 2, "not valid UTF-8");
	bad_first_cell(db_result_json, "\"\xff\"", 3,
	    "rows[0][0]: not valid UTF-8 at byte 1");

	/* So are the columns' names. */
	db_result_init(&r, 1000);
	cr_assert_eq(db_result_column(&r, "a", 1), 0);
	cr_assert_eq(db_result_column(&r, "b\x80", 2), -1);
	failed_with(&r, ERR_BAD_ENCODING, "columns[1]: not valid UTF-8 at"
	    " byte 1; name the column with AS");

	/* The same bytes as bytes are fine. */
	db_result_init(&r, 1000);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(db_result_bytes(&r, "ok\xff\xfe", 4), 0);
	ends_as(&r, 0, "{\"columns\":[],\"rows\":[[\"b2v//g==\"]],"
	    "\"changes\":0}");
}

/* Build a small value with max as its limit, all but its end. */
static void
build(struct db_result *r, uint64_t max)
{
	db_result_init(r, max);
	db_result_column(r, "x", 1);
	db_result_row(r);
	db_result_text(r, "hello", 5);
	db_result_row(r);
	db_result_bytes(r, "abc", 3);
}

/* The limit is the whole text's, its end included; at it is fine. */
Test(result, limit_is_the_whole_value)
{
	struct db_result	 r;
	char			*text;
	size_t			 len, again;

	build(&r, 10000);
	text = db_result_end(&r, 1, &len);
	cr_assert_not_null(text);
	free(text);
	db_result_free(&r);

	build(&r, len);
	text = db_result_end(&r, 1, &again);
	cr_assert_not_null(text);
	cr_assert_eq(again, len);
	free(text);
	db_result_free(&r);

	build(&r, len - 1);
	cr_assert_null(db_result_end(&r, 1, NULL));
	failed_with(&r, ERR_TOO_LARGE, "max_result_bytes (");
}

/* A cell that cannot fit is refused before a byte of it is written. */
Test(result, refused_before_it_is_encoded)
{
	struct db_result	 r;
	size_t			 before, big = 64 * 1024 * 1024;
	char			*p;

	p = calloc(1, big);
	cr_assert_not_null(p);
	db_result_init(&r, 1000);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(db_result_text(&r, "small", 5), 0);
	before = evbuffer_get_length(r.out);
	/* 64 MiB of base64 would be 87 MiB. */
	cr_assert_eq(db_result_bytes(&r, p, big), -1);
	cr_assert_eq(evbuffer_get_length(r.out), before);
	failed_with(&r, ERR_TOO_LARGE, "max_result_bytes (1000 bytes)");

	/* Text, JSON and names alike, and no more than the limit is held. */
	db_result_init(&r, 1000);
	cr_assert_eq(db_result_row(&r), 0);
	memset(p, 'x', 2000);
	before = evbuffer_get_length(r.out);
	cr_assert_eq(db_result_text(&r, p, 2000), -1);
	cr_assert_eq(evbuffer_get_length(r.out), before);
	failed_with(&r, ERR_TOO_LARGE, "select fewer rows or columns");
	db_result_init(&r, 1000);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(db_result_json(&r, p, 2000), -1);
	cr_assert_lt(evbuffer_get_length(r.out), 1000);
	failed_with(&r, ERR_TOO_LARGE, "max_result_bytes");
	db_result_init(&r, 1000);
	cr_assert_eq(db_result_column(&r, p, 2000), -1);
	failed_with(&r, ERR_TOO_LARGE, "max_result_bytes");
	free(p);
}

/* Escapes count: text that fits as bytes may not as JSON. */
Test(result, escapes_count)
{
	struct db_result	r;
	char			lf[600];

	memset(lf, '\n', sizeof lf);
	db_result_init(&r, 1000);
	cr_assert_eq(db_result_row(&r), 0);
	cr_assert_eq(db_result_text(&r, lf, sizeof lf), -1);
	failed_with(&r, ERR_TOO_LARGE, "max_result_bytes");
}

/* Many small rows end at the limit: the text never grows far past it. */
Test(result, many_rows_stop_at_the_limit)
{
	struct db_result	r;
	int			i, rc = 0;

	db_result_init(&r, 4096);
	db_result_column(&r, "x", 1);
	for (i = 0; i < 1000000 && rc == 0; i++) {
		rc = db_result_row(&r);
		if (rc == 0)
			rc = db_result_int(&r, i);
		cr_assert_leq(evbuffer_get_length(r.out), 4096 + 16);
	}
	cr_assert_eq(rc, -1);
	cr_assert_lt(i, 1000);
	failed_with(&r, ERR_TOO_LARGE, "max_result_bytes (4096 bytes)");
}
