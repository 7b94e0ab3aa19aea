/*
 * A real gatherd for integration tests: forked on a private socket, polled
 * until it accepts, stopped with SIGTERM. Set GATHERD_TEST_WRAPPER (e.g.
 * "valgrind --leak-check=full --error-exitcode=1") to run it under a tool.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "xmalloc.h"

const char	harness_gatherd_bin[] = GATHERD_BIN;
const char	harness_gatherctl_bin[] = GATHERCTL_BIN;

/* A formatted string; see harness.h. */
char *
harness_fmt(const char *f, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	cr_assert_geq(n, 0, "vasprintf");
	return s;
}

/* Append a formatted string to *s; see harness.h. */
void
harness_append(char **s, const char *f, ...)
{
	va_list	 ap;
	char	*old = *s, *more;
	int	 n;

	va_start(ap, f);
	n = vasprintf(&more, f, ap);
	va_end(ap);
	cr_assert_geq(n, 0, "vasprintf");
	*s = harness_fmt("%s%s", old, more);
	free(old);
	free(more);
}

/*
 * A batch line of nested groups and sequences; see harness.h. Level 0
 * holds innermost, so the outermost level is depth - 1.
 */
char *
harness_nested_line(int depth, const char *innermost, const char *first)
{
	const char	*other = strcmp(first, "group") == 0 ? "sequence" :
			    "group";
	char		*s = harness_fmt("{\"jobs\":[");
	int		 i;

	for (i = depth - 1; i >= 0; i--)
		harness_append(&s, "{\"type\":\"%s\",\"jobs\":[",
		    i % 2 ? other : first);
	harness_append(&s, "%s", innermost);
	for (i = 0; i <= depth; i++)
		harness_append(&s, "]}");
	return s;
}

/* n bytes c, as a string. */
char *
harness_fill(int c, size_t n)
{
	char	*s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* See harness.h. */
char *
harness_repeat(const char *s, size_t times, const char *tail)
{
	char	*buf;
	size_t	 len = strlen(s), i;

	buf = malloc(len * times + strlen(tail) + 1);
	cr_assert_not_null(buf);
	for (i = 0; i < times; i++)
		memcpy(buf + i * len, s, len);
	strcpy(buf + len * times, tail);
	return buf;
}

/*
 * What harness_suite_fini cleans up after a test that failed midway: the
 * daemons daemon_start started, the directories harness_tmpdir made, and
 * what was given to harness_at_fini. Criterion runs each test in its own
 * process, so these are one test's.
 */
#define HARNESS_MAX_WATCHED	16
static struct daemon	*watched[HARNESS_MAX_WATCHED];
static char		*tmpdirs[HARNESS_MAX_WATCHED];
static void		(*at_fini[HARNESS_MAX_WATCHED])(void);

/* Add p to list (of HARNESS_MAX_WATCHED), unless it is there already. */
static void
harness_list_add(void **list, void *p)
{
	int	i;

	for (i = 0; i < HARNESS_MAX_WATCHED && list[i] != NULL; i++) {
		if (list[i] == p)
			return;
	}
	cr_assert_lt(i, HARNESS_MAX_WATCHED, "too much for the harness to"
	    " clean up");
	list[i] = p;
}

/* Have harness_suite_fini stop d if it still runs. */
static void
harness_watch(struct daemon *d)
{
	harness_list_add((void **)watched, d);
}

/* Call fn at the suite's fini. */
void
harness_at_fini(void (*fn)(void))
{
	int	i;

	for (i = 0; i < HARNESS_MAX_WATCHED && at_fini[i] != NULL; i++) {
		if (at_fini[i] == fn)
			return;
	}
	cr_assert_lt(i, HARNESS_MAX_WATCHED, "too many fini functions");
	at_fini[i] = fn;
}

/* A private directory, removed at the suite's fini; see harness.h. */
char *
harness_tmpdir(char *dir, size_t size, const char *prefix)
{
	char	*tmpl, real[PATH_MAX];

	tmpl = harness_fmt("/tmp/%s.XXXXXX", prefix);
	cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
	cr_assert_not_null(realpath(tmpl, real), "realpath %s: %s", tmpl,
	    strerror(errno));
	cr_assert_lt(strlen(real), size, "%s: too long", real);
	snprintf(dir, size, "%s", real);
	free(tmpl);
	harness_list_add((void **)tmpdirs, dir);
	return dir;
}

/* Ignore SIGPIPE. */
void
harness_suite_init(void)
{
	signal(SIGPIPE, SIG_IGN);
}

/* The safety net: fini functions, directories, then daemons. */
void
harness_suite_fini(void)
{
	int	i;

	for (i = HARNESS_MAX_WATCHED - 1; i >= 0; i--) {
		if (at_fini[i] != NULL)
			at_fini[i]();
	}
	for (i = 0; i < HARNESS_MAX_WATCHED && tmpdirs[i] != NULL; i++) {
		if (tmpdirs[i][0] != '\0')
			harness_rmtree(tmpdirs[i]);
		tmpdirs[i][0] = '\0';
	}
	for (i = HARNESS_MAX_WATCHED - 1; i >= 0; i--) {
		if (watched[i] != NULL && watched[i]->dir[0] != '\0')
			daemon_stop(watched[i]);
	}
}

/*
 * Fork the daemon's process into d->pid; in the child (0 returned) its
 * stderr goes to the log, opened with flags (O_TRUNC or O_APPEND).
 */
static pid_t
daemon_fork(struct daemon *d, int flags)
{
	int	fd;

	d->pid = fork();
	cr_assert_neq(d->pid, -1, "fork: %s", strerror(errno));
	if (d->pid == 0) {
		fd = open(d->log, O_WRONLY | O_CREAT | flags, 0600);
		if (fd != -1) {
			dup2(fd, 2);
			close(fd);
		}
	}
	return d->pid;
}

/*
 * Wait until the daemon just forked accepts on its socket, within ms;
 * asserts it does, and that it did not exit first.
 */
static void
daemon_await_accept(struct daemon *d, int ms)
{
	double	deadline = now_ms() + ms;
	int	status;

	while (now_ms() < deadline) {
		if (can_connect(d->sock))
			return;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			cr_assert_fail("gatherd exited at start-up (status 0x%x),"
			    " see %s", status, d->log);
		}
		usleep(5000);
	}
	cr_assert_fail("gatherd did not accept on %s in time", d->sock);
}

/* Start gatherd; see harness.h. */
void
daemon_start(struct daemon *d, const char *conf_text, const char *const *args)
{
	daemon_start_opts(d, conf_text, args, NULL);
}

/* Start gatherd with options; see harness.h. */
void
daemon_start_opts(struct daemon *d, const char *conf_text,
    const char *const *args, const struct daemon_opts *opts)
{
	const char *const	*prefix = opts != NULL ? opts->prefix : NULL;
	const char	*argv[64];
	const char	*wrapper = getenv("GATHERD_TEST_WRAPPER");
	char		*wrap = NULL, *tok, *save;
	FILE		*fp;
	int		 argc = 0;

	harness_watch(d);
	memset(d, 0, sizeof *d);
	snprintf(d->dir, sizeof d->dir, "/tmp/gatherd-test.XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir), "mkdtemp: %s", strerror(errno));
	snprintf(d->sock, sizeof d->sock, "%s/gatherd.sock", d->dir);
	snprintf(d->conf, sizeof d->conf, "%s/gatherd.conf", d->dir);
	snprintf(d->log, sizeof d->log, "%s/gatherd.log", d->dir);
	cr_assert_not_null(fp = fopen(d->conf, "w"));
	fprintf(fp, "[daemon]\nsocket = %s\n", d->sock);
	if (conf_text != NULL)
		fputs(conf_text, fp);
	fclose(fp);

	for (; prefix != NULL && *prefix != NULL && argc < 16; prefix++)
		argv[argc++] = strcmp(*prefix, "{sock}") == 0 ? d->sock : *prefix;
	if (wrapper != NULL && *wrapper != '\0') {
		wrap = strdup(wrapper);
		for (tok = strtok_r(wrap, " ", &save); tok != NULL && argc < 40;
		    tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
	}
	argv[argc++] = GATHERD_BIN;
	argv[argc++] = "-c";
	argv[argc++] = d->conf;
	while (args != NULL && *args != NULL && argc < 62)
		argv[argc++] = *args++;
	argv[argc] = NULL;

	if (daemon_fork(d, O_TRUNC) == 0) {
		if (opts != NULL && opts->child != NULL)
			opts->child(d);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(wrap);
	if (opts != NULL && opts->no_wait)
		return;

	daemon_await_accept(d, wrapper != NULL ? 30000 : 5000);
}

/* Start gatherd and connect a client. */
int
daemon_start_client(struct daemon *d, const char *conf_text)
{
	daemon_start(d, conf_text, NULL);
	return client_connect(d->sock);
}

/* Wait for the daemon to exit; its wait status, or -1 on timeout. */
int
daemon_wait(struct daemon *d, int timeout_ms)
{
	double	deadline = now_ms() + timeout_ms;
	int	status;

	while (now_ms() < deadline) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return status;
		}
		usleep(2000);
	}
	return -1;
}

/* Assert the daemon exits 0 by itself within ms (stretched). */
void
daemon_expect_exit_0(struct daemon *d, int ms)
{
	int	status;

	ms = slack_ms(ms);
	status = daemon_wait(d, ms);
	cr_assert_neq(status, -1, "gatherd did not exit within %d ms", ms);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "gatherd exited with status 0x%x, see %s", status, d->log);
}

/* Start gatherd again, bare, in d's directory; see harness.h. */
void
daemon_respawn(struct daemon *d)
{

	cr_assert_eq(d->pid, 0, "the previous daemon is still running");
	if (daemon_fork(d, O_APPEND) == 0) {
		execl(GATHERD_BIN, GATHERD_BIN, "-c", d->conf, (char *)NULL);
		_exit(127);
	}
	daemon_await_accept(d, 5000);
}

/* Wait until the daemon has closed its listener. */
void
daemon_wait_unlisten(struct daemon *d)
{
	double	deadline = now_ms() + slack_ms(2000);

	while (can_connect(d->sock)) {
		cr_assert_lt(now_ms(), deadline, "still listening");
		usleep(2000);
	}
}

/* See harness.h. */
long
proc_busy_ms(pid_t pid)
{
	char			 path[64];
	unsigned long long	 run = 0, wait = 0;
	FILE			*fp;
	int			 n;

	snprintf(path, sizeof path, "/proc/%ld/schedstat", (long)pid);
	cr_assert_not_null(fp = fopen(path, "r"), "%s: %s", path,
	    strerror(errno));
	n = fscanf(fp, "%llu %llu", &run, &wait);
	fclose(fp);
	cr_assert_eq(n, 2, "%s: not two numbers", path);
	return (long)((run + wait) / 1000000);
}

/* A value from /proc/PID/status in kB, or -1. */
long
proc_kb(pid_t pid, const char *key)
{
	char	 path[64], line[256];
	FILE	*fp;
	long	 kb = -1;
	size_t	 klen = strlen(key);

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(fp);
	return kb;
}

/* Stop the daemon; see harness.h. */
void
daemon_pause(struct daemon *d)
{
	int	status;

	cr_assert_gt(d->pid, 0, "no daemon to pause");
	cr_assert_eq(kill(d->pid, SIGSTOP), 0, "SIGSTOP: %s", strerror(errno));
	cr_assert_eq(waitpid(d->pid, &status, WUNTRACED), d->pid,
	    "waitpid: %s", strerror(errno));
	cr_assert(WIFSTOPPED(status), "gatherd did not stop (status 0x%x)",
	    status);
	d->paused = 1;
}

/* Continue the daemon daemon_pause stopped. */
void
daemon_resume(struct daemon *d)
{
	cr_assert_eq(kill(d->pid, SIGCONT), 0, "SIGCONT: %s", strerror(errno));
	d->paused = 0;
}

static int
rmtree_entry(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

/* Remove a directory tree (symbolic links are removed, not followed). */
void
harness_rmtree(const char *dir)
{
	nftw(dir, rmtree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * At most the last max bytes of a file, as a string (caller frees), or
 * NULL. For failure messages: the log is gone once its dir is removed.
 */
static char *
file_tail(const char *path, size_t max)
{
	FILE	*fp;
	char	*buf;
	long	 size;
	size_t	 n;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) > (long)max)
		fseek(fp, size - (long)max, SEEK_SET);
	else
		rewind(fp);
	if ((buf = malloc(max + 1)) != NULL) {
		n = fread(buf, 1, max, fp);
		buf[n] = '\0';
	}
	fclose(fp);
	return buf;
}

#define LOG_TAIL_BYTES	16384

/*
 * Stop the daemon with SIGTERM, remove its dir and assert a clean exit.
 * Everything is cleaned up before the assertion, so a failure leaves no
 * daemon and no dir behind; the log goes into the failure message. A
 * second call (or a call for a daemon never started) does nothing.
 */
void
daemon_stop(struct daemon *d)
{
	char	*tail = NULL;
	int	 status = 0, timed_out = 0, failed = 0;

	if (d->pid > 0) {
		/*
		 * A test failed in a pause. Only then: a SIGCONT discards
		 * the SIGSTOP with which LeakSanitizer stops the threads of
		 * an exiting daemon, which then waits for them for ever.
		 */
		if (d->paused)
			kill(d->pid, SIGCONT);
		kill(d->pid, SIGTERM);
		status = daemon_wait(d, 20000);
		if (status == -1) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
			timed_out = 1;
		}
		failed = timed_out || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0;
		if (failed)
			tail = file_tail(d->log, LOG_TAIL_BYTES);
	}
	if (d->dir[0] != '\0')
		harness_rmtree(d->dir);
	d->pid = 0;
	d->dir[0] = '\0';
	if (timed_out)
		cr_assert_fail("gatherd did not stop on SIGTERM; the end of its"
		    " log (%s):\n%s", d->log, tail != NULL ? tail : "(none)");
	cr_assert(!failed, "gatherd exited with status 0x%x (%s %d); the end"
	    " of its log (%s):\n%s", status,
	    WIFEXITED(status) ? "exit code" : "signal",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
	    d->log, tail != NULL ? tail : "(none)");
	free(tail);
}

/* The daemon's log (its stderr) as a string; caller frees. */
char *
daemon_log(const struct daemon *d)
{
	FILE	*fp;
	char	*buf;
	long	 size;
	size_t	 n;

	cr_assert_not_null(fp = fopen(d->log, "r"), "%s: %s", d->log,
	    strerror(errno));
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	rewind(fp);
	cr_assert_not_null(buf = malloc((size_t)size + 1));
	n = fread(buf, 1, (size_t)size, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* How many times the log holds needle, waiting for count of them. */
int
daemon_log_wait(const struct daemon *d, const char *needle, int count,
    int timeout_ms)
{
	double		 deadline = now_ms() + timeout_ms;
	const char	*p;
	char		*log;
	int		 n;

	for (;;) {
		log = daemon_log(d);
		n = 0;
		for (p = log; (p = strstr(p, needle)) != NULL; p++)
			n++;
		free(log);
		if (n >= count || now_ms() >= deadline)
			return n;
		usleep(10000);
	}
}

/* Run a shell command, capturing stdout. */
int
run_command(const char *cmd, char **out)
{
	FILE	*fp;
	char	*buf = NULL, chunk[4096];
	size_t	 len = 0, n;
	int	 status;
	char	*full;

	if (asprintf(&full, "unset GATHERD_SOCKET; %s", cmd) == -1)
		cr_assert_fail("asprintf");
	fp = popen(full, "r");
	free(full);
	cr_assert_not_null(fp, "popen: %s", strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0) {
		buf = realloc(buf, len + n + 1);
		cr_assert_not_null(buf);
		memcpy(buf + len, chunk, n);
		len += n;
		buf[len] = '\0';
	}
	status = pclose(fp);
	if (out != NULL)
		*out = buf != NULL ? buf : strdup("");
	else
		free(buf);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

/* Run a shell command on a pseudo-terminal, capturing its output. */
int
run_command_pty(const char *cmd, char **out)
{
	size_t	 len;
	pid_t	 pid;
	int	 fd, status;

	pid = forkpty(&fd, NULL, NULL, NULL);
	cr_assert_neq(pid, -1, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		unsetenv("GATHERD_SOCKET");
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	*out = read_to_end(fd, 10000, &len);
	close(fd);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* run_command of a formatted command line; see harness.h. */
int
run_commandf(char **out, const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd;
	int	 n, rc;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	cr_assert_geq(n, 0, "vasprintf");
	rc = run_command(cmd, out);
	free(cmd);
	return rc;
}
