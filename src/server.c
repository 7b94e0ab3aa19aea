/*
 * The server: one libevent loop, the listening Unix socket, the list of
 * connections, signals and the drain on shutdown.
 *
 * Shutdown (SIGTERM or SIGINT) has two phases. Draining: the listener is
 * closed, new batches are refused with shutting_down, batches in flight run
 * on for up to shutdown_timeout_ms and are then cancelled. Stopping: once
 * no batch is left, reading stops, every connection is closed as soon as
 * its output is flushed, and the loop ends. A client that reads gets its
 * replies whole, however long they are; one that has taken nothing for
 * SERVER_FLUSH_GRACE_MS is closed, and after shutdown_timeout_ms more
 * every connection is. A second signal cancels at once, and while
 * stopping closes every connection at once.
 *
 * Under systemd socket activation (LISTEN_FDS) the listening socket is
 * systemd's: it is served as passed, and its file is never removed.
 *
 * SIGHUP reloads the configuration (reload.c); the server holds the
 * snapshot in force, which new batches and connections use.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <systemd/sd-daemon.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "parser.h"
#include "peer.h"
#include "pool.h"
#include "proto.h"
#include "reload.h"
#include "server.h"
#include "snapshot.h"
#include "status.h"
#include "xmalloc.h"

#define SERVER_FLUSH_GRACE_MS	2000
#define SERVER_ACCEPT_RETRY_MS	100
#define SERVER_FDS_RESERVED	64	/* descriptors that are not connections */

struct event_base	*server_base;
struct snapshot		*server_snap;
struct config		*server_cfg;
int			 server_draining;
int			 server_stopping;

static struct evconnlistener	*server_listener;
static char			*server_path;	/* socket we created, or NULL */
static ino_t			 server_ino;
static int			 server_lockfd = -1;	/* PATH.lock, held */
static int			 server_systemd_fd = -1; /* activated: kept open */
static struct conns		 server_conns = TAILQ_HEAD_INITIALIZER(server_conns);
static struct conns		 server_dead = TAILQ_HEAD_INITIALIZER(server_dead);
static uint64_t			 server_next_id = 1;
static struct event		*server_sigint, *server_sigterm, *server_sighup;
static struct event		*server_drain_timer, *server_flush_timer;
static uint64_t			 server_stop_ns;	/* when stopping began */
static struct event		*server_reaper, *server_accept_timer;
static struct event		*server_stopper;
static struct log_limit		 server_refusal_limit;

/*
 * Open connections per uid, root's not counted (max_connections_per_uid).
 * Few users talk to one daemon: an array, searched.
 */
struct server_uid {
	uid_t		uid;
	uint64_t	conns;
};
static struct server_uid	*server_uids;
static size_t			 server_nuids, server_uids_cap;

static void	server_stop(void);
static void	server_close_all(void);

/*
 * Why the socket at path cannot be made, err being what creating a file
 * beside it gave: the directory that is missing or closed, and how to
 * choose another socket, rather than the name of a file the user never
 * heard of.
 */
static char *
server_path_error(const char *path, int err)
{
	struct stat	 sb;
	char		*dir, *slash, *msg;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else {
		free(dir);
		dir = xstrdup(".");
	}
	if (err == ENOENT && stat(dir, &sb) == 0)
		msg = xasprintf("cannot create the socket %s in %s: %s", path,
		    dir, strerror(err));
	else if (err == ENOENT)
		msg = xasprintf("cannot create the socket %s: the directory %s"
		    " does not exist (create it, or choose another socket with"
		    " -s PATH, $GATHERD_SOCKET or [daemon] socket)", path, dir);
	else if (err == EACCES || err == EPERM || err == EROFS)
		msg = xasprintf("cannot create the socket %s: %s in the"
		    " directory %s (run gatherd as a user who may create files"
		    " there, or choose another socket with -s PATH,"
		    " $GATHERD_SOCKET or [daemon] socket)", path,
		    strerror(err), dir);
	else if (err == ENOTDIR)
		msg = xasprintf("cannot create the socket %s: %s is not a"
		    " directory", path, dir);
	else
		msg = xasprintf("cannot create the socket %s: %s", path,
		    strerror(err));
	free(dir);
	return msg;
}

/*
 * Hold PATH.lock (flock) until the socket is closed, so that two daemons
 * starting at once on the same path cannot both find a stale socket, and
 * the second remove the first one's fresh socket. The file is left in
 * place: removing it would let a third daemon lock a new file while the
 * second holds the old one.
 */
static int
server_lock(const char *path, char **cause)
{
	char	*lock = xasprintf("%s.lock", path);
	int	 fd;

	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		if (errno == ENOENT || errno == EACCES || errno == EPERM ||
		    errno == EROFS || errno == ENOTDIR)
			*cause = server_path_error(path, errno);
		else
			*cause = xasprintf("%s: %s", lock, strerror(errno));
		free(lock);
		return -1;
	}
	free(lock);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			*cause = xasprintf("another gatherd is already"
			    " listening on %s (or starting to)", path);
		else
			*cause = xasprintf("%s.lock: %s", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Bind a listening Unix socket at path with mode. A stale socket file (no
 * one accepts on it) is replaced; a live one is never taken over.
 */
static int
server_bind(const char *path, mode_t mode, char **cause)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	mode_t			 mask;
	int			 fd, probe, rc;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((server_lockfd = server_lock(path, cause)) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	if (rc == -1 && errno == EADDRINUSE) {
		if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
			umask(mask);
			*cause = xasprintf("%s exists and is not a socket",
			    path);
			goto fail;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 && connect(probe, (struct sockaddr *)&sun,
		    sizeof sun) == 0) {
			close(probe);
			umask(mask);
			*cause = xasprintf("another gatherd is already"
			    " listening on %s", path);
			goto fail;
		}
		if (probe != -1)
			close(probe);
		log_info("removing stale socket %s", path);
		unlink(path);
		rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	}
	umask(mask);
	if (rc == -1) {
		*cause = xasprintf("bind %s: %s", path, strerror(errno));
		goto fail;
	}
	if (chmod(path, mode) == -1 || listen(fd, SOMAXCONN) == -1 ||
	    stat(path, &sb) == -1) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	server_ino = sb.st_ino;
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * The socket systemd passed (LISTEN_FDS), if any: 0 and *fd = -1 when
 * none was passed, 0 and *fd set when one listening Unix stream socket
 * was, -1 with *cause for anything else.
 */
static int
server_activated(int *fd, char **cause)
{
	int	n, rc, flags;

	*fd = -1;
	if ((n = sd_listen_fds(1)) < 0) {
		*cause = xasprintf("socket activation: %s", strerror(-n));
		return -1;
	}
	if (n == 0)
		return 0;
	if (n > 1) {
		*cause = xasprintf("socket activation: systemd passed %d"
		    " sockets, gatherd serves exactly one", n);
		return -1;
	}
	rc = sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0);
	if (rc < 0) {
		*cause = xasprintf("socket activation: fd %d: %s",
		    SD_LISTEN_FDS_START, strerror(-rc));
		return -1;
	}
	if (rc == 0) {
		*cause = xasprintf("socket activation: fd %d is not a"
		    " listening Unix stream socket (ListenStream= with a"
		    " path is expected)", SD_LISTEN_FDS_START);
		return -1;
	}
	if ((flags = fcntl(SD_LISTEN_FDS_START, F_GETFL)) == -1 ||
	    fcntl(SD_LISTEN_FDS_START, F_SETFL, flags | O_NONBLOCK) == -1) {
		*cause = xasprintf("socket activation: fd %d: %s",
		    SD_LISTEN_FDS_START, strerror(errno));
		return -1;
	}
	*fd = SD_LISTEN_FDS_START;
	return 0;
}

/* Say which socket systemd passed. */
static void
server_log_activated(int fd)
{
	struct sockaddr_un	sun;
	socklen_t		len = sizeof sun;

	memset(&sun, 0, sizeof sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
	    len > offsetof(struct sockaddr_un, sun_path) &&
	    sun.sun_path[0] != '\0')
		log_info("listening on %.*s (passed by systemd)",
		    (int)sizeof sun.sun_path, sun.sun_path);
	else
		log_info("listening on the socket passed by systemd");
}

/* The count of uid's connections, or NULL when it has none. */
static struct server_uid *
server_uid_find(uid_t uid)
{
	size_t	i;

	for (i = 0; i < server_nuids; i++) {
		if (server_uids[i].uid == uid)
			return &server_uids[i];
	}
	return NULL;
}

/* How many connections uid holds. */
static uint64_t
server_uid_conns(uid_t uid)
{
	struct server_uid	*u = server_uid_find(uid);

	return u != NULL ? u->conns : 0;
}

/* One more connection of uid (root is not counted). */
static void
server_uid_add(uid_t uid)
{
	struct server_uid	*u;

	if (uid == 0)
		return;
	if ((u = server_uid_find(uid)) == NULL) {
		if (server_nuids == server_uids_cap) {
			server_uids_cap = server_uids_cap == 0 ? 8 :
			    server_uids_cap * 2;
			server_uids = xreallocarray(server_uids,
			    server_uids_cap, sizeof *server_uids);
		}
		u = &server_uids[server_nuids++];
		u->uid = uid;
		u->conns = 0;
	}
	u->conns++;
}

/* One connection of uid fewer; a uid with none leaves the array. */
static void
server_uid_del(uid_t uid)
{
	struct server_uid	*u;

	if (uid == 0 || (u = server_uid_find(uid)) == NULL)
		return;
	if (--u->conns == 0)
		*u = server_uids[--server_nuids];
}

/* Turn a client away with one error line, and close. */
static void
server_refuse(int fd, enum err_code code, const char *message)
{
	struct evbuffer	*evb;
	char		 drain[4096];
	int		 i;

	if ((evb = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	proto_write_error(evb, NULL, code, message);
	/* A fresh socket's buffer takes one short line: never blocks. */
	evbuffer_write(evb, fd);
	evbuffer_free(evb);
	/*
	 * Closing with unread input would reset the connection and could
	 * lose the line: discard what has arrived first, a bounded amount
	 * (a client that keeps writing must not hold the loop here).
	 */
	shutdown(fd, SHUT_WR);
	for (i = 0; i < 16 && read(fd, drain, sizeof drain) > 0; i++)
		;
	close(fd);
}

static void
server_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct conn	*c;
	struct peer	 peer;
	uint64_t	 max;
	char		*msg;

	(void)l;
	(void)sa;
	(void)len;
	(void)arg;
	peer_get(fd, &peer);
	if (status.conns_open >= server_cfg->limits.max_connections) {
		status.refused[STATUS_REFUSED_MAX_CONNECTIONS]++;
		log_limited(&server_refusal_limit, "refused pid %ld uid %ld"
		    " gid %ld: max_connections (%llu) reached", (long)peer.pid,
		    (long)peer.uid, (long)peer.gid, (unsigned long long)
		    server_cfg->limits.max_connections);
		msg = xasprintf("max_connections (%llu) reached",
		    (unsigned long long)server_cfg->limits.max_connections);
		server_refuse(fd, ERR_BUSY, msg);
		free(msg);
		return;
	}
	if (!peer_allowed(server_cfg, fd, &peer)) {
		status.refused[STATUS_REFUSED_FORBIDDEN]++;
		log_limited(&server_refusal_limit, "refused pid %ld uid %ld"
		    " gid %ld: not in allow_uids or allow_groups",
		    (long)peer.pid, (long)peer.uid, (long)peer.gid);
		msg = xasprintf("uid %ld (gid %ld) may not use gatherd:"
		    " not in allow_uids or allow_groups", (long)peer.uid,
		    (long)peer.gid);
		server_refuse(fd, ERR_FORBIDDEN, msg);
		free(msg);
		return;
	}
	max = server_cfg->limits.max_connections_per_uid;
	if (peer.uid != 0 && server_uid_conns(peer.uid) >= max) {
		status.refused[STATUS_REFUSED_PER_UID]++;
		log_limited(&server_refusal_limit, "refused pid %ld uid %ld"
		    " gid %ld: max_connections_per_uid (%llu) reached",
		    (long)peer.pid, (long)peer.uid, (long)peer.gid,
		    (unsigned long long)max);
		msg = xasprintf("max_connections_per_uid (%llu) reached: uid"
		    " %ld holds as many connections",
		    (unsigned long long)max, (long)peer.uid);
		server_refuse(fd, ERR_BUSY, msg);
		free(msg);
		return;
	}
	c = conn_new(fd, server_next_id++, &peer);
	TAILQ_INSERT_TAIL(&server_conns, c, entry);
	server_uid_add(c->uid);
}

static void
server_accept_retry(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (server_listener != NULL)
		evconnlistener_enable(server_listener);
}

/* accept failed (out of descriptors, most likely): pause, then retry. */
static void
server_accept_error(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = { 0, SERVER_ACCEPT_RETRY_MS * 1000 };

	(void)arg;
	log_warn("accept");
	evconnlistener_disable(l);
	evtimer_add(server_accept_timer, &tv);
}

/* Close the listener so new clients are refused at once. */
static void
server_unlisten(void)
{
	struct stat	sb;

	if (server_listener != NULL) {
		evconnlistener_free(server_listener);
		server_listener = NULL;
	}
	if (server_path != NULL) {
		/* Only remove the file if it is still ours. */
		if (lstat(server_path, &sb) == 0 && sb.st_ino == server_ino)
			unlink(server_path);
		free(server_path);
		server_path = NULL;
	}
	/* A new daemon may take the path while this one drains. */
	if (server_lockfd != -1) {
		close(server_lockfd);
		server_lockfd = -1;
	}
}

static void
server_cancel_all(const char *why)
{
	struct conn	*c;
	struct batch	*b;

	TAILQ_FOREACH(c, &server_conns, entry) {
		while ((b = TAILQ_FIRST(&c->batches)) != NULL)
			batch_cancel(b, ERR_CANCELLED, why);
	}
}

static void
server_drain_timeout(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	log_info("shutdown timeout: cancelling %llu batches",
	    (unsigned long long)status.batches_in_flight);
	server_cancel_all("cancelled: gatherd is shutting down");
}

/*
 * While stopping, every SERVER_FLUSH_GRACE_MS: close the connections that
 * took none of their output since the last look (a client that never
 * reads), or every one once shutdown_timeout_ms has passed since stopping
 * began. One that reads, slowly or not, gets its replies whole.
 */
static void
server_flush_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c, *next;
	int		 all;

	(void)fd;
	(void)events;
	(void)arg;
	all = clock_ms(server_stop_ns, clock_ns()) >=
	    (double)server_cfg->shutdown_timeout_ms;
	for (c = TAILQ_FIRST(&server_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (all || c->budget.output >= c->flush_mark)
			conn_close(c);
		else
			c->flush_mark = c->budget.output;
	}
}

/* Close every connection now, flushed or not. */
static void
server_close_all(void)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&server_conns)) != NULL)
		conn_close(c);
}

static void
server_signal(evutil_socket_t sig, short events, void *arg)
{
	struct timeval	tv;

	(void)events;
	(void)arg;
	if (sig == SIGHUP) {
		if (server_draining)
			log_info("SIGHUP: shutting down, not reloading");
		else
			reload_start();
		return;
	}
	if (server_draining) {
		log_info("signal %d again: cancelling now", (int)sig);
		server_cancel_all("cancelled: gatherd is shutting down");
		if (server_stopping)
			server_close_all();
		return;
	}
	server_draining = 1;
	notify_stopping();
	log_info("signal %d: shutting down, %llu batches in flight", (int)sig,
	    (unsigned long long)status.batches_in_flight);
	server_unlisten();
	if (status.batches_in_flight == 0) {
		server_stop();
		return;
	}
	tv.tv_sec = (time_t)(server_cfg->shutdown_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(server_cfg->shutdown_timeout_ms % 1000) *
	    1000;
	evtimer_add(server_drain_timer, &tv);
}

/* No batch is left: close connections as their output flushes. */
static void
server_stop(void)
{
	struct timeval	 tv = { SERVER_FLUSH_GRACE_MS / 1000,
	    (SERVER_FLUSH_GRACE_MS % 1000) * 1000 };
	struct conn	*c, *next;

	if (server_stopping)
		return;
	server_stopping = 1;
	server_stop_ns = clock_ns();
	evtimer_del(server_drain_timer);
	for (c = TAILQ_FIRST(&server_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_final_read(c);
		conn_drain_check(c);
	}
	TAILQ_FOREACH(c, &server_conns, entry)
		c->flush_mark = c->budget.output;
	if (TAILQ_EMPTY(&server_conns))
		event_base_loopbreak(server_base);
	else
		evtimer_add(server_flush_timer, &tv);
}

static void
server_stop_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (status.batches_in_flight == 0)
		server_stop();
}

/*
 * A batch finished; while draining, the last one ends the drain. Not here:
 * a batch ends deep in some connection's request (a cancel) or callback,
 * and server_stop() reads and closes connections; it runs from the loop.
 */
void
server_batch_finished(void)
{
	if (server_draining && status.batches_in_flight == 0)
		event_active(server_stopper, EV_TIMEOUT, 0);
}

static void
server_reap(evutil_socket_t fd, short events, void *arg)
{
	struct conn	*c;

	(void)fd;
	(void)events;
	(void)arg;
	while ((c = TAILQ_FIRST(&server_dead)) != NULL) {
		TAILQ_REMOVE(&server_dead, c, entry);
		free(c);
	}
}

/*
 * A connection closed. Its struct is freed from the loop, never under a
 * callback that may still hold it.
 */
void
server_conn_closed(struct conn *c)
{
	TAILQ_REMOVE(&server_conns, c, entry);
	TAILQ_INSERT_TAIL(&server_dead, c, entry);
	server_uid_del(c->uid);
	event_active(server_reaper, EV_TIMEOUT, 0);
	if (server_stopping && TAILQ_EMPTY(&server_conns))
		event_base_loopbreak(server_base);
}

/*
 * Whether a request on connection who may see and cancel the batches of
 * connection d: its own uid's, or everyone's for root.
 */
static int
server_may_reach(const struct conn *who, const struct conn *d)
{
	return who->uid == 0 || who->uid == d->uid;
}

/*
 * Cancel the in-flight batches whose id equals target (as JSON values;
 * NULL: every batch) on connection which (CANCEL_OWN: c, CANCEL_ANY:
 * all), among those c may reach. Returns how many.
 */
unsigned
server_cancel(struct conn *c, const json_t *target, int64_t which)
{
	struct conn	 *d;
	struct batch	 *b, **found = NULL;
	size_t		  n = 0, cap = 0, i;

	TAILQ_FOREACH(d, &server_conns, entry) {
		if ((which == CANCEL_OWN && d != c) ||
		    (which >= 0 && d->id != (uint64_t)which) ||
		    !server_may_reach(c, d))
			continue;
		TAILQ_FOREACH(b, &d->batches, entry) {
			if (target != NULL && !json_equal(b->id,
			    (json_t *)target))
				continue;
			if (n == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				found = xreallocarray(found, cap, sizeof *found);
			}
			found[n++] = b;
		}
	}
	/* Cancelling one batch never ends another, so found stays valid. */
	for (i = 0; i < n; i++)
		batch_cancel(found[i], ERR_CANCELLED, "cancelled by request");
	free(found);
	return (unsigned)n;
}

/*
 * status detail: one entry per batch in flight that who may reach, its
 * connection's number first, then what the batch says of itself.
 */
json_t *
server_batch_list(const struct conn *who)
{
	struct conn	*c;
	struct batch	*b;
	json_t		*list = json_array(), *entry;
	uint64_t	 now = clock_ns();

	TAILQ_FOREACH(c, &server_conns, entry) {
		if (!server_may_reach(who, c))
			continue;
		TAILQ_FOREACH(b, &c->batches, entry) {
			entry = json_pack("{s:I}", "conn", (json_int_t)c->id);
			batch_status(b, entry, now);
			json_array_append_new(list, entry);
		}
	}
	return list;
}

/*
 * status detail: one entry per connection who may reach (itself among
 * them): its number, peer pid and uid, batches in flight and age.
 */
json_t *
server_conn_list(const struct conn *who)
{
	struct conn	*c;
	json_t		*list = json_array();
	uint64_t	 now = clock_ns();

	TAILQ_FOREACH(c, &server_conns, entry) {
		if (!server_may_reach(who, c))
			continue;
		json_array_append_new(list, json_pack(
		    "{s:I, s:I, s:I, s:I, s:f}",
		    "conn", (json_int_t)c->id,
		    "pid", (json_int_t)c->pid,
		    "uid", (json_int_t)c->uid,
		    "batches", (json_int_t)c->nbatches,
		    "age_ms", clock_ms(c->start_ns, now)));
	}
	return list;
}

static struct event *
server_timer(event_callback_fn cb)
{
	struct event	*ev;

	if ((ev = evtimer_new(server_base, cb, NULL)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	return ev;
}

/*
 * max_connections as the descriptor limit allows: each connection is a
 * descriptor, and the listener, the loop, the workers' open files and
 * the job types' own (the databases) need some besides. A configured
 * value above that is lowered, with a warning, so status reports what is
 * enforced.
 */
static void
server_cap_connections(struct config *cfg)
{
	struct rlimit	rl;
	uint64_t	reserve, max;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return;
	/* A read open on each worker; the job types' own (databases). */
	reserve = SERVER_FDS_RESERVED + 2 * (uint64_t)cfg->threads;
	reserve += job_types_fds(cfg);
	max = rl.rlim_cur > reserve + 1 ? rl.rlim_cur - reserve : 1;
	if (cfg->limits.max_connections > max) {
		log_warnx("max_connections %llu: the descriptor limit (%llu)"
		    " allows %llu", (unsigned long long)
		    cfg->limits.max_connections,
		    (unsigned long long)rl.rlim_cur, (unsigned long long)max);
		cfg->limits.max_connections = max;
	}
}

/*
 * Put snap in force for new connections and batches (the server takes the
 * reference); batches already parsed keep theirs.
 */
void
server_set_snapshot(struct snapshot *snap)
{
	struct snapshot	*old = server_snap;

	server_cap_connections(&snap->cfg);
	snapshot_attach(snap);
	server_snap = snap;
	server_cfg = &snap->cfg;
	snapshot_unref(old);
}

/*
 * Create the loop and listen on the socket of snap's configuration, with
 * snap in force (the server takes the reference). Returns 0, or -1 with
 * *cause saying what went wrong.
 */
int
server_init(struct snapshot *snap, char **cause)
{
	struct event_config	*ecfg;
	const char		*path = snap->cfg.socket;
	int			 fd, activated = 0;
	/*
	 * Precise timers: libevent's default coarse clock lets a sleep fire
	 * up to a few milliseconds early, and sleep must never be short.
	 *
	 * The epoll changelist: the changes of a pass are made once, before
	 * the next epoll_wait, so a socket removed and watched again in one
	 * pass (an HTTP connection between two requests, a client paused
	 * and resumed) costs one epoll_ctl, not two. libevent's one condition
	 * is that no descriptor the loop watches shares its open file with
	 * another still open when it is closed (a dup, a fork), or epoll
	 * keeps watching it: gatherd neither dups nor forks, and systemd's
	 * listening socket, which systemd holds too, stays open until the
	 * loop is gone (server_free).
	 */
	if ((ecfg = event_config_new()) == NULL)
		fatalx("%s: event_config_new failed", __func__);
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	server_base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (server_base == NULL) {
		*cause = xstrdup("cannot create the event loop");
		return -1;
	}
	/*
	 * Signals first: a SIGTERM that arrives as soon as the socket accepts
	 * must find the handler, not the default action.
	 */
	server_sigint = evsignal_new(server_base, SIGINT, server_signal, NULL);
	server_sigterm = evsignal_new(server_base, SIGTERM, server_signal, NULL);
	server_sighup = evsignal_new(server_base, SIGHUP, server_signal, NULL);
	if (server_sigint == NULL || server_sigterm == NULL ||
	    server_sighup == NULL)
		fatalx("%s: evsignal_new failed", __func__);
	evsignal_add(server_sigint, NULL);
	evsignal_add(server_sigterm, NULL);
	evsignal_add(server_sighup, NULL);
	job_types_init(server_base);
	server_set_snapshot(snap);
	if (server_activated(&fd, cause) == -1)
		return -1;
	activated = fd != -1;
	if (!activated) {
		if ((fd = server_bind(path, snap->cfg.socket_mode,
		    cause)) == -1)
			return -1;
		server_path = xstrdup(path);
	}
	if (pool_init(server_base, snap->cfg.threads, cause) == -1 ||
	    parser_init(server_base, cause) == -1 ||
	    metrics_listen(server_base, &snap->cfg, cause) == -1)
		goto fail;
	server_listener = evconnlistener_new(server_base, server_accept, NULL,
	    (activated ? 0 : LEV_OPT_CLOSE_ON_FREE) | LEV_OPT_CLOSE_ON_EXEC, 0,
	    fd);
	if (server_listener == NULL) {
		*cause = xasprintf("cannot listen on %s", path);
		goto fail;
	}
	if (activated)
		server_systemd_fd = fd;
	evconnlistener_set_error_cb(server_listener, server_accept_error);
	server_drain_timer = server_timer(server_drain_timeout);
	server_flush_timer = event_new(server_base, -1, EV_PERSIST,
	    server_flush_timeout, NULL);
	if (server_flush_timer == NULL)
		fatalx("%s: event_new failed", __func__);
	server_accept_timer = server_timer(server_accept_retry);
	conn_flush_init(server_base);
	batch_init(server_base);
	job_init(server_base);
	server_reaper = event_new(server_base, -1, 0, server_reap, NULL);
	server_stopper = event_new(server_base, -1, 0, server_stop_cb, NULL);
	if (server_reaper == NULL || server_stopper == NULL)
		fatalx("%s: event_new failed", __func__);
	status_init();
	if (activated)
		server_log_activated(fd);
	else
		log_info("listening on %s", path);
	return 0;
fail:
	/* server_free's server_unlisten removes the file if it is ours. */
	close(fd);
	return -1;
}

/* Run the loop until shutdown completes. */
void
server_run(void)
{
	event_base_dispatch(server_base);
}

/* Free everything the server holds. */
void
server_free(void)
{
	sigset_t	 set;

	if (server_base == NULL)
		return;
	server_cancel_all("cancelled: gatherd is shutting down");
	server_close_all();
	server_reap(-1, 0, NULL);
	free(server_uids);
	server_uids = NULL;
	server_nuids = server_uids_cap = 0;
	server_unlisten();
	pool_free();
	parser_free();
	metrics_free();
	conn_flush_free();
	reload_free();
	snapshot_unref(server_snap);
	server_snap = NULL;
	server_cfg = NULL;
	job_types_fini();
	job_fini();
	/*
	 * Freeing the signal events puts back the default actions, and a
	 * SIGTERM then would kill us instead of letting us exit 0: block the
	 * signals first, ignore them after (libevent restores on free).
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (server_sigint != NULL)
		event_free(server_sigint);
	if (server_sigterm != NULL)
		event_free(server_sigterm);
	if (server_sighup != NULL)
		event_free(server_sighup);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (server_drain_timer != NULL) {
		event_free(server_drain_timer);
		event_free(server_flush_timer);
		event_free(server_accept_timer);
		event_free(server_reaper);
		event_free(server_stopper);
	}
	event_base_free(server_base);
	server_base = NULL;
	if (server_systemd_fd != -1) {
		close(server_systemd_fd);
		server_systemd_fd = -1;
	}
}
