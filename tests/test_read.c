/*
 * End-to-end tests of the read job: real gatherd processes reading real
 * files, directories, symbolic links, FIFOs and sockets that each test
 * builds in its own temporary directory (fdir below, removed by the
 * suite's teardown together with the daemon's own directory).
 *
 * Every test of path resolution (confinement, errors, the swapped link,
 * the socket file) runs twice: once as the daemon runs by default
 * (openat2(RESOLVE_BENEATH) on any kernel from 5.6), once with
 * GATHERD_NO_OPENAT2=1 in the daemon's environment, which makes it walk
 * paths itself one component at a time. Criterion runs every test in its
 * own process, so a test sets that variable with setenv() before
 * daemon_start and the forked daemon inherits it; the test then checks the
 * daemon's /proc/PID/environ, so a mode cannot silently not be tested.
 *
 * Timing assertions use wide bounds and say what they tell apart. Under
 * GATHERD_TEST_WRAPPER (valgrind) the loops run fewer rounds and the
 * latency bound of the responsiveness test is widened: there the point is
 * memory errors and leaks, not speed.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "readtest.h"

/* How long a reply that should come "at once" may take, generously. */
#define PROMPT_MS	1000

static struct daemon	d;	/* this test's daemon */
static struct daemon	d2;	/* a second one, for the few tests that need it */

TestSuite(read, .init = harness_suite_init, .fini = harness_suite_fini,
    .timeout = 180);

/* Start d (see start_in). */
static void
start(enum mode mode, unsigned threads, const char *roots, const char *extra)
{
	start_in(&d, mode, threads, roots, extra, NULL);
}

/*
 * 1. Fields.
 */

Test(read, whole_file_offset_length_and_the_end)
{
	files_init();
	put_str("root/hello.txt", "hello\n");
	put_str("root/digits.txt", "0123456789");
	put_str("root/empty.txt", "");
	start(MODE_DEFAULT, 2, "root", NULL);

	expect_read("hello.txt", "", "hello\n", 6);
	expect_read("digits.txt", "", "0123456789", 10);
	expect_read("digits.txt", "\"offset\":3", "3456789", 10);
	expect_read("digits.txt", "\"length\":4", "0123", 10);
	expect_read("digits.txt", "\"offset\":2,\"length\":3", "234", 10);
	expect_read("digits.txt", "\"offset\":0,\"length\":10", "0123456789",
	    10);
	/* A length past the end gives what is there. */
	expect_read("digits.txt", "\"offset\":8,\"length\":10", "89", 10);
	expect_read("digits.txt", "\"length\":1000000", "0123456789", 10);
	expect_read("digits.txt", "\"length\":0", "", 10);
	/* An offset at or past the end: no data, the size still right. */
	expect_read("digits.txt", "\"offset\":10", "", 10);
	expect_read("digits.txt", "\"offset\":11", "", 10);
	expect_read("digits.txt", "\"offset\":9,\"length\":0", "", 10);
	expect_read("digits.txt", "\"offset\":1000000,\"length\":5", "", 10);
	expect_read("digits.txt", "\"offset\":9223372036854775807", "", 10);
	expect_read("empty.txt", "", "", 0);
	expect_read("empty.txt", "\"offset\":5", "", 0);
	/* null is the same as absent. */
	expect_read("digits.txt", "\"offset\":null,\"length\":null,"
	    "\"encoding\":null,\"timeout_ms\":null", "0123456789", 10);
	expect_read("digits.txt", "\"encoding\":\"utf8\"", "0123456789", 10);
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
	client_send(c.fd, "{\"jobs\":[{\"type\":\"read\",\"path\":\"text.txt\"}]}");
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

	expect_read_error("latin1.txt", "", "bad_encoding", NULL);
	expect_read_error("overlong.txt", "", "bad_encoding", NULL);
	expect_read_error("surrogate.txt", "", "bad_encoding", NULL);
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
	static const struct {
		const char	*job;
		const char	*where;
	} bad[] = {
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
		jobs = harness_fmt("%s%s", good, bad[i].job);
		expect_refused(jobs, "bad_request", bad[i].where);
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

	expect_read_error("missing.txt", "", "not_found", NULL);
	expect_read_error("dir/missing.txt", "", "not_found", NULL);
	expect_read_error("nodir/missing.txt", "", "not_found", NULL);
	expect_read_error("f.txt/x", "", "not_found", NULL);
	expect_read_error("f.txt/", "", "not_found", NULL);
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

/*
 * 3. Confinement: every escape is forbidden, in both modes.
 */

static void
confinement(enum mode mode)
{
	char	*abs_in, *abs_out, name[32], target[32];
	int	 i;

	files_init();
	put_str("root/f.txt", "ROOT F");
	put_str("root/x.txt", "FIRST X");
	mk_dir("root/a");
	mk_dir("root/sub");
	mk_dir("root/sub/deeper");
	put_str("root/sub/g.txt", "SUB G");
	put_str("root/sub/deeper/h.txt", "DEEP H");
	mk_dir("second");
	put_str("second/x.txt", "SECOND X");
	put_str("second/y.txt", "SECOND Y");
	mk_dir("root-other");
	put_str("root-other/s.txt", "SECRET");

	/* Links that stay inside. */
	mk_link("f.txt", "root/link");
	mk_link("chain2", "root/chain1");
	mk_link("sub/g.txt", "root/chain2");
	mk_link("../f.txt", "root/sub/up");
	mk_link("sub", "root/dirlink");
	mk_link("sub/deeper", "root/deeplink");
	mk_link("./sub//deeper/../g.txt", "root/dotty");
	/* Links that leave, or are absolute. */
	mk_link("../outside/secret.txt", "root/out");
	mk_link("outchain2", "root/outchain1");
	mk_link("sub/out3", "root/outchain2");
	mk_link("../../outside/secret.txt", "root/sub/out3");
	mk_link("../outside", "root/outdir");
	mk_link("../root/f.txt", "root/reenter");
	mk_link("../second/x.txt", "root/tosecond");
	mk_link("../root/f.txt", "second/tofirst");
	abs_in = strdup(fpath("root/f.txt"));
	abs_out = strdup(fpath("outside/secret.txt"));
	mk_link(abs_in, "root/abs-in");
	mk_link(abs_out, "root/abs-out");
	mk_link(fpath("root/sub"), "root/abs-dir");
	mk_link("/", "root/slash");
	mk_link("loop2", "root/loop1");
	mk_link("loop1", "root/loop2");

	/* The kernel follows at most 40 links in one path; so must the walk. */
	for (i = 1; i <= 41; i++) {
		snprintf(name, sizeof name, "root/hop%02d", i);
		snprintf(target, sizeof target, i == 1 ? "f.txt" : "hop%02d",
		    i - 1);
		mk_link(target, name);
	}

	start(mode, 2, "root second", NULL);

	/* Plain paths, and ".." that stays inside. */
	expect_read("f.txt", "", "ROOT F", 6);
	expect_read("./f.txt", "", "ROOT F", 6);
	expect_read("sub//g.txt", "", "SUB G", 5);
	expect_read("sub/../f.txt", "", "ROOT F", 6);
	expect_read("a/../sub/deeper/../g.txt", "", "SUB G", 5);
	/* ".." above the root. */
	expect_read_error("..", "", "forbidden", NULL);
	expect_read_error("../outside/secret.txt", "", "forbidden", NULL);
	expect_read_error("a/../../outside/secret.txt", "", "forbidden", NULL);
	expect_read_error("sub/deeper/../../../outside/secret.txt", "",
	    "forbidden", NULL);
	/* Above the root and back in is still above it (RESOLVE_BENEATH). */
	expect_read_error("../root/f.txt", "", "forbidden", NULL);
	expect_read_error("sub/../../root/f.txt", "", "forbidden", NULL);

	/* Absolute paths: beneath a root, or forbidden. */
	expect_read(fpath("root/f.txt"), "", "ROOT F", 6);
	expect_read(fpath("root/sub/../sub/g.txt"), "", "SUB G", 5);
	expect_read(fpath("root//sub/g.txt"), "", "SUB G", 5);
	expect_read(fpath("second/y.txt"), "", "SECOND Y", 8);
	expect_read(fpath("second/x.txt"), "", "SECOND X", 8);
	/* Relative paths go to the first root. */
	expect_read("x.txt", "", "FIRST X", 7);
	expect_read_error("y.txt", "", "not_found", NULL);
	expect_read_error(fpath("outside/secret.txt"), "", "forbidden",
	    "outside");
	expect_read_error(fpath("root-other/s.txt"), "", "forbidden", NULL);
	expect_read_error("/etc/passwd", "", "forbidden", NULL);
	expect_read_error("/", "", "forbidden", NULL);
	expect_read_error(fpath("root/../outside/secret.txt"), "",
	    "forbidden", NULL);
	expect_read_error(fpath("second/../root/f.txt"), "", "forbidden",
	    NULL);
	expect_read_error(fpath("root/../second/x.txt"), "", "forbidden",
	    NULL);

	/* Relative symbolic links inside: fine, chained too. */
	expect_read("link", "", "ROOT F", 6);
	expect_read("chain1", "", "SUB G", 5);
	expect_read("sub/up", "", "ROOT F", 6);
	expect_read("dotty", "", "SUB G", 5);
	expect_read(fpath("root/chain1"), "", "SUB G", 5);
	/* A link to a directory, then a file below it. */
	expect_read("dirlink/g.txt", "", "SUB G", 5);
	expect_read("dirlink/deeper/h.txt", "", "DEEP H", 6);
	expect_read("dirlink/../f.txt", "", "ROOT F", 6);
	/* ".." after a link is the parent of its target, as in the kernel. */
	expect_read("deeplink/../g.txt", "", "SUB G", 5);
	expect_read_error("dirlink", "", "io_error", "directory");

	/* Links that leave the root, directly or through a chain. */
	expect_read_error("out", "", "forbidden", NULL);
	expect_read_error("outchain1", "", "forbidden", NULL);
	expect_read_error("sub/out3", "", "forbidden", NULL);
	expect_read_error("outdir/secret.txt", "", "forbidden", NULL);
	expect_read_error("reenter", "", "forbidden", NULL);
	expect_read_error(fpath("root/out"), "", "forbidden", NULL);
	/* Another root is outside this one. */
	expect_read_error("tosecond", "", "forbidden", NULL);
	expect_read_error(fpath("second/tofirst"), "", "forbidden", NULL);
	/* Absolute links, even to inside. */
	expect_read_error("abs-in", "", "forbidden", NULL);
	expect_read_error("abs-out", "", "forbidden", NULL);
	expect_read_error("abs-dir/g.txt", "", "forbidden", NULL);
	expect_read_error("slash", "", "forbidden", NULL);
	expect_read_error("slash/etc/passwd", "", "forbidden", NULL);
	/* A loop is not an escape, and not a hang. */
	expect_read_error("loop1", "", "io_error", NULL);
	expect_read("hop40", "", "ROOT F", 6);
	expect_read_error("hop41", "", "io_error", NULL);

	free(abs_in);
	free(abs_out);
}

Test(read, confinement)
{
	if (!kernel_has_openat2())
		cr_log_warn("no openat2 here: the default mode walks too");
	confinement(MODE_DEFAULT);
	daemon_stop(&d);
}

Test(read, confinement_walk)
{
	confinement(MODE_WALK);
	daemon_stop(&d);
}

/*
 * 4. A symbolic link swapped in and out during reads.
 */

static atomic_bool	swap_stop;
static atomic_ulong	swap_count;
static pthread_t	swap_thread;
static bool		swap_running;

/* Flip root/victim between a file inside and links outside, until told. */
static void *
swapper(void *arg)
{
	char	victim[PATH_MAX], inside[PATH_MAX], tmp[PATH_MAX];
	char	rel_out[] = "../outside/secret.txt", abs_out[PATH_MAX];
	unsigned long	n = 0;

	(void)arg;
	snprintf(victim, sizeof victim, "%s/root/victim", fdir);
	snprintf(inside, sizeof inside, "%s/root/inside.txt", fdir);
	snprintf(tmp, sizeof tmp, "%s/root/.tmp", fdir);
	snprintf(abs_out, sizeof abs_out, "%s/outside/secret.txt", fdir);
	while (!atomic_load(&swap_stop)) {
		unlink(tmp);
		if (link(inside, tmp) == 0)
			rename(tmp, victim);
		unlink(tmp);
		if (symlink(n % 2 == 0 ? rel_out : abs_out, tmp) == 0)
			rename(tmp, victim);
		n++;
	}
	atomic_store(&swap_count, n);
	return NULL;
}

/* Stop the swapper, if it runs: also at teardown, before files go. */
static void
swapper_stop(void)
{
	if (!swap_running)
		return;
	atomic_store(&swap_stop, true);
	pthread_join(swap_thread, NULL);
	swap_running = false;
}

static void
swapped_link(enum mode mode)
{
	struct reader	 c;
	json_t		*r, *res;
	char		*job, *jobs, *line, *p;
	const char	*code;
	size_t		 i, nreads = 0, nok = 0, nforbidden = 0, nmissing = 0;
	double		 t0;
	int		 batch;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	put_str("root/inside.txt", "INSIDE");
	mk_link("inside.txt", "root/victim");
	start(mode, 4, "root", NULL);

	/* 200 reads of victim, by relative and by absolute path. */
	jobs = strdup("");
	for (i = 0; i < 200; i++) {
		job = read_job(i % 2 == 0 ? "victim" : fpath("root/victim"), "");
		p = harness_fmt("%s%s%s", jobs, i > 0 ? "," : "", job);
		free(jobs);
		free(job);
		jobs = p;
	}
	line = harness_fmt("{\"jobs\":[%s]}", jobs);

	atomic_store(&swap_stop, false);
	cr_assert_eq(pthread_create(&swap_thread, NULL, swapper, NULL), 0);
	swap_running = true;
	/* Stopped at the suite's fini too, before the files go. */
	harness_at_fini(swapper_stop);
	reader_open(&c, d.sock);
	t0 = now_ms();
	for (batch = 0; now_ms() - t0 < 1000 || batch < 3; batch++) {
		client_send(c.fd, line);
		r = reader_json(&c, reply_ms());
		cr_assert_eq(json_array_size(jget(r, "results")), 200, "%s",
		    jtext(r));
		for (i = 0; i < 200; i++) {
			res = jget(r, "results");
			res = json_array_get(res, i);
			nreads++;
			if (json_is_true(jget(res, "ok"))) {
				expect_data(res, "INSIDE", 6, 6);
				nok++;
				continue;
			}
			code = jstr(res, "error.code");
			cr_assert(strcmp(code, "forbidden") == 0 ||
			    strcmp(code, "not_found") == 0,
			    "results[%zu] of batch %d: %s", i, batch,
			    jtext(res));
			if (strcmp(code, "forbidden") == 0)
				nforbidden++;
			else
				nmissing++;
		}
		json_decref(r);
	}
	swapper_stop();
	reader_close(&c);
	cr_log_info("swapped link (%s): %zu reads in %d batches: %zu ok,"
	    " %zu forbidden, %zu not_found; %lu swaps",
	    mode == MODE_WALK ? "walk" : "openat2", nreads, batch, nok,
	    nforbidden, nmissing, atomic_load(&swap_count));
	/*
	 * Both sides of the race were seen, or the test proved nothing. Under
	 * valgrind (one thread at a time, few reads) one side may never come
	 * up; there the run is about leaks, and "never SECRET" still holds.
	 */
	if (harness_slack() == 1.0) {
		cr_assert_gt(nok, 0);
		cr_assert_gt(nforbidden, 0);
	} else
		cr_assert_gt(nok + nforbidden, 0);
	free(jobs);
	free(line);
}

Test(read, swapped_link_never_reads_outside)
{
	swapped_link(MODE_DEFAULT);
	daemon_stop(&d);
}

Test(read, swapped_link_never_reads_outside_walk)
{
	swapped_link(MODE_WALK);
	daemon_stop(&d);
}

/*
 * 5. Many files in one batch.
 */

Test(read, thousand_files_in_one_batch_in_order)
{
	struct reader	 c;
	json_t		*r;
	char		*jobs, *p, name[32], want[64];
	size_t		 i, len = 0, cap = 65536;
	const int	 n = 1000;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	mk_dir("root/many");
	for (i = 0; i < (size_t)n; i++) {
		snprintf(name, sizeof name, "root/many/f%04zu", i);
		snprintf(want, sizeof want, "this is file %zu\n", i);
		put_str(name, want);
	}
	start(MODE_DEFAULT, 4, "root", NULL);

	jobs = malloc(cap);
	cr_assert_not_null(jobs);
	len += (size_t)sprintf(jobs, "{\"id\":\"many\",\"jobs\":[");
	for (i = 0; i < (size_t)n; i++) {
		len += (size_t)sprintf(jobs + len, "%s{\"type\":\"read\","
		    "\"path\":\"many/f%04zu\"}", i > 0 ? "," : "", i);
		cr_assert_lt(len, cap - 100);
	}
	strcpy(jobs + len, "]}");

	reader_open(&c, d.sock);
	client_send(c.fd, jobs);
	r = reader_json(&c, reply_ms());
	jstr_is(r, "id", "many");
	jbool_is(r, "ok", true);
	cr_assert_eq(jint(r, "stats.ok"), n, "%s", jtext(jget(r, "stats")));
	cr_assert_eq(json_array_size(jget(r, "results")), (size_t)n);
	for (i = 0; i < (size_t)n; i++) {
		snprintf(want, sizeof want, "this is file %zu\n", i);
		p = harness_fmt("results[%zu]", i);
		expect_data(jget(r, p), want, strlen(want),
		    (json_int_t)strlen(want));
		free(p);
	}
	json_decref(r);
	reader_close(&c);
	free(jobs);
	daemon_stop(&d);
}

/*
 * 6. Cancellation while reads are on workers.
 */

#define CANCEL_FILES	8
#define CANCEL_SIZE	(256 * 1024)

/* Files big0..big7 of CANCEL_SIZE bytes of letters. */
static void
make_cancel_files(void)
{
	char	*buf, name[32];
	int	 i;

	buf = malloc(CANCEL_SIZE);
	cr_assert_not_null(buf);
	for (i = 0; i < CANCEL_FILES; i++) {
		memset(buf, 'a' + i, CANCEL_SIZE);
		snprintf(name, sizeof name, "root/big%d", i);
		put(name, buf, CANCEL_SIZE);
	}
	free(buf);
}

/* A batch line: opts (JSON members, may be ""), first (a job or NULL), n reads. */
static char *
cancel_batch(const char *opts, const char *first, int n, const char *last)
{
	char	*s, *p;
	size_t	 len = 0, cap = (size_t)n * 80 + 1024;
	int	 i;

	s = malloc(cap);
	cr_assert_not_null(s);
	len += (size_t)snprintf(s, cap, "{%s%s\"jobs\":[%s%s", opts,
	    *opts != '\0' ? "," : "", first != NULL ? first : "",
	    first != NULL ? "," : "");
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(s + len, cap - len, "%s{\"type\":"
		    "\"read\",\"path\":\"big%d\",\"encoding\":\"base64\"}",
		    i > 0 ? "," : "", i % CANCEL_FILES);
	}
	p = s + len;
	snprintf(p, cap - len, "%s%s]}", last != NULL ? "," : "",
	    last != NULL ? last : "");
	return s;
}

/*
 * Check a cancelled batch's reply: stats add up, every ok read is whole,
 * every other result has one of the codes allowed (comma-separated list).
 */
static void
check_cancelled_reply(json_t *r, size_t njobs, const char *allowed,
    size_t *nstopped)
{
	json_t		*res;
	const char	*code;
	size_t		 i, nok = 0, nbad = 0;

	cr_assert_eq(json_array_size(jget(r, "results")), njobs, "%.500s",
	    jtext(r));
	cr_assert_eq(jint(r, "stats.jobs"), (json_int_t)njobs);
	cr_assert_eq(jint(r, "stats.ok") + jint(r, "stats.failed") +
	    jint(r, "stats.cancelled") + jint(r, "stats.timed_out"),
	    (json_int_t)njobs, "%s", jtext(jget(r, "stats")));
	*nstopped = 0;
	for (i = 0; i < njobs; i++) {
		res = json_array_get(jget(r, "results"), i);
		if (json_is_true(jget(res, "ok"))) {
			if (json_is_object(jget(res, "value")))
				cr_assert_eq(jint(res, "value.bytes"),
				    CANCEL_SIZE, "%.300s", jtext(res));
			nok++;
			continue;
		}
		code = jstr(res, "error.code");
		if (strstr(allowed, code) == NULL)
			nbad++;
		cr_assert_eq(nbad, 0, "results[%zu]: %s (allowed: %s)", i,
		    jtext(res), allowed);
		if (strcmp(code, "cancelled") == 0 ||
		    strcmp(code, "timeout") == 0)
			(*nstopped)++;
	}
	cr_assert_eq(jint(r, "stats.ok"), (json_int_t)nok);
}

Test(read, cancellation_leaves_nothing_behind)
{
	struct reader	 c;
	json_t		*r, *st;
	json_int_t	 done;
	char		*line, *missing, *failing_sleep;
	size_t		 stopped, total_stopped = 0;
	int		 round, rounds = harness_wrapped() ? 10 : 50;
	double		 t0, dt, max_settle = 0;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	make_cancel_files();
	start(MODE_DEFAULT, 4, "root", NULL);
	missing = read_job("no-such-file", "");
	failing_sleep = strdup("{\"type\":\"sleep\",\"ms\":10000,"
	    "\"timeout_ms\":2}");

	for (round = 0; round < rounds; round++) {
		/* (a) fail_fast: a quick failure cancels the reads. */
		if (round % 2 == 0)
			line = cancel_batch("\"mode\":\"fail_fast\"", missing,
			    100, NULL);
		else
			line = cancel_batch("\"mode\":\"fail_fast\"", NULL,
			    100, failing_sleep);
		reader_open(&c, d.sock);
		client_send(c.fd, line);
		r = reader_json(&c, reply_ms());
		jbool_is(r, "ok", false);
		cr_assert_eq(jint(r, "stats.failed") + jint(r,
		    "stats.timed_out"), 1, "%s", jtext(jget(r, "stats")));
		if (round % 2 == 0)
			jstr_is(r, "results[0].error.code", "not_found");
		else
			jstr_is(r, "results[100].error.code", "timeout");
		check_cancelled_reply(r, 101, "cancelled,not_found,timeout",
		    &stopped);
		cr_assert_gt(jint(r, "stats.cancelled"), 0, "round %d: %s",
		    round, jtext(jget(r, "stats")));
		total_stopped += stopped;
		json_decref(r);
		reader_close(&c);
		free(line);
		t0 = now_ms();
		expect_settles(&d, 2000, "fail_fast");
		dt = now_ms() - t0;
		max_settle = dt > max_settle ? dt : max_settle;

		/* (b) a batch deadline of 1 ms over 200 reads. */
		line = cancel_batch("\"timeout_ms\":1", NULL, 200, NULL);
		reader_open(&c, d.sock);
		client_send(c.fd, line);
		r = reader_json(&c, reply_ms());
		check_cancelled_reply(r, 200, "timeout", &stopped);
		cr_assert_gt(jint(r, "stats.timed_out"), 0, "round %d: %s",
		    round, jtext(jget(r, "stats")));
		total_stopped += stopped;
		json_decref(r);
		reader_close(&c);
		free(line);
		t0 = now_ms();
		expect_settles(&d, 2000, "batch timeout_ms");
		dt = now_ms() - t0;
		max_settle = dt > max_settle ? dt : max_settle;

		/*
		 * (c) a disconnect right after sending 200 reads: a plain
		 * close, or a reset (a reply left unread) every other round.
		 */
		line = cancel_batch("", NULL, 200, NULL);
		st = status_of(&d);
		done = jint(st, "jobs.by_type.read.done");
		json_decref(st);
		reader_open(&c, d.sock);
		if (round % 2 == 1) {
			client_send(c.fd, "{\"op\":\"ping\"}");
			usleep(1000);
		}
		client_send(c.fd, line);
		reader_close(&c);
		free(line);
		t0 = now_ms();
		expect_settles(&d, 2000, "disconnect");
		dt = now_ms() - t0;
		max_settle = dt > max_settle ? dt : max_settle;
		/*
		 * After a close the batch did start: its 200 reads ended,
		 * most cancelled. A reset may also drop the line unread.
		 */
		st = status_of(&d);
		done = jint(st, "jobs.by_type.read.done") - done;
		cr_assert(done == 200 || (round % 2 == 1 && done == 0),
		    "round %d: %lld reads done: %s", round, (long long)done,
		    jtext(st));
		json_decref(st);
		daemon_ping(&d, reply_ms());
	}
	cr_log_info("cancellation: %d rounds, %zu jobs stopped, slowest"
	    " settle %.1f ms", rounds, total_stopped, max_settle);
	free(missing);
	free(failing_sleep);
	daemon_stop(&d);
}

/*
 * SIGTERM while reads are on the workers: the batch in flight finishes
 * and is answered, the abandoned work of a gone client is freed, exit 0.
 */
Test(read, sigterm_with_reads_on_workers_drains_and_exits_0)
{
	struct reader	 c, gone;
	json_t		*r, *st;
	json_int_t	 batches = 0, done = 0;
	double		 deadline;
	char		*line;
	size_t		 stopped;
	int		 status;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	make_cancel_files();
	start(MODE_DEFAULT, 2, "root", NULL);
	line = cancel_batch("", NULL, 200, NULL);
	/*
	 * A ping first: the socket accepts before the daemon handles
	 * SIGTERM, and this test is about reads, not start-up.
	 */
	reader_open(&c, d.sock);
	client_send(c.fd, "{\"op\":\"ping\"}");
	json_decref(reader_json(&c, reply_ms()));
	reader_open(&gone, d.sock);
	client_send(gone.fd, line);
	reader_close(&gone);
	client_send(c.fd, line);
	/*
	 * SIGTERM only once the daemon has read c's batch: a request still
	 * unread when the drain starts is not in flight, and the point here
	 * is the batch on the workers.
	 */
	deadline = now_ms() + reply_ms();
	for (;;) {
		st = status_of(&d);
		batches = jint(st, "batches.in_flight");
		done = jint(st, "batches.done");
		json_decref(st);
		if ((batches == 1 && done == 1) || now_ms() > deadline)
			break;
		usleep(1000);
	}
	cr_assert(batches == 1 && done == 1, "c's batch never started");
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	r = reader_json(&c, reply_ms());
	jbool_is(r, "ok", true);
	check_cancelled_reply(r, 200, "", &stopped);
	json_decref(r);
	status = daemon_wait(&d, reply_ms());
	cr_assert_neq(status, -1, "gatherd did not exit");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "gatherd exited with status 0x%x, see %s", status, d.log);
	reader_close(&c);
	free(line);
	daemon_stop(&d);
}

/*
 * 7. The loop answers while workers are busy with big reads.
 */

#define BUSY_FILES	64

/* File i's content: lines naming the file and the line, len bytes. */
static void
fill_busy_file(char *buf, size_t len, int i)
{
	size_t	off;
	int	n;

	for (off = 0; off < len; off += (size_t)n) {
		n = snprintf(buf + off, len - off, "file %02d line %08zu\n", i,
		    off / 23);
		if ((size_t)n >= len - off)
			break;
	}
}

/*
 * Check a batch reply holding BUSY_FILES base64 reads of size bytes each,
 * in order, without handing hundreds of megabytes to jansson: each data
 * string is compared with the expected encoding and cut out, and what is
 * left (a few kilobytes) is parsed.
 */
static void
check_busy_reply(char *reply, size_t len, size_t size)
{
	static const char	 key[] = "\"data\":\"";
	char			*buf, *exp, *p, *end, *q, *small, *at;
	size_t			 i, elen, left;
	json_t			*r, *res;

	buf = malloc(size);
	exp = malloc(size / 3 * 4 + 8);
	small = malloc(1024 * 1024);
	cr_assert(buf != NULL && exp != NULL && small != NULL);
	p = reply;
	end = reply + len;
	q = small;
	for (i = 0; i < BUSY_FILES; i++) {
		fill_busy_file(buf, size, (int)i);
		elen = b64_encode((unsigned char *)buf, size, exp);
		left = (size_t)(end - p);
		at = memmem(p, left, key, sizeof key - 1);
		cr_assert_not_null(at, "no data for results[%zu]", i);
		at += sizeof key - 1;
		cr_assert_lt((size_t)(at - p), 4096);
		memcpy(q, p, (size_t)(at - p));
		q += at - p;
		cr_assert_geq((size_t)(end - at), elen + 1);
		cr_assert(memcmp(at, exp, elen) == 0 && at[elen] == '"',
		    "results[%zu]: data is not file %zu in base64", i, i);
		p = at + elen;
	}
	cr_assert_lt((size_t)(end - p), 4096);
	memcpy(q, p, (size_t)(end - p));
	q += end - p;
	*q = '\0';
	r = jparse(small, strlen(small));
	jstr_is(r, "id", "busy");
	jbool_is(r, "ok", true);
	cr_assert_eq(json_array_size(jget(r, "results")), BUSY_FILES);
	for (i = 0; i < BUSY_FILES; i++) {
		res = json_array_get(jget(r, "results"), i);
		jbool_is(res, "ok", true);
		jstr_is(res, "value.data", "");
		cr_assert_eq(jint(res, "value.bytes"), (json_int_t)size);
		cr_assert_eq(jint(res, "value.size"), (json_int_t)size);
	}
	json_decref(r);
	free(buf);
	free(exp);
	free(small);
}

Test(read, loop_answers_pings_while_workers_read)
{
	struct reader	 bc, pc;
	json_t		*r;
	char		*buf, name[32], *line, *p;
	size_t		 size = harness_wrapped() ? 256 * 1024 : 4 * 1024 * 1024;
	double		 bound = slack_ms(HARNESS_PROMPT_MS);
	double		 t0, tsent, tfirst = 0, tdone = 0, last_ping = 0;
	double		 dt, max_before = 0, max_after = 0;
	size_t		 npings = 0, nbefore = 0, len;
	ssize_t		 nl = -1;
	int		 i;

	files_init();
	buf = malloc(size);
	cr_assert_not_null(buf);
	for (i = 0; i < BUSY_FILES; i++) {
		fill_busy_file(buf, size, i);
		snprintf(name, sizeof name, "root/busy%02d", i);
		put(name, buf, size);
	}
	free(buf);
	/* The reply (358 MB) is over the default max_connection_bytes. */
	start(MODE_DEFAULT, 2, "root",
	    "[limits]\nmax_connection_bytes = 536870912\n");

	line = strdup("{\"id\":\"busy\",\"jobs\":[");
	for (i = 0; i < BUSY_FILES; i++) {
		p = harness_fmt("%s%s{\"type\":\"read\",\"path\":\"busy%02d\","
		    "\"encoding\":\"base64\"}", line, i > 0 ? "," : "", i);
		free(line);
		line = p;
	}
	p = harness_fmt("%s]}", line);
	free(line);
	line = p;

	cpu_lock(CPU_LOCK_ALONE);
	reader_open(&bc, d.sock);
	reader_open(&pc, d.sock);
	client_send(bc.fd, line);
	tsent = now_ms();
	/*
	 * Ping every 2 ms, each waiting for its reply, until the batch's
	 * whole reply is read; between pings, take what the batch
	 * connection has. Latencies before the reply's first byte are while
	 * workers read; after, while the loop sends the reply.
	 */
	while (nl < 0) {
		if (now_ms() - last_ping >= 2) {
			last_ping = t0 = now_ms();
			client_send(pc.fd, "{\"op\":\"ping\"}");
			r = reader_json(&pc, 10000);
			dt = now_ms() - t0;
			jbool_is(r, "pong", true);
			json_decref(r);
			npings++;
			if (tfirst == 0) {
				nbefore++;
				max_before = dt > max_before ? dt : max_before;
			} else
				max_after = dt > max_after ? dt : max_after;
		}
		cr_assert_lt(now_ms() - tsent, harness_wrapped() ? 120000 : 30000,
		    "no whole batch reply yet (%zu bytes)", bc.len);
		if (reader_fill(&bc, 1) == 0)
			cr_assert_fail("EOF on the batch connection");
		if (bc.len > 0 && tfirst == 0)
			tfirst = now_ms();
		nl = reader_has_line(&bc);
	}
	tdone = now_ms();
	cr_log_info("ping while reading %d x %zu KiB (base64, 2 threads):"
	    " %zu pings before the reply (%.0f ms), max %.2f ms; %zu while"
	    " it was sent (%.0f ms), max %.2f ms", BUSY_FILES, size / 1024,
	    nbefore, tfirst - tsent, max_before, npings - nbefore,
	    tdone - tfirst, max_after);
	/* The pings did overlap the reads, or this proved nothing. */
	cr_assert_geq(nbefore, 20, "only %zu pings before the reply came",
	    nbefore);
	cr_assert_lt(max_before, bound, "a ping took %.1f ms while workers"
	    " read", max_before);
	cr_assert_lt(max_after, bound, "a ping took %.1f ms while the reply"
	    " was sent", max_after);

	len = (size_t)nl;
	bc.buf[len] = '\0';
	check_busy_reply(bc.buf, len, size);
	reader_close(&bc);
	reader_close(&pc);
	free(line);
	daemon_stop(&d);
}

/*
 * 8. status.pool.
 */

Test(read, status_pool_counts_threads_busy_and_queued)
{
	struct reader	 c;
	json_t		*st, *r;
	char		*buf, *line;
	json_int_t	 busy, queued, max_busy = 0, max_queued = 0;
	size_t		 size = 2 * 1024 * 1024, len, cap;
	int		 i, n = harness_wrapped() ? 100 : 1000, samples = 0;
	ssize_t		 nl;

	cpu_lock(CPU_LOCK_SHARED);
	files_init();
	/*
	 * Work that keeps the workers busy with a small reply: each read
	 * takes in 2 MiB and checks it is UTF-8, to find a bad last byte.
	 */
	buf = malloc(size);
	cr_assert_not_null(buf);
	memset(buf, 'z', size);
	buf[size - 1] = (char)0xff;
	put("root/heavy", buf, size);
	free(buf);
	start(MODE_DEFAULT, 3, "root", NULL);

	st = status_of(&d);
	cr_assert_eq(jint(st, "pool.threads"), 3, "%s", jtext(st));
	cr_assert_eq(jint(st, "pool.busy"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "pool.queued"), 0, "%s", jtext(st));
	json_decref(st);

	cap = (size_t)n * 48 + 64;
	line = malloc(cap);
	cr_assert_not_null(line);
	len = (size_t)snprintf(line, cap, "{\"jobs\":[");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(line + len, cap - len,
		    "%s{\"type\":\"read\",\"path\":\"heavy\"}",
		    i > 0 ? "," : "");
	snprintf(line + len, cap - len, "]}");
	reader_open(&c, d.sock);
	client_send(c.fd, line);
	while ((nl = reader_has_line(&c)) < 0) {
		st = status_of(&d);
		busy = jint(st, "pool.busy");
		queued = jint(st, "pool.queued");
		cr_assert_leq(busy, 3, "%s", jtext(st));
		cr_assert_leq(queued, n, "%s", jtext(st));
		cr_assert_eq(jint(st, "pool.threads"), 3, "%s", jtext(st));
		max_busy = busy > max_busy ? busy : max_busy;
		max_queued = queued > max_queued ? queued : max_queued;
		samples++;
		json_decref(st);
		cr_assert_neq(reader_fill(&c, 2), 0, "EOF");
	}
	cr_log_info("pool: %d samples, max busy %lld, max queued %lld",
	    samples, (long long)max_busy, (long long)max_queued);
	cr_assert_gt(max_busy, 0, "never saw a busy worker in %d samples",
	    samples);
	/* Queued counts what waits for a worker, not only what was handed. */
	cr_assert_geq(max_queued, n / 2, "max queued %lld in %d samples",
	    (long long)max_queued, samples);
	r = reader_json(&c, reply_ms());
	cr_assert_eq(jint(r, "stats.failed"), n, "%s", jtext(jget(r, "stats")));
	jstr_is(r, "results[0].error.code", "bad_encoding");
	json_decref(r);
	reader_close(&c);

	/* After the reply nothing is left with the pool. */
	st = status_of(&d);
	cr_assert_eq(jint(st, "pool.busy"), 0, "%s", jtext(st));
	cr_assert_eq(jint(st, "pool.queued"), 0, "%s", jtext(st));
	json_decref(st);
	free(line);
	daemon_stop(&d);
}

Test(read, threads_option_overrides_the_config)
{
	static const char *const args[] = { "-t", "2", NULL };
	json_t	*st;

	files_init();
	start_in(&d, MODE_DEFAULT, 3, "root", NULL, args);
	st = status_of(&d);
	cr_assert_eq(jint(st, "pool.threads"), 2, "%s", jtext(st));
	json_decref(st);

	start_in(&d2, MODE_DEFAULT, 1, "root", NULL, NULL);
	st = status_of(&d2);
	cr_assert_eq(jint(st, "pool.threads"), 1, "%s", jtext(st));
	json_decref(st);
	daemon_stop(&d2);
	daemon_stop(&d);
}

/*
 * 9. A root missing at start-up.
 */

Test(read, missing_root_is_io_error_naming_it)
{
	json_t	*res;

	files_init();
	put_str("root/f.txt", "F");
	start(MODE_DEFAULT, 2, "missing root", NULL);

	res = read_result("f.txt", "");
	expect_failure(res, "io_error", "f.txt", fpath("missing"));
	json_decref(res);
	res = read_result(fpath("missing/f.txt"), "");
	expect_failure(res, "io_error", fpath("missing/f.txt"),
	    fpath("missing"));
	json_decref(res);
	/* The other root still works. */
	expect_read(fpath("root/f.txt"), "", "F", 1);
	daemon_ping(&d, reply_ms());
	daemon_stop(&d);
}
