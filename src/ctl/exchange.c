/*
 * The exchange with gatherd, for gatherctl's commands: connect to the
 * daemon's Unix socket, send the request lines queued, and read replies
 * until each request has its final one.
 *
 * The I/O is plain and blocking, with poll() only so that request lines
 * are still being sent while replies are read: a long submit cannot
 * deadlock against the daemon's output high-water mark. Replies are
 * matched to requests by id; a reply is final when it has no "event".
 * What the user sees of a reply is the caller's (the show callback); the
 * exchange draws only the progress bar, on stderr.
 *
 * Errors are returned, not printed: the caller says them and exits.
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "ctl/exchange.h"
#include "ctl/print.h"
#include "xmalloc.h"

#define EXCHANGE_BAR_WIDTH		20
#define EXCHANGE_BAR_EVERY_NS		50000000u
#define EXCHANGE_BAR_TICK_MS		250

/* Start an exchange with nothing queued; show prints replies. */
void
exchange_init(struct exchange *ex, exchange_show_cb show, void *arg)
{
	memset(ex, 0, sizeof *ex);
	ex->fd = -1;
	ex->show = show;
	ex->arg = arg;
}

/* Free what an exchange owns. */
void
exchange_free(struct exchange *ex)
{
	size_t	i;

	if (ex->fd != -1)
		close(ex->fd);
	for (i = 0; i < ex->nreqs; i++) {
		json_decref(ex->reqs[i].id);
		json_decref(ex->reqs[i].jobs);
	}
	free(ex->reqs);
	free(ex->out);
	free(ex->in);
	json_decref(ex->last);
}

/* Fill in the address of the socket at path; -1 if the path is too long. */
int
exchange_sockaddr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path)
		return -1;
	strcpy(sun->sun_path, path);
	return 0;
}

/* Draw the progress bar, at most every 50 ms unless forced. */
static void
exchange_bar_draw(struct exchange *ex, int force)
{
	static const char	 hashes[EXCHANGE_BAR_WIDTH + 1] =
	    "####################";
	uint64_t		 now = clock_ns();
	size_t			 fill = 0;

	if (!ex->bar || ex->nleft == 0)
		return;
	if (!force && ex->bar_shown &&
	    now - ex->bar_drawn < EXCHANGE_BAR_EVERY_NS)
		return;
	if (ex->bar_total > 0)
		fill = ex->bar_done * EXCHANGE_BAR_WIDTH / ex->bar_total;
	if (fill > EXCHANGE_BAR_WIDTH)
		fill = EXCHANGE_BAR_WIDTH;
	fprintf(stderr, "\r[%.*s%*s] %zu/%zu jobs  %.1f s\033[K", (int)fill,
	    hashes, (int)(EXCHANGE_BAR_WIDTH - fill), "", ex->bar_done,
	    ex->bar_total, clock_ms(ex->started, now) / 1000.0);
	fflush(stderr);
	ex->bar_shown = 1;
	ex->bar_drawn = now;
}

/* Erase the progress bar before other output. */
static void
exchange_bar_clear(struct exchange *ex)
{
	if (!ex->bar_shown)
		return;
	print_control(stderr, "\r\033[K");
	ex->bar_shown = 0;
}

/* Queue one request line to send, and remember what answers it. */
int
exchange_add(struct exchange *ex, json_t *req, int show_events, char **cause)
{
	struct exchange_request	*r;
	const json_t		*op;
	char			*line;
	size_t			 len;

	if ((line = json_dumps(req, JSON_COMPACT)) == NULL) {
		*cause = xasprintf("cannot encode request %zu", ex->nreqs + 1);
		return -1;
	}
	len = strlen(line);
	if (ex->outsize - ex->outlen < len + 1) {
		while (ex->outsize - ex->outlen < len + 1)
			ex->outsize = ex->outsize == 0 ? 65536 :
			    ex->outsize * 2;
		ex->out = xrealloc(ex->out, ex->outsize);
	}
	memcpy(ex->out + ex->outlen, line, len);
	ex->out[ex->outlen + len] = '\n';
	ex->outlen += len + 1;
	free(line);

	if (ex->nreqs == ex->reqsize) {
		ex->reqsize = ex->reqsize == 0 ? 16 : ex->reqsize * 2;
		ex->reqs = xreallocarray(ex->reqs, ex->reqsize,
		    sizeof *ex->reqs);
	}
	r = &ex->reqs[ex->nreqs++];
	memset(r, 0, sizeof *r);
	r->id = json_object_get(req, "id");
	r->id = json_incref(r->id != NULL ? r->id : json_null());
	op = json_object_get(req, "op");
	if (op == NULL || json_is_null(op) || (json_is_string(op) &&
	    strcmp(json_string_value(op), "batch") == 0)) {
		r->jobs = json_incref(json_object_get(req, "jobs"));
		r->njobs = json_array_size(r->jobs);
	}
	r->show_events = show_events;
	ex->bar_total += r->njobs;
	ex->nleft++;
	return 0;
}

/*
 * The request a reply answers: the oldest without a final reply whose id
 * is equal. A final reply with no such id (a too_large or bad_json reply
 * carries a null id) is taken to answer the oldest request left.
 */
static struct exchange_request *
exchange_match(struct exchange *ex, const json_t *id, int final)
{
	size_t	i;

	while (ex->first < ex->nreqs && ex->reqs[ex->first].done)
		ex->first++;
	if (id == NULL)
		id = json_null();
	for (i = ex->first; i < ex->nreqs; i++) {
		if (!ex->reqs[i].done && json_equal(ex->reqs[i].id,
		    (json_t *)id))
			return &ex->reqs[i];
	}
	if (!final || ex->first == ex->nreqs)
		return NULL;
	return &ex->reqs[ex->first];
}

/* Handle one reply line from the daemon. */
static int
exchange_line(struct exchange *ex, const char *line, size_t len,
    char **cause)
{
	struct exchange_request	*req;
	json_t			*msg;
	json_error_t		 error;
	char			*s, *clean;
	int			 show;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;
	msg = json_loadb(line, len, 0, &error);
	if (msg == NULL || !json_is_object(msg)) {
		json_decref(msg);
		exchange_bar_clear(ex);
		s = xstrndup(line, len);
		clean = print_clean(s, 200);
		*cause = xasprintf("bad reply from gatherd: %s", clean);
		free(clean);
		free(s);
		return -1;
	}

	if (json_object_get(msg, "event") != NULL) {
		req = exchange_match(ex, json_object_get(msg, "id"), 0);
		show = req == NULL || req->show_events;
		if (req != NULL && req->nevents < req->njobs) {
			req->nevents++;
			ex->bar_done++;
		}
		if (show) {
			exchange_bar_clear(ex);
			ex->show(ex->arg, req, msg, line, len);
		}
		exchange_bar_draw(ex, show);
		json_decref(msg);
		return 0;
	}

	if ((req = exchange_match(ex, json_object_get(msg, "id"), 1)) !=
	    NULL) {
		req->done = 1;
		ex->nleft--;
		ex->bar_done += req->njobs - req->nevents;
	}
	if (!json_is_true(json_object_get(msg, "ok")))
		ex->failed = 1;
	exchange_bar_clear(ex);
	ex->show(ex->arg, req, msg, line, len);
	exchange_bar_draw(ex, 1);
	json_decref(ex->last);
	ex->last = msg;
	return 0;
}

/* The daemon closed the connection: an error if replies are missing. */
static int
exchange_closed(struct exchange *ex, int errnum, char **cause)
{
	if (ex->nleft == 0)
		return 0;
	exchange_bar_clear(ex);
	if (errnum == 0)
		errnum = ex->send_errno;
	*cause = xasprintf("gatherd closed the connection before replying "
	    "(%zu of %zu repl%s missing)%s%s", ex->nleft, ex->nreqs,
	    ex->nreqs == 1 ? "y" : "ies", errnum != 0 ? ": " : "",
	    errnum != 0 ? strerror(errnum) : "");
	return -1;
}

/* Send what the socket takes of the request lines. */
static void
exchange_send(struct exchange *ex)
{
	ssize_t	n;

	n = send(ex->fd, ex->out + ex->outoff, ex->outlen - ex->outoff,
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/*
		 * The daemon may have answered before it closed (a busy line
		 * when over max_connections): read that before reporting.
		 */
		ex->send_errno = errno;
		ex->outoff = ex->outlen;
		return;
	}
	ex->outoff += (size_t)n;
	if (ex->outoff == ex->outlen)
		shutdown(ex->fd, SHUT_WR);
}

/* Read what the daemon sent and handle every complete line. */
static int
exchange_recv(struct exchange *ex, char **cause)
{
	ssize_t	 n;
	size_t	 start, i;
	char	*nl;

	if (ex->insize - ex->inlen < 4096) {
		ex->insize = ex->insize == 0 ? 65536 : ex->insize * 2;
		ex->in = xrealloc(ex->in, ex->insize);
	}
	n = recv(ex->fd, ex->in + ex->inlen, ex->insize - ex->inlen,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		/* A last line without its newline is still a reply. */
		if (ex->inlen > 0) {
			if (exchange_line(ex, ex->in, ex->inlen, cause) != 0)
				return -1;
			ex->inlen = 0;
		}
		return exchange_closed(ex, n == -1 ? errno : 0, cause);
	}

	i = ex->inlen;
	ex->inlen += (size_t)n;
	start = 0;
	while ((nl = memchr(ex->in + i, '\n', ex->inlen - i)) != NULL) {
		i = (size_t)(nl - ex->in);
		if (exchange_line(ex, ex->in + start, i - start, cause) != 0)
			return -1;
		start = ++i;
	}
	memmove(ex->in, ex->in + start, ex->inlen - start);
	ex->inlen -= start;
	return 0;
}

/*
 * On fd, connected to gatherd at sock (the exchange takes it), send every
 * queued request and read until each has its final reply. wait_ms bounds
 * the whole exchange (-1: no bound, a batch has its own timeout_ms).
 * Returns 0, or -1 with *cause set.
 */
int
exchange_run(struct exchange *ex, int fd, const char *sock, int wait_ms,
    char **cause)
{
	struct pollfd	 pfd;
	uint64_t	 now, left, deadline = 0;
	int		 n, timeout;

	ex->fd = fd;
	ex->started = clock_ns();
	if (wait_ms >= 0)
		deadline = ex->started + (uint64_t)wait_ms * 1000000u;
	exchange_bar_draw(ex, 1);
	while (ex->nleft > 0) {
		pfd.fd = ex->fd;
		pfd.events = POLLIN;
		if (ex->outoff < ex->outlen)
			pfd.events |= POLLOUT;
		pfd.revents = 0;
		timeout = ex->bar ? EXCHANGE_BAR_TICK_MS : -1;
		if (deadline != 0) {
			if ((now = clock_ns()) >= deadline) {
				exchange_bar_clear(ex);
				*cause = xasprintf("no reply from gatherd at %s "
				    "within %d s", sock, wait_ms / 1000);
				return -1;
			}
			left = (deadline - now) / 1000000u + 1;
			if (timeout == -1 || left < (uint64_t)timeout)
				timeout = (int)left;
		}
		if ((n = poll(&pfd, 1, timeout)) == -1) {
			if (errno == EINTR)
				continue;
			exchange_bar_clear(ex);
			*cause = xasprintf("poll: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			exchange_bar_draw(ex, 1);
			continue;
		}
		if (pfd.revents & POLLOUT)
			exchange_send(ex);
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) &&
		    exchange_recv(ex, cause) != 0)
			return -1;
	}
	exchange_bar_clear(ex);
	close(ex->fd);
	ex->fd = -1;
	return 0;
}
