/*
 * A buffered line reader on a client socket; see harness.h. It reads in
 * large chunks and keeps what comes past a line for the next one.
 */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "jsonpath.h"

/* A reader on fd. */
void
reader_init(struct reader *r, int fd)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
}

/* A reader on a new connection to sock. */
void
reader_open(struct reader *r, const char *sock)
{
	reader_init(r, client_connect(sock));
}

/* Close the connection and free the buffer. */
void
reader_close(struct reader *r)
{
	if (r->fd != -1)
		close(r->fd);
	reader_free(r);
	r->fd = -1;
}

/* Free the buffer. */
void
reader_free(struct reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = r->scan = 0;
}

/* Read what the socket has within timeout_ms; 1, 0 at EOF, -1 if none. */
int
reader_fill(struct reader *r, int timeout_ms)
{
	struct pollfd	pfd = { .fd = r->fd, .events = POLLIN };
	ssize_t		got;

	if (r->cap - r->len < 65536) {
		r->cap = r->cap == 0 ? 262144 : r->cap * 2;
		r->buf = realloc(r->buf, r->cap);
		cr_assert_not_null(r->buf);
	}
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	do
		got = read(r->fd, r->buf + r->len, r->cap - r->len);
	while (got == -1 && errno == EINTR);
	if (got > 0) {
		r->len += (size_t)got;
		return 1;
	}
	if (got == 0 || errno == ECONNRESET)
		return 0;
	cr_assert_eq(errno, EAGAIN, "read: %s", strerror(errno));
	return -1;
}

/* The length of the first whole line in the buffer, or -1. */
ssize_t
reader_has_line(struct reader *r)
{
	char	*nl;

	if (r->len == r->scan ||
	    (nl = memchr(r->buf + r->scan, '\n', r->len - r->scan)) == NULL) {
		r->scan = r->len;
		return -1;
	}
	return nl - r->buf;
}

/* Take n bytes and the newline after them off the buffer, as a string. */
static char *
reader_take(struct reader *r, size_t n)
{
	char	*line;

	line = malloc(n + 1);
	cr_assert_not_null(line);
	memcpy(line, r->buf, n);
	line[n] = '\0';
	memmove(r->buf, r->buf + n + 1, r->len - n - 1);
	r->len -= n + 1;
	r->scan = 0;
	return line;
}

/* The next line within timeout_ms, or NULL. */
char *
reader_line(struct reader *r, int timeout_ms)
{
	double	deadline = now_ms() + timeout_ms;
	ssize_t	n;
	int	left;

	while ((n = reader_has_line(r)) < 0) {
		left = (int)(deadline - now_ms());
		if (left <= 0 || reader_fill(r, left) <= 0)
			return NULL;
	}
	return reader_take(r, (size_t)n);
}

/* The next line as JSON within timeout_ms; asserts one comes. */
json_t *
reader_json(struct reader *r, int timeout_ms)
{
	char	*line;
	json_t	*v;

	line = reader_line(r, timeout_ms);
	cr_assert_not_null(line, "no reply within %d ms", timeout_ms);
	v = jparse(line, strlen(line));
	free(line);
	return v;
}

/* The next whole line already read, as JSON, or NULL. */
json_t *
reader_next_json(struct reader *r)
{
	ssize_t	 n;
	char	*line;
	json_t	*v;

	if ((n = reader_has_line(r)) < 0)
		return NULL;
	line = reader_take(r, (size_t)n);
	v = jparse(line, (size_t)n);
	free(line);
	return v;
}
