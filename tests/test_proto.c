/*
 * Request validation and reply encoding: every error path with its exact
 * message, and replies that parse back to what was meant.
 */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "batch.h"
#include "config.h"
#include "harness.h"
#include "job.h"
#include "jsonw.h"
#include "jsts.h"
#include "proto.h"
#include "snapshot.h"
#include "utf8.h"
#include "xmalloc.h"

/* A snapshot that is never freed: parsing only takes references. */
static struct snapshot	snap = { .refs = 1 };

static void
setup(void)
{
	char	 path[] = "/tmp/gatherd-test-proto.XXXXXX";
	char	*cause = NULL;
	FILE	*f;
	int	 fd;

	/* [db.default], for query jobs (parsing opens nothing). */
	cr_assert((fd = mkstemp(path)) != -1);
	cr_assert_not_null(f = fdopen(fd, "w"));
	fputs("[db.default]\ndriver = sqlite\n"
	    "path = /nonexistent/default.sqlite3\n", f);
	fclose(f);
	config_defaults(&snap.cfg);
	cr_assert_eq(config_load(&snap.cfg, path, 1, &cause), 0, "%s",
	    cause != NULL ? cause : "");
	unlink(path);
}

static void
teardown(void)
{
	config_free(&snap.cfg);
}

TestSuite(proto, .init = setup, .fini = teardown);

/*
 * Lines this long are parsed the big lines' way: the fast path (jread.c)
 * and jansson when it declines. Every line expect() checks is checked
 * again padded to this length with trailing spaces, which JSON ignores.
 */
#define BIG_LINE	(64 * 1024)

static void	expect_parse(const char *line, size_t len, enum err_code code,
		    const char *message, const char *id_text);

/* Parse line as is, then padded; assert both give the same verdict. */
static void
expect(const char *line, enum err_code code, const char *message)
{
	size_t	 len = strlen(line);
	char	*big;

	expect_parse(line, len, code, message, NULL);
	if (len >= BIG_LINE)
		return;
	big = xmalloc(BIG_LINE + 1);
	memcpy(big, line, len);
	memset(big + len, ' ', BIG_LINE - len);
	big[BIG_LINE] = '\0';
	expect_parse(big, BIG_LINE, code, message, NULL);
	free(big);
}

/*
 * Parse len bytes of line; assert code and, unless NULL, the exact
 * message and the id's text; a refusal keeps no batch, and nothing keeps
 * a reference to the snapshot.
 */
static void
expect_parse(const char *line, size_t len, enum err_code code,
    const char *message, const char *id_text)
{
	struct request	 req;
	char		*cause = NULL;
	enum err_code	 err;

	err = proto_parse(line, len, &snap, 0, &req, &cause);
	cr_assert_eq(err, code, "%s: got %s (%s), want %s", line,
	    err_name(err), cause != NULL ? cause : "", err_name(code));
	if (message != NULL) {
		cr_assert_not_null(cause, "%s: no message", line);
		cr_assert_str_eq(cause, message, "%s", line);
	}
	if (id_text != NULL) {
		cr_assert_not_null(req.id_text, "%s: no id text", line);
		cr_assert_str_eq(req.id_text, id_text, "%s", line);
		if (req.batch != NULL)
			cr_assert_str_eq(req.batch->id_text, id_text);
	}
	if (err != ERR_NONE)
		cr_assert_null(req.batch, "a refused request keeps no batch");
	if (err == ERR_BAD_JSON)
		cr_assert_null(req.id_text, "%s: bad_json has a null id", line);
	free(cause);
	proto_request_clear(&req);
	cr_assert_eq(snap.refs, 1, "%s: the batch dropped its reference", line);
}

Test(proto, bad_json)
{
	expect("{\"jobs\":[", ERR_BAD_JSON, NULL);
	expect("nope", ERR_BAD_JSON, NULL);
	expect("[1,2]", ERR_BAD_JSON, "a request must be a JSON object");
	expect("42", ERR_BAD_JSON, "a request must be a JSON object");
	expect("{\"op\":\"ping\",\"op\":\"ping\"}", ERR_BAD_JSON, NULL);
}

Test(proto, bad_json_message_says_where)
{
	struct request	 req;
	char		*cause;

	cr_assert_eq(proto_parse("{\"jobs\":[", 9, &snap, 0, &req, &cause),
	    ERR_BAD_JSON);
	cr_assert(strncmp(cause, "invalid JSON at column ", 23) == 0, "%s",
	    cause);
	cr_assert_null(req.id);
	free(cause);
	proto_request_clear(&req);
}

Test(proto, ops)
{
	expect("{\"op\":\"ping\"}", ERR_NONE, NULL);
	expect("{\"op\":\"status\"}", ERR_NONE, NULL);
	expect("{\"op\":\"status\",\"detail\":true}", ERR_NONE, NULL);
	expect("{\"op\":\"status\",\"detail\":1}", ERR_BAD_REQUEST,
	    "detail: expected true or false");
	expect("{\"op\":\"nap\"}", ERR_UNKNOWN_OP, "op: unknown op \"nap\"");
	expect("{\"op\":7}", ERR_BAD_REQUEST, "op: expected a string");
	expect("{\"op\":\"ping\",\"jobs\":[]}", ERR_BAD_REQUEST,
	    "jobs: unknown field");
	expect("{\"op\":null,\"jobs\":[]}", ERR_NONE, NULL);
	expect("{\"op\":\"ping\\u0000x\"}", ERR_UNKNOWN_OP,
	    "op: unknown op \"ping\\u0000x\"");
}

Test(proto, a_nul_inside_a_name_never_passes_for_a_shorter_one)
{
	expect("{\"jobs\":[{\"type\":\"sleep\\u0000\",\"ms\":1}]}",
	    ERR_UNKNOWN_TYPE, "jobs[0].type: unknown job type \"sleep\\u0000\"");
	expect("{\"jobs\":[],\"mode\":\"all\\u0000\"}", ERR_BAD_REQUEST,
	    "mode: expected \"all\", \"fail_fast\", \"any\" or \"first\"");
	expect("{\"id\":\"a\\u0000b\",\"op\":\"ping\"}", ERR_NONE, NULL);
}

Test(proto, cancel)
{
	expect("{\"op\":\"cancel\"}", ERR_BAD_REQUEST,
	    "target: missing required field");
	expect("{\"op\":\"cancel\",\"target\":null}", ERR_BAD_REQUEST,
	    "target: missing required field");
	expect("{\"op\":\"cancel\",\"target\":{\"a\":1}}", ERR_NONE, NULL);
	expect("{\"op\":\"cancel\",\"target\":1,\"conn\":\"all\"}",
	    ERR_BAD_REQUEST, "conn: expected a connection number or \"any\"");
	expect("{\"op\":\"cancel\",\"target\":1,\"conn\":-1}",
	    ERR_BAD_REQUEST, "conn: expected a connection number or \"any\"");
}

Test(proto, cancel_conn_values)
{
	struct request	 req;
	char		*cause;
	const char	*any = "{\"op\":\"cancel\",\"target\":1,\"conn\":\"any\"}";
	const char	*own = "{\"op\":\"cancel\",\"target\":\"x\"}";
	const char	*num = "{\"op\":\"cancel\",\"target\":1,\"conn\":12}";

	cr_assert_eq(proto_parse(any, strlen(any), &snap, 0, &req, &cause), 0);
	cr_assert_eq(req.cancel_conn, CANCEL_ANY);
	proto_request_clear(&req);
	cr_assert_eq(proto_parse(own, strlen(own), &snap, 0, &req, &cause), 0);
	cr_assert_eq(req.cancel_conn, CANCEL_OWN);
	cr_assert_str_eq(json_string_value(req.target), "x");
	proto_request_clear(&req);
	cr_assert_eq(proto_parse(num, strlen(num), &snap, 0, &req, &cause), 0);
	cr_assert_eq(req.cancel_conn, 12);
	proto_request_clear(&req);
}

Test(proto, batch_fields)
{
	expect("{}", ERR_BAD_REQUEST, "jobs: missing required field");
	expect("{\"jobs\":null}", ERR_BAD_REQUEST,
	    "jobs: missing required field");
	expect("{\"jobs\":{}}", ERR_BAD_REQUEST, "jobs: expected an array");
	expect("{\"jobs\":[]}", ERR_NONE, NULL);
	expect("{\"jobs\":[],\"timout_ms\":5}", ERR_BAD_REQUEST,
	    "timout_ms: unknown field");
	expect("{\"jobs\":[],\"mode\":\"race\"}", ERR_BAD_REQUEST,
	    "mode: expected \"all\", \"fail_fast\", \"any\" or \"first\"");
	expect("{\"jobs\":[],\"mode\":1}", ERR_BAD_REQUEST,
	    "mode: expected \"all\", \"fail_fast\", \"any\" or \"first\"");
	expect("{\"jobs\":[],\"mode\":\"sequence\"}", ERR_BAD_REQUEST,
	    "mode: expected \"all\", \"fail_fast\", \"any\" or \"first\"");
	expect("{\"jobs\":[],\"mode\":\"fail_fast\"}", ERR_NONE, NULL);
	expect("{\"jobs\":[],\"mode\":\"any\"}", ERR_NONE, NULL);
	expect("{\"jobs\":[],\"mode\":\"first\"}", ERR_NONE, NULL);
	expect("{\"jobs\":[],\"timeout_ms\":-1}", ERR_BAD_REQUEST,
	    "timeout_ms: expected a non-negative number");
	expect("{\"jobs\":[],\"timeout_ms\":\"5\"}", ERR_BAD_REQUEST,
	    "timeout_ms: expected a non-negative number");
	expect("{\"jobs\":[],\"timeout_ms\":0.5}", ERR_NONE, NULL);
	expect("{\"jobs\":[],\"concurrency\":0}", ERR_BAD_REQUEST,
	    "concurrency: expected an integer >= 1");
	expect("{\"jobs\":[],\"concurrency\":1.0}", ERR_BAD_REQUEST,
	    "concurrency: expected an integer >= 1");
	expect("{\"jobs\":[],\"concurrency\":\"2\"}", ERR_BAD_REQUEST,
	    "concurrency: expected an integer >= 1");
	expect("{\"jobs\":[],\"stream\":\"yes\"}", ERR_BAD_REQUEST,
	    "stream: expected true or false");
	expect("{\"jobs\":[],\"stream\":null,\"mode\":null,\"id\":null}",
	    ERR_NONE, NULL);
}

Test(proto, too_many_jobs)
{
	snap.cfg.limits.max_jobs_per_batch = 2;
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sleep\",\"ms\":0}]}",
	    ERR_TOO_LARGE, "jobs: 3 jobs exceed max_jobs_per_batch (2)");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0},"
	    "{\"type\":\"sleep\",\"ms\":0}]}", ERR_NONE, NULL);
}

Test(proto, job_fields)
{
	expect("{\"jobs\":[1]}", ERR_BAD_REQUEST, "jobs[0]: expected an object");
	expect("{\"jobs\":[{}]}", ERR_BAD_REQUEST,
	    "jobs[0].type: missing required field");
	expect("{\"jobs\":[{\"type\":3}]}", ERR_BAD_REQUEST,
	    "jobs[0].type: expected a string");
	expect("{\"jobs\":[{\"type\":\"nap\"}]}", ERR_UNKNOWN_TYPE,
	    "jobs[0].type: unknown job type \"nap\"");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"valeu\":2}]}",
	    ERR_BAD_REQUEST, "jobs[0].valeu: unknown field");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"timeout_ms\":-2}]}",
	    ERR_BAD_REQUEST, "jobs[0].timeout_ms: expected a non-negative"
	    " number");
	expect("{\"jobs\":[{\"type\":\"sleep\"}]}", ERR_BAD_REQUEST,
	    "jobs[0].ms: missing required field");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":null}]}", ERR_BAD_REQUEST,
	    "jobs[0].ms: missing required field");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":\"1\"}]}", ERR_BAD_REQUEST,
	    "jobs[0].ms: expected a non-negative number");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":-0.5}]}", ERR_BAD_REQUEST,
	    "jobs[0].ms: expected a non-negative number");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0.25,\"value\":null,"
	    "\"timeout_ms\":null}]}", ERR_NONE, NULL);
}

Test(proto, the_offending_job_is_named_by_index)
{
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1},"
	    "{\"type\":\"sleep\",\"ms\":1},{\"type\":\"sleep\",\"ms\":1},"
	    "{\"type\":\"sleep\",\"ms\":true}]}", ERR_BAD_REQUEST,
	    "jobs[3].ms: expected a non-negative number");
}

Test(proto, id_survives_an_error)
{
	struct request	 req;
	char		*cause;
	const char	*line = "{\"id\":[1,\"a\"],\"op\":\"nap\"}";

	cr_assert_eq(proto_parse(line, strlen(line), &snap, 0, &req, &cause),
	    ERR_UNKNOWN_OP);
	cr_assert_not_null(req.id);
	cr_assert_eq(json_array_size(req.id), 2);
	free(cause);
	proto_request_clear(&req);
}

/* line (len bytes) is the batch of batch_is_built_compact. */
static void
check_compact(const char *line, size_t len)
{
	struct request	 req;
	char		*cause;
	struct batch	*b;

	cr_assert_eq(proto_parse(line, len, &snap, 0, &req, &cause),
	    ERR_NONE);
	cr_assert_eq(req.op, OP_BATCH);
	b = req.batch;
	cr_assert_not_null(b);
	cr_assert_str_eq(b->id_text, "7");
	cr_assert_eq(b->njobs, 2);
	cr_assert_eq(b->mode, BATCH_FAIL_FAST);
	cr_assert_eq(b->concurrency, 3);
	cr_assert_eq(b->stream, 1);
	cr_assert_float_eq(b->timeout_ms, 250.0, 1e-9);
	cr_assert_eq(b->jobs[0]->type, job_type_find("sleep"));
	cr_assert_eq(b->jobs[0]->batch, b);
	cr_assert_lt(b->jobs[0]->timeout_ms, 0);
	cr_assert_float_eq(b->jobs[1]->timeout_ms, 5.0, 1e-9);
	cr_assert_eq(b->jobs[1]->index, 1);
	cr_assert_eq(b->jobs[1]->state, JOB_WAITING);
	proto_request_clear(&req);
}

/* The same, as a small line and as a big one (whitespace inside). */
Test(proto, batch_is_built_compact)
{
	const char	*line = "{\"id\":7,\"mode\":\"fail_fast\",\"timeout_ms\":"
	    "250,\"concurrency\":3,\"stream\":true,\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":10,\"value\":{\"b\":[1,2.5,\"x\"]}},"
	    "{\"type\":\"sleep\",\"ms\":0,\"timeout_ms\":5}]}";
	const char	*comma = strstr(line, "}},{");
	size_t		 len = strlen(line), at = (size_t)(comma - line) + 2;
	char		*big;

	check_compact(line, len);
	big = xmalloc(BIG_LINE);
	memcpy(big, line, at);
	memset(big + at, ' ', BIG_LINE - len);
	memcpy(big + at + BIG_LINE - len, line + at, len - at);
	check_compact(big, BIG_LINE);
	free(big);
}

static char *
evbuffer_string(struct evbuffer *evb)
{
	size_t	 len = evbuffer_get_length(evb);
	char	*s = malloc(len + 1);

	evbuffer_remove(evb, s, len);
	s[len] = '\0';
	return s;
}

Test(proto, error_reply_escapes_its_message)
{
	struct evbuffer	*evb = evbuffer_new();
	json_t		*v;
	char		*s;

	proto_write_error(evb, "\"q\\\"1\"", ERR_BAD_REQUEST, "a \"b\"\\\n\x01 é");
	s = evbuffer_string(evb);
	cr_assert_eq(s[strlen(s) - 1], '\n');
	v = json_loads(s, 0, NULL);
	cr_assert_not_null(v, "%s", s);
	cr_assert_str_eq(json_string_value(json_object_get(v, "id")), "q\"1");
	cr_assert(json_is_false(json_object_get(v, "ok")));
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v,
	    "error"), "code")), "bad_request");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v,
	    "error"), "message")), "a \"b\"\\\n\x01 é");
	json_decref(v);
	free(s);
	evbuffer_free(evb);
}

Test(proto, batch_reply_lists_results_in_job_order)
{
	struct request	 req;
	struct evbuffer	*evb = evbuffer_new();
	char		*cause, *s;
	json_t		*v, *results;
	const char	*line = "{\"id\":\"b\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":1},{\"type\":\"sleep\",\"ms\":1}]}";
	struct batch	*b;

	cr_assert_eq(proto_parse(line, strlen(line), &snap, 0, &req, &cause),
	    ERR_NONE);
	b = req.batch;
	/* Finish the jobs by hand, as the engine would. */
	b->jobs[0]->state = b->jobs[1]->state = JOB_DONE;
	b->jobs[0]->outcome = JOB_OK;
	b->jobs[0]->text = strdup("{\"x\":[1,2]}");
	b->jobs[0]->ms = 1.5f;
	b->jobs[1]->outcome = JOB_CANCELLED;
	b->jobs[1]->code = ERR_CANCELLED;
	b->jobs[1]->text = strdup("cancelled by request");
	b->nok = 1;
	b->ncancelled = 1;
	b->sum_ms = 1.5;
	b->recv_ns = 1000000;
	b->done_ns = 3500000;
	proto_write_reply(evb, b);
	s = evbuffer_string(evb);
	v = json_loads(s, 0, NULL);
	cr_assert_not_null(v, "%s", s);
	cr_assert_str_eq(json_string_value(json_object_get(v, "id")), "b");
	cr_assert(json_is_false(json_object_get(v, "ok")));
	cr_assert_float_eq(json_real_value(json_object_get(v, "elapsed_ms")),
	    2.5, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(v,
	    "stats"), "cancelled")), 1);
	results = json_object_get(v, "results");
	cr_assert_eq(json_array_size(results), 2);
	cr_assert_eq(json_integer_value(json_array_get(json_object_get(
	    json_object_get(json_array_get(results, 0), "value"), "x"), 1)), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    json_array_get(results, 1), "error"), "code")), "cancelled");
	json_decref(v);
	free(s);
	evbuffer_free(evb);
	proto_request_clear(&req);
}

#define EXPECT_ID(line, code, id) \
	expect_parse(line, strlen(line), code, NULL, id)

Test(proto, id_numbers_keep_the_digits_the_client_wrote)
{
	EXPECT_ID("{\"id\":1E2,\"op\":\"ping\"}", ERR_NONE, "1E2");
	EXPECT_ID("{\"id\":0.1,\"op\":\"ping\"}", ERR_NONE, "0.1");
	EXPECT_ID("{\"id\":-0,\"op\":\"ping\"}", ERR_NONE, "-0");
	EXPECT_ID("{\"id\":-0.0e-0,\"jobs\":[]}", ERR_NONE, "-0.0e-0");
	EXPECT_ID("{\"id\":9223372036854775807,\"jobs\":[]}", ERR_NONE,
	    "9223372036854775807");
	EXPECT_ID("{ \"id\" :\t[ 1.50 , {\"a b\" : 1e5 } ] ,\"op\":\"ping\"}",
	    ERR_NONE, "[1.50,{\"a b\":1e5}]");
	EXPECT_ID("{\"op\":\"ping\",\"id\":\"a \\u0041\"}", ERR_NONE,
	    "\"a A\"");
	EXPECT_ID("{\"op\":\"ping\"}", ERR_NONE, "null");
	EXPECT_ID("{\"op\":\"ping\",\"id\":null}", ERR_NONE, "null");
	EXPECT_ID("{\"op\":\"ping\",\"id\":true}", ERR_NONE, "true");
}

Test(proto, id_is_the_top_level_member_however_its_key_is_written)
{
	/* "id" inside another member is not the request's id. */
	EXPECT_ID("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0,\"value\":"
	    "{\"id\":5}}],\"id\":7.0}", ERR_NONE, "7.0");
	EXPECT_ID("{\"\\u0069d\":1E2,\"op\":\"ping\"}", ERR_NONE, "1E2");
	EXPECT_ID("{\"i\\u0064\":[2E0],\"op\":\"ping\"}", ERR_NONE, "[2E0]");
	/* A key that merely starts like "id", and strings with braces. */
	EXPECT_ID("{\"idx\":\"}{\\\"\",\"id\":3e0,\"op\":\"ping\"}",
	    ERR_BAD_REQUEST, "3e0");
	/* The id survives a refusal of the request. */
	EXPECT_ID("{\"id\":10E-1,\"op\":\"nap\"}", ERR_UNKNOWN_OP, "10E-1");
	EXPECT_ID("{\"id\":1.0,\"jobs\":[{\"type\":\"sleep\"}]}",
	    ERR_BAD_REQUEST, "1.0");
}

Test(proto, a_nul_byte_outside_a_string_is_bad_json)
{
	static const char	 after_number[] = "{\"jobs\":[{\"type\":\"sleep\","
	    "\"ms\":0,\"value\":123\0}]}";
	static const char	 in_string[] = "{\"op\":\"ping\",\"id\":\"a\0\"}";
	static const char	 at_end[] = "{\"op\":\"ping\"}\0";
	struct request		 req;
	char			*cause;

	cr_assert_eq(proto_parse(after_number, sizeof after_number - 1, &snap,
	    0, &req, &cause), ERR_BAD_JSON);
	cr_assert_str_eq(cause, "invalid JSON at column 44: a NUL byte"
	    " (write \\u0000 inside a string)");
	cr_assert_null(req.id_text);
	free(cause);
	proto_request_clear(&req);
	expect_parse(in_string, sizeof in_string - 1, ERR_BAD_JSON, NULL,
	    NULL);
	expect_parse(at_end, sizeof at_end - 1, ERR_BAD_JSON, NULL, NULL);
	/* Escaped, it is a character like any other. */
	EXPECT_ID("{\"op\":\"ping\",\"id\":\"a\\u0000\"}", ERR_NONE,
	    "\"a\\u0000\"");
}

/* A job line: {"jobs":[JOB]} with JOB given. */
static char *
job_line(const char *job)
{
	size_t	 len = strlen(job) + 16;
	char	*s = malloc(len);

	cr_assert_not_null(s);
	snprintf(s, len, "{\"jobs\":[%s]}", job);
	return s;
}

static void
expect_job(const char *job, enum err_code code, const char *message)
{
	char	*line = job_line(job);

	expect(line, code, message);
	free(line);
}

Test(proto, an_id_may_be_any_number_json_can_write)
{
	EXPECT_ID("{\"id\":18446744073709551616,\"op\":\"ping\"}", ERR_NONE,
	    "18446744073709551616");
	EXPECT_ID("{\"id\":-12345678901234567890123,\"jobs\":[]}", ERR_NONE,
	    "-12345678901234567890123");
	EXPECT_ID("{\"id\":1e400,\"op\":\"ping\"}", ERR_NONE, "1e400");
	EXPECT_ID("{\"id\":[1e999,-1E-999,1],\"op\":\"ping\"}", ERR_NONE,
	    "[1e999,-1E-999,1]");
	/* A refused request still echoes it. */
	EXPECT_ID("{\"id\":99999999999999999999,\"op\":\"nap\"}",
	    ERR_UNKNOWN_OP, "99999999999999999999");
}

Test(proto, an_integer_field_beyond_64_bits_is_bad_request)
{
	expect("{\"jobs\":[],\"concurrency\":18446744073709551616}",
	    ERR_BAD_REQUEST, "concurrency: integer out of range (a signed"
	    " 64-bit integer is expected)");
	/* Beyond a double too: still an integer, still bad_request. */
	expect("{\"jobs\":[],\"concurrency\":1"
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "}", ERR_BAD_REQUEST, "concurrency: integer out of range (a signed"
	    " 64-bit integer is expected)");
	expect("{\"jobs\":[],\"concurrency\":1e400}", ERR_BAD_REQUEST,
	    "concurrency: expected an integer >= 1");
	expect("{\"op\":\"cancel\",\"target\":1,\"conn\":"
	    "-9223372036854775809}", ERR_BAD_REQUEST, "conn: integer out of"
	    " range (a signed 64-bit integer is expected)");
	expect_job("{\"type\":\"read\",\"path\":\"f\",\"offset\":"
	    "9223372036854775808}", ERR_BAD_REQUEST, "jobs[0].offset: integer"
	    " out of range (a signed 64-bit integer is expected)");
	expect_job("{\"type\":\"read\",\"path\":\"f\",\"offset\":"
	    "9223372036854775807}", ERR_NONE, NULL);
	expect_job("{\"type\":\"query\",\"sql\":\"select ?1\",\"params\":"
	    "[1.5,-9223372036854775809]}", ERR_BAD_REQUEST, "jobs[0].params[1]:"
	    " integer out of range (a signed 64-bit integer is expected)");
	/* A real is a real, however large: bound as a double. */
	expect_job("{\"type\":\"query\",\"sql\":\"select ?1\",\"params\":"
	    "[1.8446744073709552e19,-9223372036854775808]}", ERR_NONE, NULL);
}

/*
 * The values of big integers are told from the client's reals by their
 * place in the line, whatever else the line holds around them.
 */
Test(proto, big_integers_are_found_wherever_they_are)
{
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0,\"value\":"
	    "[18446744073709551616,{\"a\":-18446744073709551617,\"b\":2.5}]},"
	    "{\"type\":\"read\",\"path\":\"f\",\"offset\":5,\"length\":"
	    "18446744073709551616}]}", ERR_BAD_REQUEST, "jobs[1].length:"
	    " integer out of range (a signed 64-bit integer is expected)");
	/* The same value written as a real is no integer at all. */
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":0,\"value\":"
	    "18446744073709551616},{\"type\":\"read\",\"path\":\"f\","
	    "\"length\":1.8446744073709552e19}]}", ERR_BAD_REQUEST,
	    "jobs[1].length: expected an integer >= 0");
	/* Strings that look like numbers are not numbers. */
	expect("{\"id\":\"18446744073709551616\",\"jobs\":[{\"type\":"
	    "\"sleep\",\"ms\":0,\"value\":[\"1e999\",\"-\\\"9\","
	    "99999999999999999999]},{\"type\":\"read\",\"path\":\"f\","
	    "\"offset\":99999999999999999999}]}", ERR_BAD_REQUEST,
	    "jobs[1].offset: integer out of range (a signed 64-bit integer is"
	    " expected)");
}

Test(proto, numbers_a_double_holds_are_fine_outside_integer_fields)
{
	expect_job("{\"type\":\"sleep\",\"ms\":0,\"value\":"
	    "100000000000000000000}", ERR_NONE, NULL);
	expect_job("{\"type\":\"sleep\",\"ms\":100000000000000000000000,"
	    "\"timeout_ms\":18446744073709551616}", ERR_NONE, NULL);
	expect_job("{\"type\":\"sleep\",\"ms\":0,\"value\":123e-10000000}",
	    ERR_NONE, NULL);
}

Test(proto, a_number_beyond_a_double_outside_the_id_is_bad_json)
{
	expect("{\"id\":7,\"jobs\":[{\"type\":\"sleep\",\"ms\":0,\"value\":"
	    "[1,-1.5e+9999]}]}", ERR_BAD_JSON, "invalid JSON at column 51: a"
	    " number beyond the range of a double");
	expect_job("{\"type\":\"sleep\",\"ms\":1e400}", ERR_BAD_JSON, NULL);
	expect("{\"op\":\"cancel\",\"target\":[1e400]}", ERR_BAD_JSON, NULL);
	/* With the id beyond a double as well: only the id may be. */
	expect("{\"id\":1e400,\"op\":\"cancel\",\"target\":1e400}",
	    ERR_BAD_JSON, NULL);
}

/* jansson's column, after a rewrite that lengthened the line before it. */
Test(proto, a_syntax_error_after_a_big_number_is_placed_in_the_line)
{
	expect("{\"id\":[18446744073709551616,1e999],\"op\":\"ping\" x}",
	    ERR_BAD_JSON, "invalid JSON at column 48: '}' expected near 'x'");
}

/*
 * JSONTestSuite (tests/jsts.c): each file as a sleep's value is accepted
 * or bad_json as the README says, and the error reply is valid UTF-8 and
 * JSON whatever bytes the message quotes.
 */
Test(proto, json_test_suite_files_are_accepted_or_refused_as_documented)
{
	struct jsts_case	*cases;
	struct request		 req;
	struct evbuffer		*evb;
	char			*cause, *s;
	size_t			 n, i, len, counts[3][2] = { { 0 } };
	enum err_code		 err, want;
	json_t			*r;

	cases = jsts_load(&n);
	for (i = 0; i < n; i++) {
		err = proto_parse(cases[i].line, cases[i].line_len, &snap, 0,
		    &req, &cause);
		want = cases[i].accepted ? ERR_NONE : ERR_BAD_JSON;
		cr_assert_eq(err, want, "%s: got %s (%s), want %s",
		    cases[i].name, err_name(err),
		    cause != NULL ? jsts_shown(cause, strlen(cause)) : "",
		    err_name(want));
		counts[cases[i].kind == 'y' ? 0 : cases[i].kind == 'n' ? 1 :
		    2][err == ERR_NONE]++;
		if (err != ERR_NONE) {
			cr_assert_not_null(evb = evbuffer_new());
			proto_write_error(evb, req.id_text, err, cause);
			len = evbuffer_get_length(evb);
			s = evbuffer_string(evb);
			cr_assert(utf8_valid((const unsigned char *)s, len, NULL),
			    "%s: reply not UTF-8: %s", cases[i].name,
			    jsts_shown(s, len));
			r = json_loadb(s, len, 0, NULL);
			cr_assert_not_null(r, "%s: reply not JSON: %s",
			    cases[i].name, jsts_shown(s, len));
			json_decref(r);
			free(s);
			evbuffer_free(evb);
		}
		free(cause);
		proto_request_clear(&req);
	}
	cr_log_info("JSONTestSuite: y %zu accepted %zu refused, n %zu accepted"
	    " %zu refused, i %zu accepted %zu refused", counts[0][1],
	    counts[0][0], counts[1][1], counts[1][0], counts[2][1],
	    counts[2][0]);
	jsts_free(cases, n);
}

Test(proto, name_and_retry_fields)
{
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"name\":\"a\","
	    "\"retry\":{\"attempts\":3,\"backoff_ms\":0.5}}]}", ERR_NONE, NULL);
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"name\":null,"
	    "\"retry\":null}]}", ERR_NONE, NULL);
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"name\":7}]}",
	    ERR_BAD_REQUEST, "jobs[0].name: expected a string");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"retry\":3}]}",
	    ERR_BAD_REQUEST, "jobs[0].retry: expected an object such as"
	    " {\"attempts\":3,\"backoff_ms\":100}");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"retry\":{}}]}",
	    ERR_BAD_REQUEST, "jobs[0].retry.attempts: missing required field");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"retry\":"
	    "{\"attempts\":2,\"tries\":2}}]}", ERR_BAD_REQUEST,
	    "jobs[0].retry.tries: unknown field");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"retry\":"
	    "{\"attempts\":0}}]}", ERR_BAD_REQUEST,
	    "jobs[0].retry.attempts: expected an integer from 1 to 10 (the"
	    " tries, the first included)");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"retry\":"
	    "{\"attempts\":11}}]}", ERR_BAD_REQUEST, NULL);
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"retry\":"
	    "{\"attempts\":2.0}}]}", ERR_BAD_REQUEST, NULL);
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"retry\":"
	    "{\"attempts\":18446744073709551616}}]}", ERR_BAD_REQUEST,
	    "jobs[0].retry.attempts: integer out of range (a signed 64-bit"
	    " integer is expected)");
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1,\"retry\":"
	    "{\"attempts\":10,\"backoff_ms\":-1}}]}", ERR_BAD_REQUEST,
	    "jobs[0].retry.backoff_ms: expected a non-negative number");
}

/* The name and retry are kept beside the job, the default backoff 100. */
Test(proto, name_and_retry_are_kept)
{
	struct request	 req;
	char		*cause;
	const char	*line = "{\"jobs\":[{\"type\":\"sleep\",\"ms\":1},"
	    "{\"type\":\"sleep\",\"ms\":1,\"name\":\"n\\u00e9\","
	    "\"retry\":{\"attempts\":4}}]}";
	struct job	*job;

	cr_assert_eq(proto_parse(line, strlen(line), &snap, 0, &req, &cause),
	    ERR_NONE);
	cr_assert_null(job_extra(req.batch->jobs[0]), "a plain job has none");
	job = req.batch->jobs[1];
	cr_assert_str_eq(job_name(job), "\"n\xc3\xa9\"");
	cr_assert_eq(job_extra(job)->tries, 4);
	cr_assert_float_eq(job_extra(job)->backoff_ms, 100, 1e-9);
	cr_assert_eq(job_attempts(job), 0);
	proto_request_clear(&req);
}

Test(proto, groups_nest_16_levels_and_paths_name_the_nesting)
{
	char	*line, *want;

	line = harness_nested_line(16,
	    "{\"type\":\"sleep\",\"ms\":1}", "group");
	expect(line, ERR_NONE, NULL);
	free(line);
	line = harness_nested_line(17,
	    "{\"type\":\"sleep\",\"ms\":1}", "group");
	want = xasprintf("jobs[0]%s: groups and sequences nest 16 levels deep"
	    " at most", ".jobs[0].jobs[0].jobs[0].jobs[0].jobs[0].jobs[0]"
	    ".jobs[0].jobs[0].jobs[0].jobs[0].jobs[0].jobs[0].jobs[0]"
	    ".jobs[0].jobs[0].jobs[0]");
	expect(line, ERR_BAD_REQUEST, want);
	free(line);
	free(want);
	line = harness_nested_line(3,
	    "{\"type\":\"sleep\",\"ms\":-1}", "group");
	expect(line, ERR_BAD_REQUEST, "jobs[0].jobs[0].jobs[0].jobs[0].ms:"
	    " expected a non-negative number");
	free(line);
	expect("{\"jobs\":[{\"type\":\"sleep\",\"ms\":1},{\"type\":\"group\","
	    "\"jobs\":[{\"type\":\"sleep\",\"ms\":1},{\"type\":\"read\"}]}]}",
	    ERR_BAD_REQUEST, "jobs[1].jobs[1].path: missing required field");
	expect("{\"jobs\":[{\"type\":\"group\",\"jobs\":[{\"type\":\"nap\"}]}]}",
	    ERR_UNKNOWN_TYPE, "jobs[0].jobs[0].type: unknown job type \"nap\"");
}

Test(proto, group_and_sequence_fields)
{
	expect("{\"jobs\":[{\"type\":\"group\"}]}", ERR_BAD_REQUEST,
	    "jobs[0].jobs: missing required field");
	expect("{\"jobs\":[{\"type\":\"group\",\"jobs\":{}}]}", ERR_BAD_REQUEST,
	    "jobs[0].jobs: expected an array");
	expect("{\"jobs\":[{\"type\":\"group\",\"jobs\":[],\"mode\":\"any\","
	    "\"concurrency\":2,\"timeout_ms\":5,\"name\":\"g\"}]}", ERR_NONE,
	    NULL);
	expect("{\"jobs\":[{\"type\":\"group\",\"jobs\":[],\"mode\":\"x\"}]}",
	    ERR_BAD_REQUEST, "jobs[0].mode: expected \"all\", \"fail_fast\","
	    " \"any\" or \"first\"");
	expect("{\"jobs\":[{\"type\":\"group\",\"jobs\":[],\"concurrency\":0}]}",
	    ERR_BAD_REQUEST, "jobs[0].concurrency: expected an integer >= 1");
	expect("{\"jobs\":[{\"type\":\"group\",\"jobs\":[],\"concurrency\":"
	    "99999999999999999999}]}", ERR_BAD_REQUEST,
	    "jobs[0].concurrency: integer out of range (a signed 64-bit"
	    " integer is expected)");
	expect("{\"jobs\":[{\"type\":\"sequence\",\"jobs\":[],\"mode\":\"all\"}]}",
	    ERR_BAD_REQUEST, "jobs[0].mode: unknown field");
	expect("{\"jobs\":[{\"type\":\"group\",\"jobs\":[],\"retry\":"
	    "{\"attempts\":2}}]}", ERR_BAD_REQUEST, "jobs[0].retry: a group is"
	    " not retried (that would run its jobs that succeeded again); give"
	    " retry to the jobs inside it");
}

/* Every level counts toward max_jobs_per_batch, groups included. */
Test(proto, max_jobs_per_batch_counts_every_level)
{
	struct request	 req;
	char		*cause;
	const char	*line = "{\"jobs\":[{\"type\":\"group\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":0},{\"type\":\"sequence\",\"jobs\":["
	    "{\"type\":\"sleep\",\"ms\":0}]}]}]}";

	snap.cfg.limits.max_jobs_per_batch = 4;
	cr_assert_eq(proto_parse(line, strlen(line), &snap, 0, &req, &cause),
	    ERR_NONE);
	cr_assert_eq(req.batch->njobs, 1);
	cr_assert_eq(req.batch->ntotal, 4);
	proto_request_clear(&req);
	snap.cfg.limits.max_jobs_per_batch = 3;
	expect(line, ERR_TOO_LARGE, "jobs[0].jobs[1].jobs: the request's jobs"
	    " at every level exceed max_jobs_per_batch (3)");
}
