/*
 * A wakeup: an eventfd that other threads write to wake the loop, and the
 * event that watches it there. The worker pool, the parse thread and the
 * PostgreSQL cancel requests each hand their finished work back to the
 * loop through one: a thread puts its item on a locked done list and
 * kicks the wakeup only when that list was empty, so a burst costs one
 * wakeup; the callback, on the loop, takes the whole list.
 */
#ifndef GATHERD_WAKEUP_H
#define GATHERD_WAKEUP_H

struct event;
struct event_base;

struct wakeup {
	int		 fd;		/* the eventfd; -1 when closed */
	struct event	*ev;		/* watching fd on the loop */
	void		(*cb)(void);	/* on the loop, after kicks */
};

#define WAKEUP_INITIALIZER	{ -1, NULL, NULL }

int	wakeup_open(struct wakeup *, struct event_base *, void (*)(void),
	    char **);
void	wakeup_kick(struct wakeup *);
void	wakeup_close(struct wakeup *);

#endif
