/*
 * Blocking test clients of a real gatherd: connecting (as another user,
 * too), writing lines, reading replies, and asserting what the daemon
 * sends or does not; see harness.h.
 */

#include <errno.h>
#include <grp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "xmalloc.h"

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

/* Whether a client can connect now. */
bool
can_connect(const char *path)
{
	int	fd = try_connect(path);

	if (fd != -1)
		close(fd);
	return fd != -1;
}

/* A non-blocking client socket connected to path, or -1 with errno. */
int
nb_try_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, err;

	sun_set(&sun, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_neq(fd, -1, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
		return fd;
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* A non-blocking client socket, or -1 when the backlog is full. */
int
nb_connect(const char *path)
{
	int	fd = nb_try_connect(path);

	cr_assert(fd != -1 || errno == EAGAIN, "connect %s: %s", path,
	    strerror(errno));
	return fd;
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

/* Wait until the daemon has read everything written on fd. */
void
client_wait_read(int fd)
{
	double	deadline = now_ms() + slack_ms(20000);
	int	queued;

	for (;;) {
		cr_assert_eq(ioctl(fd, SIOCOUTQ, &queued), 0, "SIOCOUTQ: %s",
		    strerror(errno));
		if (queued == 0)
			return;
		cr_assert_lt(now_ms(), deadline, "the daemon left %d bytes"
		    " unread", queued);
		usleep(1000);
	}
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
	return client_recv_json(fd, slack_ms(HARNESS_REPLY_MS));
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

/*
 * Read fd until it ends (EOF; a reset; EIO, a pty whose other side has
 * closed) within ms (stretched): what came, NUL-terminated, and its
 * length in *lenp. Caller frees.
 */
char *
read_to_end(int fd, int ms, size_t *lenp)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	double		 deadline = now_ms() + slack_ms(ms);
	char		*buf = NULL;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	int		 left;

	for (;;) {
		left = (int)(deadline - now_ms());
		cr_assert(left > 0 && poll(&pfd, 1, left) > 0,
		    "no end within %d ms (%zu bytes read)", slack_ms(ms), len);
		if (cap - len < 65536 + 1)
			buf = xrealloc(buf, cap = cap * 2 + 65536 + 1);
		n = read(fd, buf + len, 65536);
		if (n == 0 || (n == -1 && (errno == ECONNRESET ||
		    errno == EIO)))
			break;
		cr_assert(n > 0 || errno == EINTR, "read: %s",
		    strerror(errno));
		if (n > 0)
			len += (size_t)n;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Read and drop what fd has until the daemon closes it, within ms. */
size_t
drain_to_eof(int fd, int ms)
{
	size_t	len;

	free(read_to_end(fd, ms, &len));
	return len;
}

/* One request on a fresh connection. */
json_t *
daemon_request(struct daemon *d, const char *line)
{
	json_t	*v;
	int	 fd = client_connect(d->sock);

	client_send(fd, line);
	v = client_recv_json(fd, slack_ms(HARNESS_REPLY_MS));
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
