/*
 * The read job's fields and errors: offset, length and the end of a file,
 * base64 and UTF-8 (NUL bytes included, invalid text refused), fields that
 * refuse the whole batch, errors that name the path and what it is (in
 * both modes of path resolution), and max_bytes.
 *
 * End-to-end: real gatherd processes reading real files, directories,
 * symbolic links, FIFOs and sockets that each test builds in its own
 * directory (readtest.h); the read suites share the suite name read.
 * Timing bounds are wide and say what they tell apart; under
 * GATHERD_TEST_WRAPPER (valgrind) loops run fewer rounds and time-outs
 * are longer: there the point is memory errors and leaks, not speed.
 */

#include <sys/stat.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "readtest.h"

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	1000

HARNESS_SUITE(read, 180);

/*
 * 1. Fields.
 */

Test(read, whole_file_offset_length_and_the_end)
{
	/* Reads of digits.txt ("0123456789"): fields, the data they give. */
	static const char *const slices[][2] = {
		{ "", "0123456789" },
		{ "\"offset\":3", "3456789" },
		{ "\"length\":4", "0123" },
		{ "\"offset\":2,\"length\":3", "234" },
		{ "\"offset\":0,\"length\":10", "0123456789" },
		/* A length past the end gives what is there. */
		{ "\"offset\":8,\"length\":10", "89" },
		{ "\"length\":1000000", "0123456789" },
		{ "\"length\":0", "" },
		/* An offset at or past the end: no data, the size still right. */
		{ "\"offset\":10", "" },
		{ "\"offset\":11", "" },
		{ "\"offset\":9,\"length\":0", "" },
		{ "\"offset\":1000000,\"length\":5", "" },
		{ "\"offset\":9223372036854775807", "" },
		/* null is the same as absent. */
		{ "\"offset\":null,\"length\":null,\"encoding\":null,"
		    "\"timeout_ms\":null", "0123456789" },
		{ "\"encoding\":\"utf8\"", "0123456789" },
	};
	size_t	i;

	files_init();
	put_str("root/hello.txt", "hello\n");
	put_str("root/digits.txt", "0123456789");
	put_str("root/empty.txt", "");
	start(MODE_DEFAULT, 2, "root", NULL);

	expect_read("hello.txt", "", "hello\n", 6);
	for (i = 0; i < sizeof slices / sizeof slices[0]; i++)
		expect_read("digits.txt", slices[i][0], slices[i][1], 10);
	expect_read("empty.txt", "", "", 0);
	expect_read("empty.txt", "\"offset\":5", "", 0);
	daemon_stop(&d);
}

Test(read, base64_round_trips_binary_content)
{
	unsigned char	bin[512];
	size_t		i;

	files_init();
	for (i = 0; i < sizeof bin; i++)
		bin[i] = (unsigned char)(i * 7 + (i >> 8));
	put("root/bin", bin, sizeof bin);
	start(MODE_DEFAULT, 2, "root", NULL);

	expect_read_b64("bin", "", bin, sizeof bin, 512);
	/* Each padding: 1, 2, 3 bytes, from an offset. */
	expect_read_b64("bin", "\"offset\":255,\"length\":1", bin + 255, 1,
	    512);
	expect_read_b64("bin", "\"offset\":254,\"length\":2", bin + 254, 2,
	    512);
	expect_read_b64("bin", "\"offset\":1,\"length\":3", bin + 1, 3, 512);
	expect_read_b64("bin", "\"offset\":500", bin + 500, 12, 512);
	expect_read_b64("bin", "\"offset\":512", bin, 0, 512);
	daemon_stop(&d);
}

Test(read, utf8_text_with_nul_bytes_round_trips)
{
	static const char text[] = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"
	    " tab\there \"q\" back\\slash \x01 a\0b\0\n";
	struct reader	 c;
	char		*line;
	json_t		*r;

	files_init();
	put("root/text.txt", text, sizeof text - 1);
	start(MODE_DEFAULT, 2, "root", NULL);

	/* The raw reply escapes NUL as \u0000; jansson gives it back. */
	reader_open(&c, d.sock);
	client_send(c.fd,
	    "{\"jobs\":[{\"type\":\"read\",\"path\":\"text.txt\"}]}");
	line = reader_line(&c, reply_ms());
	cr_assert_not_null(line);
	cr_assert_not_null(strstr(line, "a\\u0000b\\u0000\\n"), "%s", line);
	r = jparse(line, strlen(line));
	expect_data(jget(r, "results[0]"), text, sizeof text - 1,
	    (json_int_t)(sizeof text - 1));
	json_decref(r);
	free(line);
	reader_close(&c);

	/* A slice that starts and ends on character boundaries. */
	r = read_result("text.txt", "\"offset\":1,\"length\":2");
	expect_data(r, "\xc3\xa9", 2, (json_int_t)(sizeof text - 1));
	json_decref(r);
	daemon_stop(&d);
}

Test(read, invalid_utf8_is_bad_encoding_but_base64_reads_it)
{
	files_init();
	put_str("root/latin1.txt", "caf\xe9 au lait");
	put_str("root/overlong.txt", "ab\xc0\xaf");
	put_str("root/surrogate.txt", "\xed\xa0\x80");
	put_str("root/utf8.txt", "\xc3\xa9t\xc3\xa9");
	start(MODE_DEFAULT, 2, "root", NULL);

	expect_reads_fail("bad_encoding", "latin1.txt", "overlong.txt",
	    "surrogate.txt", NULL);
	/* A slice cutting a character in two is not valid UTF-8 either. */
	expect_read_error("utf8.txt", "\"length\":1", "bad_encoding", NULL);
	expect_read_error("utf8.txt", "\"offset\":1", "bad_encoding", NULL);
	/* The part before the bad byte is fine. */
	expect_read("latin1.txt", "\"length\":3", "caf", 12);
	expect_read_b64("latin1.txt", "", "caf\xe9 au lait", 12, 12);
	daemon_stop(&d);
}

/* Assert a batch with these jobs is refused: code, message naming where. */
static void
expect_refused(const char *jobs, const char *code, const char *where)
{
	char	*line;
	json_t	*r;

	line = harness_fmt("{\"id\":\"v\",\"jobs\":[%s]}", jobs);
	r = daemon_request_ms(&d, line, reply_ms());
	jstr_is(r, "id", "v");
	jbool_is(r, "ok", false);
	cr_assert_null(jget(r, "results"), "%s", jtext(r));
	jstr_is(r, "error.code", code);
	cr_assert_not_null(strstr(jstr(r, "error.message"), where),
	    "sent %s: message does not name %s: %s", line, where, jtext(r));
	json_decref(r);
	free(line);
}

Test(read, invalid_fields_refuse_the_whole_batch)
{
	static const char	good[] = "{\"type\":\"read\",\"path\":\"f\"},";
	static const struct bad_field bad[] = {
		{ "{\"type\":\"read\"}", "jobs[1].path" },
		{ "{\"type\":\"read\",\"path\":null}", "jobs[1].path" },
		{ "{\"type\":\"read\",\"path\":5}", "jobs[1].path" },
		{ "{\"type\":\"read\",\"path\":[\"f\"]}", "jobs[1].path" },
		{ "{\"type\":\"read\",\"path\":\"\"}", "jobs[1].path" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"offset\":-1}",
		    "jobs[1].offset" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"offset\":1.5}",
		    "jobs[1].offset" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"offset\":1.0}",
		    "jobs[1].offset" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"offset\":\"1\"}",
		    "jobs[1].offset" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"length\":\"3\"}",
		    "jobs[1].length" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"length\":-3}",
		    "jobs[1].length" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"length\":true}",
		    "jobs[1].length" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"encoding\":\"latin1\"}",
		    "jobs[1].encoding" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"encoding\":\"UTF8\"}",
		    "jobs[1].encoding" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"encoding\":64}",
		    "jobs[1].encoding" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"pth\":\"f\"}",
		    "jobs[1].pth" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"ms\":5}", "jobs[1].ms" },
		{ "{\"type\":\"read\",\"path\":\"f\",\"timeout_ms\":-1}",
		    "jobs[1].timeout_ms" },
	};
	char	*jobs;
	json_t	*st;
	size_t	 i;

	files_init();
	put_str("root/f", "F");
	start(MODE_DEFAULT, 2, "root", NULL);

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		jobs = harness_fmt("%s%s", good, bad[i].text);
		expect_refused(jobs, "bad_request", bad[i].path);
		free(jobs);
	}
	/* No job ran: not even the valid jobs[0] of each batch. */
	st = status_of(&d);
	cr_assert_eq(jint(st, "jobs.done"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "jobs.by_type.read.done"), 0, "%s", jtext(st));
	json_decref(st);
	/* And the valid job alone runs. */
	expect_read("f", "", "F", 1);
	daemon_stop(&d);
}

/*
 * JSON allows "\u0000" in a string. A path holding one names no file: the
 * batch is bad_request naming jobs[N].path, as for any bad path (the
 * daemon must not call valid JSON bad_json).
 */
Test(read, path_with_nul_is_bad_request_naming_it)
{
	files_init();
	put_str("root/f", "F");
	start(MODE_DEFAULT, 2, "root", NULL);
	expect_refused("{\"type\":\"read\",\"path\":\"f\"},"
	    "{\"type\":\"read\",\"path\":\"f\\u0000g\"}", "bad_request",
	    "jobs[1].path");
	daemon_stop(&d);
}

/*
 * 2. Errors a person understands.
 */

static void
errors_name_the_path_and_what_it_is(enum mode mode)
{
	struct reader	 c;
	json_t		*r;
	char		*line;
	double		 t0, dt;

	files_init();
	put_str("root/f.txt", "F");
	mk_dir("root/dir");
	cr_assert_eq(mkfifo(fpath("root/fifo"), 0644), 0);
	mk_link("fifo", "root/fifo-link");
	/* One worker: a worker stuck on the FIFO would hang the next read. */
	start(mode, 1, "root /dev", NULL);

	expect_reads_fail("not_found", "missing.txt", "dir/missing.txt",
	    "nodir/missing.txt", "f.txt/x", "f.txt/", NULL);
	expect_read_error(fpath("root/missing.txt"), "", "not_found", NULL);
	expect_read_error("dir", "", "io_error", "directory");
	expect_read_error("dir/", "", "io_error", "directory");
	expect_read_error(".", "", "io_error", "directory");
	expect_read_error(fpath("root"), "", "io_error", "directory");
	expect_read_error("/dev/null", "", "io_error", "device");
	/* A read of /dev/zero would never end. */
	expect_read_error("/dev/zero", "", "io_error", "device");

	/* A FIFO with no writer: answered at once, the worker free again. */
	line = harness_fmt("{\"jobs\":[%s,%s,%s]}", read_job("fifo", ""),
	    read_job("fifo-link", "\"encoding\":\"base64\""),
	    read_job("f.txt", ""));
	reader_open(&c, d.sock);
	t0 = now_ms();
	client_send(c.fd, line);
	r = reader_json(&c, harness_wrapped() ? 20000 : 3000);
	dt = now_ms() - t0;
	reader_close(&c);
	cr_assert_lt(dt, slack_ms(PROMPT_MS), "FIFO reads took"
	    " %.0f ms: %s", dt, jtext(r));
	expect_failure(jget(r, "results[0]"), "io_error", "fifo", "FIFO");
	expect_failure(jget(r, "results[1]"), "io_error", "fifo-link", "FIFO");
	expect_data(jget(r, "results[2]"), "F", 1, 1);
	json_decref(r);
	free(line);
}

Test(read, errors_name_the_path_and_what_it_is)
{
	errors_name_the_path_and_what_it_is(MODE_DEFAULT);
	daemon_stop(&d);
}

Test(read, errors_name_the_path_and_what_it_is_walk)
{
	errors_name_the_path_and_what_it_is(MODE_WALK);
	daemon_stop(&d);
}

/*
 * A Unix socket file cannot be opened (ENXIO), but the message must
 * still say it is a socket, as it does for a FIFO or a directory.
 */
static void
socket_file(enum mode mode)
{
	files_init();
	mk_socket("root/sock");
	start(mode, 1, "root", NULL);
	expect_read_error("sock", "", "io_error", "socket");
	expect_read_error(fpath("root/sock"), "", "io_error", "socket");
}

Test(read, socket_file_is_io_error_saying_socket)
{
	socket_file(MODE_DEFAULT);
	daemon_stop(&d);
}

Test(read, socket_file_is_io_error_saying_socket_walk)
{
	socket_file(MODE_WALK);
	daemon_stop(&d);
}

Test(read, max_bytes_bounds_the_range_not_the_file)
{
	char	big[5000];
	json_t	*st;

	files_init();
	memset(big, 'x', sizeof big);
	put("root/big.txt", big, sizeof big);
	start(MODE_DEFAULT, 2, "root", "max_bytes = 1000\n");

	st = status_of(&d);
	cr_assert_eq(jint(st, "limits.read_max_bytes"), 1000, "%s",
	    jtext(st));
	json_decref(st);

	expect_read_error("big.txt", "", "too_large", "1000");
	expect_read_error("big.txt", "\"length\":1001", "too_large", NULL);
	expect_read_error("big.txt", "\"offset\":3999", "too_large", NULL);
	expect_read_error("big.txt", "\"encoding\":\"base64\"", "too_large",
	    NULL);
	expect_read("big.txt", "\"length\":10", "xxxxxxxxxx", 5000);
	big[1000] = '\0';
	expect_read("big.txt", "\"length\":1000", big, 5000);
	expect_read("big.txt", "\"offset\":4000", big, 5000);
	expect_read("big.txt", "\"offset\":2000,\"length\":1000", big, 5000);
	expect_read("big.txt", "\"offset\":5000", "", 5000);
	daemon_stop(&d);
}
