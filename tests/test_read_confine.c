/*
 * Confinement: no path, link, "..", absolute path or race reads outside
 * the roots, in both modes of path resolution; a symbolic link swapped in
 * and out while reads run never lets one through.
 *
 * End-to-end: real gatherd processes reading real files, directories,
 * symbolic links, FIFOs and sockets that each test builds in its own
 * directory (readtest.h); the read suites share the suite name read.
 * Timing bounds are wide and say what they tell apart; under
 * GATHERD_TEST_WRAPPER (valgrind) loops run fewer rounds and time-outs
 * are longer: there the point is memory errors and leaks, not speed.
 */

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "readtest.h"

HARNESS_SUITE(read, 180);

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
	expect_reads_fail("forbidden", "..", "../outside/secret.txt",
	    "a/../../outside/secret.txt", NULL);
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
	expect_reads_fail("forbidden", "out", "outchain1", "sub/out3",
	    "outdir/secret.txt", "reenter", NULL);
	expect_read_error(fpath("root/out"), "", "forbidden", NULL);
	/* Another root is outside this one. */
	expect_read_error("tosecond", "", "forbidden", NULL);
	expect_read_error(fpath("second/tofirst"), "", "forbidden", NULL);
	/* Absolute links, even to inside. */
	expect_reads_fail("forbidden", "abs-in", "abs-out", "abs-dir/g.txt",
	    "slash", "slash/etc/passwd", NULL);
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
	/*
	 * At least a second and three batches; then on until both sides of
	 * the race have come up (a loaded machine may give the swapper few
	 * turns in the first second), for at most 30 s. Under valgrind the
	 * first second is enough (see below).
	 */
	t0 = now_ms();
	for (batch = 0; now_ms() - t0 < 1000 || batch < 3 ||
	    (harness_slack() == 1.0 && (nok == 0 || nforbidden == 0) &&
	    now_ms() - t0 < 30000); batch++) {
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
