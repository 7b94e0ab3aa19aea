/*
 * The read suites' files and daemons: each test builds its files in its
 * own directory, fdir (removed by harness_suite_fini), with root/ (the
 * first read root), outside/ (never a root) and outside/secret.txt, whose
 * content no read may return; it starts daemons reading beneath roots
 * there, in one of two modes of path resolution, and runs read jobs
 * through the daemon it started last. Every helper asserts (Criterion)
 * instead of returning errors.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "harness.h"
#include "jsonpath.h"
#include "readtest.h"

char			 fdir[256];
struct daemon		 d, d2;
static struct daemon	*read_daemon;	/* the one start_in started last */

/* Replies may be slow under valgrind. */
int
reply_ms(void)
{
	return harness_wrapped() ? 60000 : 20000;
}

/*
 * Poll status until no job is in flight or waiting, no batch is in
 * flight and the pool has nothing queued; assert it takes < within_ms.
 */
double
expect_settles(struct daemon *dm, double within_ms, const char *what)
{
	/*
	 * The status connection alone: the test's client, closed after its
	 * request, is gone, so its request was read (the status request may
	 * overtake it).
	 */
	struct settled	want = { .conns = 1, .pool = SETTLED_QUEUED };
	double		t0 = now_ms();

	json_decref(await_settled(dm, -1, &want, t0, within_ms, what));
	return now_ms() - t0;
}

/*
 * Files. Paths are relative to fdir unless absolute; fpath() gives the
 * absolute path in one of a few static buffers.
 */

const char *
fpath(const char *rel)
{
	static char	 buf[8][PATH_MAX];
	static unsigned	 next;
	char		*b = buf[next++ % 8];

	if (rel[0] == '/')
		snprintf(b, PATH_MAX, "%s", rel);
	else
		snprintf(b, PATH_MAX, "%s/%s", fdir, rel);
	return b;
}

/*
 * Make this test's directory, with root/ (the first read root), outside/
 * (never a root) and outside/secret.txt, whose content no read may
 * return. fdir is a real path: roots are matched against request paths
 * as text.
 */
void
files_init(void)
{
	FILE	*fp;

	harness_tmpdir(fdir, sizeof fdir, "gatherd-read");
	cr_assert_eq(mkdir(fpath("root"), 0755), 0);
	cr_assert_eq(mkdir(fpath("outside"), 0755), 0);
	cr_assert_not_null(fp = fopen(fpath("outside/secret.txt"), "w"));
	fputs("SECRET", fp);
	fclose(fp);
}

void
put(const char *rel, const void *data, size_t len)
{
	int	fd;

	fd = open(fpath(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_neq(fd, -1, "open %s: %s", fpath(rel), strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s",
	    fpath(rel));
	close(fd);
}

void
put_str(const char *rel, const char *s)
{
	put(rel, s, strlen(s));
}

void
mk_dir(const char *rel)
{
	cr_assert_eq(mkdir(fpath(rel), 0755), 0, "mkdir %s: %s", fpath(rel),
	    strerror(errno));
}

/* A symbolic link at rel whose body is target, verbatim. */
void
mk_link(const char *target, const char *rel)
{
	cr_assert_eq(symlink(target, fpath(rel)), 0, "symlink %s: %s",
	    fpath(rel), strerror(errno));
}

/* A Unix socket file at rel (bound, then closed: the file stays). */
void
mk_socket(const char *rel)
{
	struct sockaddr_un	sun;
	const char		*p = fpath(rel);
	int			fd;

	sun_set(&sun, p);
	cr_assert_neq(fd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0,
	    "bind %s: %s", p, strerror(errno));
	close(fd);
}

/*
 * Daemons.
 */

/* Whether the kernel lets this process use openat2(RESOLVE_BENEATH). */
bool
kernel_has_openat2(void)
{
	struct open_how	how;
	long		fd;

	memset(&how, 0, sizeof how);
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH;
	fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
	if (fd < 0)
		return false;
	close((int)fd);
	return true;
}

/* Whether NAME=VALUE is in the environment the process pid started with. */
static bool
proc_has_env(pid_t pid, const char *entry)
{
	char	 path[64], *buf = NULL, *p;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	bool	 found = false;
	int	 fd;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = realloc(buf, cap + 1);
			cr_assert_not_null(buf);
		}
		if ((n = read(fd, buf + len, cap - len)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	for (p = buf; p < buf + len; p += strlen(p) + 1) {
		if (strcmp(p, entry) == 0)
			found = true;
	}
	free(buf);
	return found;
}

/*
 * Start d with threads workers, read roots (space-separated; a word without
 * a leading slash is relative to fdir), extra config text, in a mode.
 */
void
start_in(struct daemon *dm, enum mode mode, unsigned threads,
    const char *roots, const char *extra, const char *const *args)
{
	char	*conf, *list = NULL, *copy, *word, *last, *tmp;

	copy = strdup(roots);
	cr_assert_not_null(copy);
	for (word = strtok_r(copy, " ", &last); word != NULL;
	    word = strtok_r(NULL, " ", &last)) {
		tmp = harness_fmt("%s%s%s", list != NULL ? list : "",
		    list != NULL ? " " : "", fpath(word));
		free(list);
		list = tmp;
	}
	free(copy);
	conf = harness_fmt("threads = %u\n[read]\nroots = %s\n%s", threads, list,
	    extra != NULL ? extra : "");
	if (mode == MODE_WALK)
		setenv("GATHERD_NO_OPENAT2", "1", 1);
	else
		unsetenv("GATHERD_NO_OPENAT2");
	daemon_start(dm, conf, args);
	read_daemon = dm;
	if (mode == MODE_WALK)
		cr_assert(proc_has_env(dm->pid, "GATHERD_NO_OPENAT2=1"),
		    "the daemon did not get GATHERD_NO_OPENAT2=1");
	else
		cr_assert_not(proc_has_env(dm->pid, "GATHERD_NO_OPENAT2=1"));
	free(conf);
	free(list);
}

/* Start d (see start_in). */
void
start(enum mode mode, unsigned threads, const char *roots, const char *extra)
{
	start_in(&d, mode, threads, roots, extra, NULL);
}

/*
 * Reads.
 */

/* A read job object for path with extra fields (JSON text, may be ""). */
char *
read_job(const char *path, const char *fields)
{
	return harness_fmt("{\"type\":\"read\",\"path\":\"%s\"%s%s}", path,
	    *fields != '\0' ? "," : "", fields);
}

/* Run a one-job batch; return its one result. Caller decrefs. */
json_t *
read_result(const char *path, const char *fields)
{
	char	*job, *line;
	json_t	*r, *res;

	job = read_job(path, fields);
	line = harness_fmt("{\"id\":1,\"jobs\":[%s]}", job);
	r = daemon_request_ms(read_daemon, line, reply_ms());
	cr_assert(json_is_array(jget(r, "results")), "sent %s, got %s", line,
	    jtext(r));
	cr_assert_eq(json_array_size(jget(r, "results")), 1, "%s", jtext(r));
	res = json_incref(jget(r, "results[0]"));
	json_decref(r);
	free(job);
	free(line);
	return res;
}

/* Assert a result is ok with exactly data (len bytes) and this size. */
void
expect_data(json_t *res, const char *data, size_t len, json_int_t size)
{
	static const char *const result_keys[] = { "ok", "ms", "value", NULL };
	static const char *const value_keys[] = {
		"data", "bytes", "size", NULL
	};
	json_t	*v;

	jbool_is(res, "ok", true);
	jkeys_are(res, result_keys);
	v = jget(res, "value");
	jkeys_are(v, value_keys);
	cr_assert(json_is_string(jget(v, "data")), "%s", jtext(res));
	cr_assert_eq(json_string_length(jget(v, "data")), len,
	    "data length in %s", jtext(res));
	cr_assert(memcmp(json_string_value(jget(v, "data")), data, len) == 0,
	    "data in %s, want \"%.*s\"", jtext(res), (int)len, data);
	cr_assert_eq(jint(v, "bytes"), (json_int_t)len, "%s", jtext(res));
	cr_assert_eq(jint(v, "size"), size, "%s", jtext(res));
}

/* Read path (with fields) and expect data and size. */
void
expect_read(const char *path, const char *fields, const char *data,
    json_int_t size)
{
	json_t	*res = read_result(path, fields);

	expect_data(res, data, strlen(data), size);
	json_decref(res);
}

/*
 * Assert a result failed with code and a message naming the path and
 * holding also (when not NULL).
 */
void
expect_failure(json_t *res, const char *code, const char *path,
    const char *also)
{
	const char	*msg;

	jbool_is(res, "ok", false);
	jstr_is(res, "error.code", code);
	msg = jstr(res, "error.message");
	cr_assert_not_null(strstr(msg, path), "message does not name %s: %s",
	    path, jtext(res));
	if (also != NULL)
		cr_assert_not_null(strstr(msg, also), "message does not say"
		    " \"%s\": %s", also, jtext(res));
}

/* Read path (with fields) and expect it to fail with code. */
void
expect_read_error(const char *path, const char *fields, const char *code,
    const char *also)
{
	json_t	*res = read_result(path, fields);

	expect_failure(res, code, path, also);
	json_decref(res);
}

/* Assert a whole read of each path (up to a NULL) fails with code. */
void
expect_reads_fail(const char *code, ...)
{
	const char	*path;
	va_list		 ap;

	va_start(ap, code);
	while ((path = va_arg(ap, const char *)) != NULL)
		expect_read_error(path, "", code, NULL);
	va_end(ap);
}

/*
 * Base64 of our own (RFC 4648, padded), so the daemon's encoder is not
 * checked against itself.
 */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode len bytes into out (room for 4 * ((len + 2) / 3) + 1). */
size_t
b64_encode(const unsigned char *in, size_t len, char *out)
{
	size_t		i, o = 0;
	uint32_t	v;

	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < len) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* Read path as base64 (with more fields) and expect data, len bytes. */
void
expect_read_b64(const char *path, const char *fields, const void *data,
    size_t len, json_int_t size)
{
	char	*all;
	json_t	*res;

	all = harness_fmt("\"encoding\":\"base64\"%s%s", *fields != '\0' ? "," : "",
	    fields);
	res = read_result(path, all);
	jbool_is(res, "ok", true);
	jb64_is(res, "value.data", data, len);
	cr_assert_eq(jint(res, "value.bytes"), (json_int_t)len, "%s",
	    jtext(res));
	cr_assert_eq(jint(res, "value.size"), size, "%s", jtext(res));
	free(all);
	json_decref(res);
}
