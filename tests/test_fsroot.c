/*
 * fsroot: opening beneath a root. Every case runs with openat2 (skipped
 * where the kernel lacks it), with the fallback walk and in AUTO mode, and
 * every mode must give the walk's answer: the same file, or the same errno.
 */

#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsroot.h"
#include "harness.h"

#define NOBODY	65534

static char	base[64];	/* the temporary directory */
static char	rootdir[128];	/* base/root, the read root */
static int	rootfd = -1;	/* O_PATH|O_DIRECTORY on rootdir */

/*
 * One case: rel must open the file at opens (relative to the root, whose
 * regular files all hold their own path and a newline), or fail with err.
 */
struct fscase {
	const char	*rel;
	const char	*opens;
	int		 err;
};

static const struct fscase cases[] = {
	/* Plain paths. */
	{ "file.txt", "file.txt", 0 },
	{ "a/b/c.txt", "a/b/c.txt", 0 },
	{ "a/../b.txt", "b.txt", 0 },
	{ "./x", "x", 0 },
	{ "a//b", "a/b", 0 },
	{ "a//b/./c.txt", "a/b/c.txt", 0 },
	{ "a/b/", "a/b", 0 },
	{ "a/b/.", "a/b", 0 },
	{ "a/b/..", "a", 0 },
	{ "a/..", ".", 0 },
	{ "", ".", 0 },
	{ ".", ".", 0 },
	{ "./", ".", 0 },
	/* Leaving the root with "..", or starting outside it. */
	{ "..", NULL, EXDEV },
	{ "../", NULL, EXDEV },
	{ "a/../../outside.txt", NULL, EXDEV },
	{ "a/b/../../..", NULL, EXDEV },
	{ "../root/file.txt", NULL, EXDEV },
	{ "/etc/passwd", NULL, EXDEV },
	/* Symbolic links that stay inside. */
	{ "lnk_file", "file.txt", 0 },
	{ "a/up", "file.txt", 0 },
	{ "chain1", "a/b/c.txt", 0 },
	{ "lnk_dir", "a/b", 0 },
	{ "lnk_dir/", "a/b", 0 },
	{ "lnk_dir/c.txt", "a/b/c.txt", 0 },
	{ "lnk_dir/../up", "file.txt", 0 },	/* ".." is physical */
	{ "lnk_dir/../../x", "x", 0 },
	{ "lnk_dot/file.txt", "file.txt", 0 },
	{ "n00", "file.txt", 0 },		/* 40 links: the limit */
	/* Symbolic links that leave, or would leave, the root. */
	{ "esc", NULL, EXDEV },
	{ "a/esc_deep", NULL, EXDEV },
	{ "chain_out1", NULL, EXDEV },
	{ "abs_in", NULL, EXDEV },
	{ "abs_out", NULL, EXDEV },
	{ "abs_in_dir/file.txt", NULL, EXDEV },
	{ "lnk_up/root/file.txt", NULL, EXDEV },
	{ "lnk_dot/../x", NULL, EXDEV },
	/* Loops. */
	{ "loop1", NULL, ELOOP },
	{ "self", NULL, ELOOP },
	{ "self/x", NULL, ELOOP },
	{ "m00", NULL, ELOOP },			/* 41 links */
	/* Missing, or not a directory. */
	{ "missing", NULL, ENOENT },
	{ "missing/..", NULL, ENOENT },
	{ "a/missing/x", NULL, ENOENT },
	{ "dangling", NULL, ENOENT },
	{ "file.txt/x", NULL, ENOTDIR },
	{ "file.txt/", NULL, ENOTDIR },
	{ "file.txt/.", NULL, ENOTDIR },
	{ "file.txt/..", NULL, ENOTDIR },
	{ "lnk_file/", NULL, ENOTDIR },
	{ "lnk_file/x", NULL, ENOTDIR },
	/* What is not a regular file opens as the kernel says. */
	{ "fifo", "fifo", 0 },
	{ "lnk_fifo", "fifo", 0 },
	{ "sock", NULL, ENXIO },
};
#define NCASES	(sizeof cases / sizeof cases[0])

/* Cases run with the file system user and group nobody (no root powers). */
static const struct fscase perm_cases[] = {
	{ "file.txt", "file.txt", 0 },
	{ "secret", NULL, EACCES },
	{ "noexec", "noexec", 0 },
	{ "noexec/", "noexec", 0 },
	{ "noexec/f", NULL, EACCES },
	{ "noexec/.", NULL, EACCES },
	{ "noexec/..", NULL, EACCES },
	{ "lnk_noexec", NULL, EACCES },
	{ "noread/f", "noread/f", 0 },
	{ "noread", NULL, EACCES },
	{ "noread/.", NULL, EACCES },
	{ "noread/..", ".", 0 },
};
#define NPERM_CASES	(sizeof perm_cases / sizeof perm_cases[0])

static const enum fsroot_mode modes[] = {
	FSROOT_OPENAT2, FSROOT_WALK, FSROOT_AUTO
};
#define NMODES	(sizeof modes / sizeof modes[0])

/* Indexes, not pointers: parameters are copied into the test's process. */
struct fsparam {
	int	mode;
	int	idx;
};

/* What one open gave. */
struct outcome {
	int	err;	/* 0 on success */
	dev_t	dev;
	ino_t	ino;
};

static const char *
mode_name(enum fsroot_mode mode)
{
	switch (mode) {
	case FSROOT_OPENAT2:
		return "openat2";
	case FSROOT_WALK:
		return "walk";
	case FSROOT_AUTO:
		return "auto";
	}
	return "?";
}

static void
put(const char *path, const char *content, mode_t mode)
{
	int	fd;

	fd = openat(rootfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	cr_assert_geq(fd, 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* A regular file holding its own path. */
static void
put_own(const char *path)
{
	char	buf[PATH_MAX];

	snprintf(buf, sizeof buf, "%s\n", path);
	put(path, buf, 0644);
}

static void
dir(const char *path)
{
	cr_assert_eq(mkdirat(rootfd, path, 0755), 0, "mkdir %s: %s", path,
	    strerror(errno));
}

static void
lnk(const char *target, const char *path)
{
	cr_assert_eq(symlinkat(target, rootfd, path), 0, "symlink %s: %s",
	    path, strerror(errno));
}

static void
chain(const char *prefix, int links)
{
	char	name[16], target[16];
	int	i;

	for (i = 0; i < links; i++) {
		snprintf(name, sizeof name, "%s%02d", prefix, i);
		if (i == links - 1)
			snprintf(target, sizeof target, "file.txt");
		else
			snprintf(target, sizeof target, "%s%02d", prefix, i + 1);
		lnk(target, name);
	}
}

static void
setup(void)
{
	struct sockaddr_un	sun;
	char			path[PATH_MAX];
	int			fd;

	snprintf(base, sizeof base, "/tmp/test_fsroot.XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(rootdir, sizeof rootdir, "%s/root", base);
	cr_assert_eq(mkdir(rootdir, 0755), 0);
	rootfd = open(rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(rootfd, 0);

	/* Outside the root. */
	snprintf(path, sizeof path, "%s/outside.txt", base);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "OUTSIDE\n", 8), 8);
	close(fd);
	snprintf(path, sizeof path, "%s/outdir", base);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/outdir/data", base);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "OUTSIDE\n", 8), 8);
	close(fd);

	/* Plain files and directories. */
	put_own("file.txt");
	put_own("b.txt");
	put_own("x");
	dir("a");
	dir("a/b");
	put_own("a/b/c.txt");

	/* Symbolic links that stay inside. */
	lnk("../file.txt", "a/up");
	lnk("chain2", "chain1");
	lnk("a/chain3", "chain2");
	lnk("../a/b/c.txt", "a/chain3");
	lnk("file.txt", "lnk_file");
	lnk("a/b", "lnk_dir");
	lnk(".", "lnk_dot");
	chain("n", 40);
	chain("m", 41);

	/* Symbolic links that leave. */
	lnk("../outside.txt", "esc");
	lnk("../../outside.txt", "a/esc_deep");
	lnk("a/chain_out2", "chain_out1");
	lnk("../esc", "a/chain_out2");
	snprintf(path, sizeof path, "%s/file.txt", rootdir);
	lnk(path, "abs_in");
	lnk(rootdir, "abs_in_dir");
	snprintf(path, sizeof path, "%s/outside.txt", base);
	lnk(path, "abs_out");
	lnk("..", "lnk_up");

	/* Loops and dead ends. */
	lnk("loop2", "loop1");
	lnk("loop1", "loop2");
	lnk("self", "self");
	lnk("nowhere", "dangling");

	/* Special files. */
	cr_assert_eq(mkfifoat(rootfd, "fifo", 0644), 0);
	lnk("fifo", "lnk_fifo");
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	cr_assert_lt(snprintf(sun.sun_path, sizeof sun.sun_path, "%s/sock",
	    rootdir), (int)sizeof sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);

	/* Permissions, for the nobody cases. */
	put("secret", "secret\n", 0600);
	dir("noexec");
	put_own("noexec/f");
	cr_assert_eq(fchmodat(rootfd, "noexec", 0644, 0), 0);
	lnk("noexec/f", "lnk_noexec");
	dir("noread");
	put_own("noread/f");
	cr_assert_eq(fchmodat(rootfd, "noread", 0311, 0), 0);

	/* The race: victim and vdir swap with links out of the root. */
	put("victim", "INSIDE\n", 0644);
	lnk("../outside.txt", "alt_rel");
	snprintf(path, sizeof path, "%s/outside.txt", base);
	lnk(path, "alt_abs");
	dir("vdir");
	put("vdir/data", "INSIDE\n", 0644);
	lnk("../outdir", "alt_dir_rel");
	snprintf(path, sizeof path, "%s/outdir", base);
	lnk(path, "alt_dir_abs");
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
teardown(void)
{
	setfsuid(0);
	setfsgid(0);
	if (rootfd != -1)
		close(rootfd);
	rootfd = -1;
	if (base[0] != '\0')
		nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	base[0] = '\0';
}

/* Skip the test: Criterion does not run .fini then, so clean up first. */
static void __attribute__((noreturn))
skip(const char *why)
{
	teardown();
	cr_skip_test("%s", why);
	abort();
}

static void
skip_without_openat2(enum fsroot_mode mode)
{
	if (mode == FSROOT_OPENAT2 && !fsroot_have_openat2())
		skip("openat2 is not available here");
}

/*
 * Open rel in mode and check it against c: the right file (its content
 * too, for a regular file) or the right errno. Returns what it got.
 */
static struct outcome
check(enum fsroot_mode mode, const struct fscase *c)
{
	struct outcome	 o;
	struct stat	 got, want;
	char		 buf[PATH_MAX], expect[PATH_MAX];
	ssize_t		 n;
	int		 fd;

	memset(&o, 0, sizeof o);
	errno = 0;
	fd = fsroot_openat(rootfd, c->rel, mode);
	if (fd == -1) {
		o.err = errno;
		cr_assert(c->opens == NULL, "%s \"%s\": %s, expected to open %s",
		    mode_name(mode), c->rel, strerror(o.err), c->opens);
		cr_assert_eq(o.err, c->err, "%s \"%s\": %s, expected %s",
		    mode_name(mode), c->rel, strerror(o.err), strerror(c->err));
		return o;
	}
	cr_assert_not_null(c->opens, "%s \"%s\": opened, expected %s",
	    mode_name(mode), c->rel, strerror(c->err));

	cr_assert_eq(fstat(fd, &got), 0);
	cr_assert_eq(fstatat(rootfd, c->opens, &want, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert(got.st_dev == want.st_dev && got.st_ino == want.st_ino,
	    "%s \"%s\": opened the wrong file, expected %s", mode_name(mode),
	    c->rel, c->opens);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	cr_assert_eq(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK),
	    O_RDONLY | O_NONBLOCK);
	if (S_ISREG(got.st_mode)) {
		n = read(fd, buf, sizeof buf - 1);
		cr_assert_geq(n, 0);
		buf[n] = '\0';
		snprintf(expect, sizeof expect, "%s\n", c->opens);
		cr_assert_str_eq(buf, expect, "%s \"%s\"", mode_name(mode),
		    c->rel);
	}
	close(fd);
	o.dev = got.st_dev;
	o.ino = got.st_ino;
	return o;
}

/* Run c in mode, and in walk mode too: both must agree. */
static void
check_both(enum fsroot_mode mode, const struct fscase *c)
{
	struct outcome	o, w;

	skip_without_openat2(mode);
	o = check(mode, c);
	w = check(FSROOT_WALK, c);
	cr_assert(o.err == w.err && o.dev == w.dev && o.ino == w.ino,
	    "\"%s\": %s and walk disagree", c->rel, mode_name(mode));
}

/* Fill p with every mode for each of ncases cases; returns the count. */
static size_t
make_params(struct fsparam *p, size_t ncases)
{
	size_t	i, m, n = 0;

	for (m = 0; m < NMODES; m++) {
		for (i = 0; i < ncases; i++) {
			p[n].mode = (int)modes[m];
			p[n].idx = (int)i;
			n++;
		}
	}
	return n;
}

ParameterizedTestParameters(fsroot, resolves_like_openat2)
{
	static struct fsparam	p[NMODES * NCASES];

	return cr_make_param_array(struct fsparam, p, make_params(p, NCASES));
}

ParameterizedTest(struct fsparam *p, fsroot, resolves_like_openat2,
    .init = setup, .fini = teardown, .timeout = 10)
{
	check_both((enum fsroot_mode)p->mode, &cases[p->idx]);
}

ParameterizedTestParameters(fsroot, permissions_like_openat2)
{
	static struct fsparam	p[NMODES * NPERM_CASES];

	return cr_make_param_array(struct fsparam, p,
	    make_params(p, NPERM_CASES));
}

ParameterizedTest(struct fsparam *p, fsroot, permissions_like_openat2,
    .init = setup, .fini = teardown, .timeout = 10)
{
	int	fd;

	/* Only this thread drops to nobody; it gets root back in teardown. */
	setfsgid(NOBODY);
	setfsuid(NOBODY);
	if ((uid_t)setfsuid((uid_t)-1) != NOBODY)
		skip("cannot change the file system user");
	fd = openat(rootfd, "secret", O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		close(fd);
		skip("nobody can still read a 0600 file of root's");
	}
	check_both((enum fsroot_mode)p->mode, &perm_cases[p->idx]);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(fsroot, fifo_opens_without_blocking, .init = setup, .fini = teardown,
    .timeout = 10)
{
	static const char	*rels[] = { "fifo", "lnk_fifo" };
	struct stat		 st;
	double			 t;
	size_t			 m, i;
	int			 fd;

	for (m = 0; m < NMODES; m++) {
		if (modes[m] == FSROOT_OPENAT2 && !fsroot_have_openat2())
			continue;
		for (i = 0; i < 2; i++) {
			t = now();
			fd = fsroot_openat(rootfd, rels[i], modes[m]);
			cr_assert_geq(fd, 0, "%s %s: %s", mode_name(modes[m]),
			    rels[i], strerror(errno));
			cr_assert_lt(now() - t, 1.0);
			cr_assert_eq(fstat(fd, &st), 0);
			cr_assert(S_ISFIFO(st.st_mode));
			close(fd);
		}
	}
}

Test(fsroot, long_paths, .init = setup, .fini = teardown, .timeout = 10)
{
	struct fscase	 c;
	char		*longname, *maxpath, *toolong, *body, *rel;
	size_t		 m;

	longname = harness_repeat("n", NAME_MAX + 1, "");
	/* PATH_MAX - 1 bytes, then PATH_MAX. */
	maxpath = harness_repeat("./", (PATH_MAX - 2) / 2, "x");
	toolong = harness_repeat("./", PATH_MAX / 2 - 1, "xx");
	cr_assert_eq(strlen(maxpath), PATH_MAX - 1);
	cr_assert_eq(strlen(toolong), PATH_MAX);

	/* Each piece fits in PATH_MAX, the link body and the rest together do not. */
	body = harness_repeat("./", 2000, "a/b");
	lnk(body, "biglink");
	rel = harness_repeat("./", 1500, "c.txt");
	memcpy(rel, "biglink/", 8);

	for (m = 0; m < NMODES; m++) {
		if (modes[m] == FSROOT_OPENAT2 && !fsroot_have_openat2())
			continue;
		c = (struct fscase){ longname, NULL, ENAMETOOLONG };
		check_both(modes[m], &c);
		c = (struct fscase){ toolong, NULL, ENAMETOOLONG };
		check_both(modes[m], &c);
		c = (struct fscase){ maxpath, "x", 0 };
		check_both(modes[m], &c);
		c = (struct fscase){ rel, "a/b/c.txt", 0 };
		check_both(modes[m], &c);
	}
	free(longname);
	free(maxpath);
	free(toolong);
	free(body);
	free(rel);
}

static int
count_fds(void)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

Test(fsroot, no_fd_leaks, .init = setup, .fini = teardown, .timeout = 60)
{
	size_t	round, m, i;
	int	before, fd, calls = 0;

	before = count_fds();
	for (round = 0; round < 40; round++) {
		for (m = 0; m < NMODES; m++) {
			if (modes[m] == FSROOT_OPENAT2 && !fsroot_have_openat2())
				continue;
			for (i = 0; i < NCASES; i++) {
				fd = fsroot_openat(rootfd, cases[i].rel, modes[m]);
				cr_assert_eq(fd != -1, cases[i].opens != NULL);
				if (fd != -1)
					close(fd);
				calls++;
			}
		}
	}
	cr_assert_geq(calls, 2000);
	cr_assert_eq(count_fds(), before, "%d fds before, %d after %d calls",
	    before, count_fds(), calls);
}

/*
 * The race: a thread keeps exchanging name with links that leave the root
 * while the test opens rel; an open may fail but must never read outside.
 */
struct swapper {
	const char	*name;
	const char	*alts[2];
	atomic_int	 stop;
	unsigned long	 swaps;
	int		 err;
};

struct raceparam {
	int	mode;
	int	dir;	/* swap a directory on the way, not the file */
};

static void *
swap_loop(void *arg)
{
	struct swapper	*s = arg;
	int		 i, j;

	while (!atomic_load(&s->stop)) {
		for (i = 0; i < 2; i++) {
			for (j = 0; j < 2; j++) {
				if (renameat2(rootfd, s->name, rootfd,
				    s->alts[i], RENAME_EXCHANGE) == -1) {
					s->err = errno;
					return NULL;
				}
				/*
				 * Let the opener run, even under valgrind:
				 * every 7th swap, so in every state in turn.
				 */
				if (++s->swaps % 7 == 0)
					sched_yield();
			}
		}
	}
	return NULL;
}

ParameterizedTestParameters(fsroot, race_never_reads_outside)
{
	static struct raceparam	p[] = {
		{ FSROOT_OPENAT2, 0 }, { FSROOT_OPENAT2, 1 },
		{ FSROOT_WALK, 0 }, { FSROOT_WALK, 1 },
	};

	return cr_make_param_array(struct raceparam, p, sizeof p / sizeof p[0]);
}

ParameterizedTest(struct raceparam *p, fsroot, race_never_reads_outside,
    .init = setup, .fini = teardown, .timeout = 30)
{
	enum fsroot_mode	 mode = (enum fsroot_mode)p->mode;
	struct swapper		 s;
	pthread_t		 thread;
	const char		*rel, *bad = NULL;
	char			 buf[64];
	unsigned long		 i, opened = 0, refused = 0;
	double			 t, end, last;
	ssize_t			 n;
	int			 fd;

	skip_without_openat2(mode);
	memset(&s, 0, sizeof s);
	if (p->dir) {
		s.name = "vdir";
		s.alts[0] = "alt_dir_rel";
		s.alts[1] = "alt_dir_abs";
		rel = "vdir/data";
	} else {
		s.name = "victim";
		s.alts[0] = "alt_rel";
		s.alts[1] = "alt_abs";
		rel = "victim";
	}
	cr_assert_eq(pthread_create(&thread, NULL, swap_loop, &s), 0);

	/* Half a second, and longer (up to 10 s) until both outcomes came. */
	end = now() + 0.5;
	last = end + 9.5;
	for (i = 0; bad == NULL; i++) {
		t = now();
		if (t >= last || (t >= end && opened > 0 && refused > 0))
			break;
		if (i % 64 == 63)
			sched_yield();
		if ((fd = fsroot_openat(rootfd, rel, mode)) == -1) {
			if (errno != EXDEV && errno != ENOENT && errno != ELOOP)
				bad = strerror(errno);
			refused++;
			continue;
		}
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[n < 0 ? 0 : n] = '\0';
		if (strcmp(buf, "INSIDE\n") != 0)
			bad = "read something else than the file inside";
		opened++;
	}
	atomic_store(&s.stop, 1);
	pthread_join(thread, NULL);

	cr_assert_null(bad, "%s: after %lu opens and %lu refusals: %s",
	    mode_name(mode), opened, refused, bad);
	cr_assert_eq(s.err, 0, "rename: %s", strerror(s.err));
	cr_assert_gt(s.swaps, 0);
	cr_assert_gt(opened, 0, "never opened the file inside");
	cr_assert_gt(refused, 0, "never saw the link: no race happened");
}

/*
 * Make openat2 fail with err in this thread from now on, as a seccomp
 * filter on an old container runtime would.
 */
static void
deny_openat2(int err)
{
	struct sock_filter	f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog	prog = {
		.len = sizeof f / sizeof f[0],
		.filter = f,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		skip("cannot install a seccomp filter");
}

Test(fsroot, auto_falls_back_on_enosys_and_remembers, .init = setup,
    .fini = teardown, .timeout = 10)
{
	int	fd;

	if (!fsroot_have_openat2())
		skip("openat2 is not available here");
	deny_openat2(ENOSYS);

	fd = fsroot_openat(rootfd, "lnk_dir/c.txt", FSROOT_AUTO);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	close(fd);
	cr_assert_eq(fsroot_have_openat2(), 0);
	cr_assert_eq(fsroot_openat(rootfd, "file.txt", FSROOT_OPENAT2), -1);
	cr_assert_eq(errno, ENOSYS);
	cr_assert_eq(fsroot_openat(rootfd, "esc", FSROOT_AUTO), -1);
	cr_assert_eq(errno, EXDEV);
}

/* Without GATHERD_NO_OPENAT2, AUTO does use openat2 (and its errors). */
Test(fsroot, auto_uses_openat2, .init = setup, .fini = teardown,
    .timeout = 10)
{
	unsetenv("GATHERD_NO_OPENAT2");
	if (!fsroot_have_openat2())
		skip("openat2 is not available here");
	deny_openat2(EPERM);
	cr_assert_eq(fsroot_openat(rootfd, "file.txt", FSROOT_AUTO), -1);
	cr_assert_eq(errno, EPERM);
}

Test(fsroot, env_forces_the_walk_in_auto_mode, .init = setup,
    .fini = teardown, .timeout = 10)
{
	int	fd;

	cr_assert_eq(setenv("GATHERD_NO_OPENAT2", "1", 1), 0);
	if (!fsroot_have_openat2())
		skip("openat2 is not available here");
	deny_openat2(EPERM);
	fd = fsroot_openat(rootfd, "lnk_dir/c.txt", FSROOT_AUTO);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	close(fd);
	cr_assert_eq(fsroot_openat(rootfd, "esc", FSROOT_AUTO), -1);
	cr_assert_eq(errno, EXDEV);
	cr_assert_eq(fsroot_openat(rootfd, "file.txt", FSROOT_OPENAT2), -1);
	cr_assert_eq(errno, EPERM);
}
