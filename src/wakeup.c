/*
 * Waking the loop from another thread (wakeup.h).
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "wakeup.h"
#include "xmalloc.h"

/* The eventfd is readable: reset its count and run the callback. */
static void
wakeup_read(evutil_socket_t fd, short events, void *arg)
{
	struct wakeup	*w = arg;
	uint64_t	 count;
	ssize_t		 n;

	(void)events;
	n = read(fd, &count, sizeof count);
	(void)n;
	w->cb();
}

/*
 * Open w and watch it on base's loop, where cb runs after kicks (one run
 * may answer several). Returns 0, or -1 with *cause set if there is no
 * eventfd.
 */
int
wakeup_open(struct wakeup *w, struct event_base *base, void (*cb)(void),
    char **cause)
{
	if ((w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		*cause = xasprintf("eventfd: %s", strerror(errno));
		return -1;
	}
	w->cb = cb;
	w->ev = event_new(base, w->fd, EV_READ | EV_PERSIST, wakeup_read, w);
	if (w->ev == NULL || event_add(w->ev, NULL) == -1)
		fatalx("%s: cannot watch the eventfd", __func__);
	return 0;
}

/* Wake the loop; any thread may call it. */
void
wakeup_kick(struct wakeup *w)
{
	uint64_t	one = 1;
	ssize_t		n;

	/* An eventfd write of 1 cannot block or fail short. */
	n = write(w->fd, &one, sizeof one);
	(void)n;
}

/* Stop watching and close w; nothing may kick it after. Idempotent. */
void
wakeup_close(struct wakeup *w)
{
	if (w->ev != NULL) {
		event_free(w->ev);
		w->ev = NULL;
	}
	if (w->fd != -1) {
		close(w->fd);
		w->fd = -1;
	}
}
