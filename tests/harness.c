/*
 * A real gatherd for integration tests: forked on a private socket, polled
 * until it accepts, stopped with SIGTERM. Set GATHERD_TEST_WRAPPER (e.g.
 * "valgrind --leak-check=full --error-exitcode=1") to run it under a tool.
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "jsonpath.h"

/* Milliseconds on the monotonic clock. */
double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

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

/*
 * Whether this program, and so the daemon built with the same flags, has
 * AddressSanitizer (--enable-sanitizers).
 */
static int
harness_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return 1;
#endif
#endif
	return 0;
}

/* 1.0, or more under GATHERD_TEST_WRAPPER or ASan; see harness.h. */
double
harness_slack(void)
{
	const char	*wrapper = getenv("GATHERD_TEST_WRAPPER");

	if (wrapper != NULL && *wrapper != '\0')
		return HARNESS_SLOW_SLACK;
	return harness_asan() ? HARNESS_ASAN_SLACK : 1.0;
}

/* ms stretched by harness_slack(). */
int
slack_ms(double ms)
{
	return (int)(ms * harness_slack());
}

/* Whether RSS bounds hold; see harness.h. */
int
harness_rss_meaningful(void)
{
	return !harness_asan() && harness_slack() <= 1;
}

/* A Unix socket address for path. */
void
sun_set(struct sockaddr_un *sun, const char *path)
{
	size_t	len = strlen(path);

	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	cr_assert_lt(len, sizeof sun->sun_path, "path too long: %s", path);
	memcpy(sun->sun_path, path, len + 1);
}

/* Connect, or -1. */
int
try_connect(const char *sock)
{
	struct sockaddr_un	sun;
	int			fd;

	sun_set(&sun, sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		return -1;
	}
	return fd;
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

/* Connect to a Unix socket; asserts success. */
int
client_connect(const char *sock)
{
	int	fd = try_connect(sock);

	cr_assert_neq(fd, -1, "connect %s: %s", sock, strerror(errno));
	return fd;
}

/* Room for one descriptor in a message, aligned for its header. */
union fd_ctl {
	char		buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr	align;
};

/* A message of one byte, *byte, with room for a descriptor in ctl. */
static void
fd_msg_init(struct msghdr *msg, struct iovec *iov, char *byte, void *ctl,
    size_t ctllen)
{
	memset(msg, 0, sizeof *msg);
	iov->iov_base = byte;
	iov->iov_len = 1;
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = ctl;
	msg->msg_controllen = ctllen;
}

/*
 * In a child: become uid/gid, connect, send the socket back over chan
 * (SCM_RIGHTS). No Criterion here: its assertions belong to the test's own
 * process; the exit status says what failed.
 */
static void __attribute__((noreturn))
connect_as_child(const char *sock, uid_t uid, gid_t gid, int chan)
{
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	union fd_ctl	 u;
	char		 one = 1;
	int		 fd;

	if (setgroups(0, NULL) == -1 || setgid(gid) == -1 || setuid(uid) == -1)
		_exit(10);
	if ((fd = try_connect(sock)) == -1)
		_exit(11);
	memset(&u, 0, sizeof u);
	fd_msg_init(&msg, &iov, &one, u.buf, sizeof u.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
	if (sendmsg(chan, &msg, 0) != 1)
		_exit(12);
	_exit(0);
}

/* Connect as uid/gid through a child; see harness.h. */
int
client_connect_as(const char *sock, uid_t uid, gid_t gid)
{
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	union fd_ctl	 u;
	char		 one;
	int		 sv[2], fd = -1, status;
	pid_t		 pid;

	cr_assert_eq(geteuid(), 0, "client_connect_as needs root");
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0,
	    "socketpair: %s", strerror(errno));
	pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		connect_as_child(sock, uid, gid, sv[1]);
	}
	close(sv[1]);
	fd_msg_init(&msg, &iov, &one, u.buf, sizeof u.buf);
	if (recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC) == 1 &&
	    (cmsg = CMSG_FIRSTHDR(&msg)) != NULL &&
	    cmsg->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
	close(sv[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "connecting to %s as uid %ld: child exit status 0x%x (10 setuid,"
	    " 11 connect, 12 sendmsg)", sock, (long)uid, status);
	cr_assert_neq(fd, -1, "no socket from the child");
	return fd;
}

/*
 * The CPU lock: two files. Shared takers pass through the turnstile, which
 * a taker that wants the CPU alone holds while it waits, so that a stream
 * of shared takers cannot starve it (flock has no writer preference).
 */
#define CPU_LOCK_FILE		"/tmp/gatherd-test.cpu.lock"
#define CPU_TURNSTILE_FILE	"/tmp/gatherd-test.cpu.turnstile"

static int
cpu_lock_open(const char *path)
{
	int	fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	cr_assert_neq(fd, -1, "open %s: %s", path, strerror(errno));
	/* Another user's test may create it: let it be shared. */
	(void)fchmod(fd, 0666);
	return fd;
}

static void
cpu_flock(int fd, int op)
{
	while (flock(fd, op) == -1)
		cr_assert_eq(errno, EINTR, "flock: %s", strerror(errno));
}

/* Take the CPU lock for the rest of this process; see harness.h. */
void
cpu_lock(int how)
{
	int	lock, turnstile;

	lock = cpu_lock_open(CPU_LOCK_FILE);
	turnstile = cpu_lock_open(CPU_TURNSTILE_FILE);
	cpu_flock(turnstile, LOCK_EX);
	cpu_flock(lock, how == CPU_LOCK_ALONE ? LOCK_EX : LOCK_SH);
	close(turnstile);
	/* lock stays open, and so held, until the process ends. */
}

/* Write all of buf. */
void
client_write(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		cr_assert_gt(n, 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Write a line. */
void
client_send(int fd, const char *line)
{
	client_write(fd, line, strlen(line));
	client_write(fd, "\n", 1);
}

/*
 * Read one line. Looks ahead with MSG_PEEK and takes only up to the
 * newline, so no data past it is taken from the socket, and a reply of
 * megabytes does not cost a read() a byte.
 */
char *
client_recv(int fd, int timeout_ms)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	double		 deadline = now_ms() + timeout_ms;
	char		*buf = NULL, *nl;
	size_t		 len = 0, cap = 0, take;
	ssize_t		 n;
	int		 left;

	for (;;) {
		left = (int)(deadline - now_ms());
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		if (cap - len < 65536 + 1) {
			cap = cap == 0 ? 131072 : cap * 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		n = recv(fd, buf + len, 65536, MSG_PEEK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		nl = memchr(buf + len, '\n', (size_t)n);
		take = nl != NULL ? (size_t)(nl - (buf + len)) + 1 : (size_t)n;
		n = read(fd, buf + len, take);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (nl != NULL && (size_t)n == take) {
			buf[len - 1] = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* Read one line as JSON. */
json_t *
client_recv_json(int fd, int timeout_ms)
{
	json_error_t	 err;
	json_t		*v;
	char		*line;

	line = client_recv(fd, timeout_ms);
	cr_assert_not_null(line, "no reply within %d ms", timeout_ms);
	v = json_loads(line, 0, &err);
	cr_assert_not_null(v, "reply is not JSON (%s): %s", err.text, line);
	free(line);
	return v;
}

/* One line, one reply. */
json_t *
rpc(int fd, const char *line)
{
	client_send(fd, line);
	return client_recv_json(fd, slack_ms(10000));
}

/* The status object, asked on fd. */
json_t *
status_on(int fd)
{
	json_t	*r, *st;

	r = rpc(fd, "{\"op\":\"status\"}");
	st = json_incref(json_object_get(r, "status"));
	cr_assert(json_is_object(st), "status reply: %s", jtext(r));
	json_decref(r);
	return st;
}

/* Nothing arrives on fd for ms. */
void
expect_silence(int fd, int ms)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	char		*line;

	if (poll(&pfd, 1, ms) > 0) {
		line = client_recv(fd, 100);
		cr_assert_fail("unexpected %s", line != NULL ? line : "EOF");
	}
}

/* The daemon closes fd within ms (stretched), with nothing more to read. */
void
expect_eof(int fd, int ms)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	ssize_t		 n;
	char		 buf[256];

	ms = slack_ms(ms);
	cr_assert_gt(poll(&pfd, 1, ms), 0, "no EOF within %d ms", ms);
	n = read(fd, buf, sizeof buf - 1);
	if (n > 0)
		buf[n] = '\0';
	cr_assert_eq(n, 0, "want EOF, got %s", n > 0 ? buf : strerror(errno));
}

/* Read and drop what fd has until the daemon closes it, within ms. */
size_t
drain_to_eof(int fd, int ms)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	double		 deadline = now_ms() + slack_ms(ms);
	size_t		 total = 0;
	ssize_t		 n;
	char		 buf[65536];
	int		 left;

	for (;;) {
		left = (int)(deadline - now_ms());
		cr_assert(left > 0 && poll(&pfd, 1, left) > 0,
		    "not closed within %d ms (%zu bytes read)", slack_ms(ms),
		    total);
		n = read(fd, buf, sizeof buf);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return total;
		cr_assert(n > 0 || errno == EINTR, "read: %s",
		    strerror(errno));
		if (n > 0)
			total += (size_t)n;
	}
}

/* One request on a fresh connection. */
json_t *
daemon_request(struct daemon *d, const char *line)
{
	json_t	*v;
	int	 fd = client_connect(d->sock);

	client_send(fd, line);
	v = client_recv_json(fd, 10000);
	close(fd);
	return v;
}

/*
 * One request on a fresh connection, its reply read in chunks. Only one
 * reply is expected on the connection, so reading past the newline loses
 * nothing.
 */
json_t *
daemon_request_ms(struct daemon *d, const char *line, int timeout_ms)
{
	struct pollfd	 pfd;
	json_error_t	 err;
	json_t		*v;
	double		 deadline = now_ms() + timeout_ms;
	char		*buf = NULL, *nl = NULL;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 fd, left;

	fd = client_connect(d->sock);
	client_send(fd, line);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (nl == NULL) {
		left = (int)(deadline - now_ms());
		cr_assert_gt(left, 0, "no reply within %d ms to %.200s",
		    timeout_ms, line);
		if (poll(&pfd, 1, left) <= 0)
			continue;
		if (cap - len < 65536) {
			cap = cap == 0 ? 262144 : cap * 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		cr_assert_gt(n, 0, "connection closed before a reply to %.200s",
		    line);
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	close(fd);
	*nl = '\0';
	v = json_loads(buf, JSON_ALLOW_NUL, &err);
	cr_assert_not_null(v, "reply is not JSON (%s): %.300s", err.text, buf);
	free(buf);
	return v;
}

/* The daemon's status object. */
json_t *
daemon_status(struct daemon *d, int timeout_ms)
{
	json_t	*r, *st;

	r = daemon_request_ms(d, "{\"op\":\"status\"}", timeout_ms);
	st = json_incref(json_object_get(r, "status"));
	cr_assert(json_is_object(st), "status reply: %s", jtext(r));
	json_decref(r);
	return st;
}

/* A ping, answered within ms. */
void
daemon_ping(struct daemon *d, int ms)
{
	double	 t0 = now_ms();
	json_t	*r = daemon_request_ms(d, "{\"op\":\"ping\"}", ms);

	cr_assert(json_is_true(json_object_get(r, "pong")), "ping: %s",
	    jtext(r));
	cr_assert_lt(now_ms() - t0, ms, "ping took %.0f ms", now_ms() - t0);
	json_decref(r);
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
