/*
 * A real gatherd for integration tests: forked on a private socket, polled
 * until it accepts, stopped with SIGTERM. Set GATHERD_TEST_WRAPPER (e.g.
 * "valgrind --leak-check=full --error-exitcode=1") to run it under a tool.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
	double		 deadline;
	int		 argc = 0, fd, status, logfd;

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

	d->pid = fork();
	cr_assert_neq(d->pid, -1, "fork: %s", strerror(errno));
	if (d->pid == 0) {
		logfd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (logfd != -1) {
			dup2(logfd, 2);
			close(logfd);
		}
		if (opts != NULL && opts->child != NULL)
			opts->child(d);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(wrap);
	if (opts != NULL && opts->no_wait)
		return;

	deadline = now_ms() + (wrapper != NULL ? 30000 : 5000);
	while (now_ms() < deadline) {
		if ((fd = try_connect(d->sock)) != -1) {
			close(fd);
			return;
		}
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			cr_assert_fail("gatherd exited at start-up (status %d),"
			    " see %s", status, d->log);
		}
		usleep(5000);
	}
	cr_assert_fail("gatherd did not accept on %s in time", d->sock);
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
