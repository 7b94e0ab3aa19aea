/*
 * Reloading the configuration on SIGHUP, as systemd expects of an
 * ExecReload= that sends it: RELOADING=1 (with MONOTONIC_USEC=), the new
 * configuration put in force, READY=1.
 *
 * Reading the file, looking up user and group names and opening the read
 * roots are disk I/O, so they run on a thread of their own (not the worker
 * pool, which may be busy for minutes); the thread sends the result back
 * through a pipe and the loop puts it in force. An invalid configuration is
 * logged and the one in force kept. The settings only a restart can change
 * (socket, socket_mode, threads) keep their running values, with a warning
 * if the file changed them. Batches already parsed keep the snapshot they
 * started with. A SIGHUP during a reload queues one more.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "server.h"
#include "snapshot.h"
#include "xmalloc.h"

/* What the thread hands the loop. */
struct reload_result {
	struct snapshot	*snap;		/* owned, or NULL */
	char		*cause;		/* owned: why not, if snap is NULL */
};

static struct config_args	 reload_args;	/* borrowed from main */
static int			 reload_pipe[2] = { -1, -1 };
static struct event		*reload_event;
static pthread_t		 reload_thread;
static int			 reload_running;	/* the thread exists */
static int			 reload_again;		/* SIGHUP meanwhile */

/* On the thread: load the configuration and open what it names. */
static void *
reload_run(void *arg)
{
	struct reload_result	*r;
	struct config		 cfg;
	ssize_t			 n;

	(void)arg;
	r = xcalloc(1, sizeof *r);
	if (config_build(&cfg, &reload_args, &r->cause) == 0)
		r->snap = snapshot_new(&cfg, &r->cause);
	/* A pointer is less than PIPE_BUF: written whole or not at all. */
	do {
		n = write(reload_pipe[1], &r, sizeof r);
	} while (n == -1 && errno == EINTR);
	if (n != sizeof r)
		fatal("%s: write", __func__);
	return NULL;
}

/* A restart-only setting changed: keep the running one, and say so. */
static void
reload_keep(struct config *cfg, const struct config *old)
{
	if (strcmp(cfg->socket, old->socket) != 0) {
		log_warnx("reload: socket changed to %s: takes effect at the"
		    " next restart", cfg->socket);
		free(cfg->socket);
		cfg->socket = xstrdup(old->socket);
	}
	if (cfg->socket_mode != old->socket_mode) {
		log_warnx("reload: socket_mode changed to %04o: takes effect"
		    " at the next restart", (unsigned)cfg->socket_mode);
		cfg->socket_mode = old->socket_mode;
	}
	if ((cfg->metrics_listen == NULL) != (old->metrics_listen == NULL) ||
	    (cfg->metrics_listen != NULL &&
	    strcmp(cfg->metrics_listen, old->metrics_listen) != 0)) {
		log_warnx("reload: [metrics] listen changed to %s: takes"
		    " effect at the next restart", cfg->metrics_listen != NULL ?
		    cfg->metrics_listen : "nothing (off)");
		free(cfg->metrics_listen);
		cfg->metrics_listen = old->metrics_listen != NULL ?
		    xstrdup(old->metrics_listen) : NULL;
	}
	if (cfg->threads != old->threads) {
		log_warnx("reload: threads changed to %u: takes effect at the"
		    " next restart", cfg->threads);
		cfg->threads = old->threads;
	}
}

/* On the loop: the thread is done; put its result in force. */
static void
reload_done(evutil_socket_t fd, short events, void *arg)
{
	struct reload_result	*r;
	ssize_t			 n;

	(void)events;
	(void)arg;
	n = read(fd, &r, sizeof r);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != sizeof r)
		fatal("%s: read", __func__);
	pthread_join(reload_thread, NULL);
	reload_running = 0;
	if (r->snap == NULL) {
		log_warnx("reload: %s; keeping the configuration in force",
		    r->cause);
	} else {
		reload_keep(&r->snap->cfg, server_cfg);
		log_set_level(r->snap->cfg.log_level);
		server_set_snapshot(r->snap);
		log_info("reloaded %s", server_cfg->file != NULL ?
		    server_cfg->file : "the built-in defaults");
	}
	free(r->cause);
	free(r);
	/* After STOPPING=1 (SIGTERM during the reload), no more READY=1. */
	if (!server_draining)
		notify_ready();
	if (reload_again && !server_draining) {
		reload_again = 0;
		reload_start();
	}
}

/* Get ready to reload with these command-line settings (kept borrowed). */
void
reload_init(struct event_base *base, const struct config_args *args)
{
	reload_args = *args;
	if (pipe2(reload_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("%s: pipe2", __func__);
	reload_event = event_new(base, reload_pipe[0], EV_READ | EV_PERSIST,
	    reload_done, NULL);
	if (reload_event == NULL || event_add(reload_event, NULL) == -1)
		fatalx("%s: cannot watch the pipe", __func__);
}

/* SIGHUP: start a reload, or queue one if one is running. */
void
reload_start(void)
{
	if (reload_event == NULL)
		return;
	if (reload_running) {
		reload_again = 1;
		return;
	}
	notify_reloading();
	log_info("SIGHUP: reloading the configuration");
	if ((errno = pthread_create(&reload_thread, NULL, reload_run,
	    NULL)) != 0) {
		log_warn("reload: pthread_create");
		notify_ready();
		return;
	}
	reload_running = 1;
}

/* Wait for a reload under way, drop its result, and free the rest. */
void
reload_free(void)
{
	struct reload_result	*r;

	if (reload_running) {
		pthread_join(reload_thread, NULL);
		reload_running = 0;
		if (read(reload_pipe[0], &r, sizeof r) == sizeof r) {
			snapshot_unref(r->snap);
			free(r->cause);
			free(r);
		}
	}
	if (reload_event != NULL) {
		event_free(reload_event);
		reload_event = NULL;
	}
	if (reload_pipe[0] != -1) {
		close(reload_pipe[0]);
		close(reload_pipe[1]);
		reload_pipe[0] = reload_pipe[1] = -1;
	}
}
