/*
 * A timer queue: many deadlines on one libevent timer. A binary min-heap
 * of (deadline, node) pairs; the timer is armed for the earliest. This is
 * what a million sleeping jobs cost 16 bytes each in, instead of a struct
 * event (128 bytes) and a slot of libevent's heap each.
 *
 * A node fires on the loop, never before its deadline (CLOCK_MONOTONIC).
 * When many deadlines pass at once they fire in deadline order, at most
 * TIMERQ_BURST per run of the loop, so other events (a ping) are not kept
 * waiting behind a million expiries.
 */
#ifndef GATHERD_TIMERQ_H
#define GATHERD_TIMERQ_H

#include <stdint.h>

struct event;
struct event_base;

#define TIMERQ_BURST	4096

struct timerq_node {
	uint32_t	slot;		/* heap index + 1; 0: not queued */
};

struct timerq_entry {
	uint64_t		 at;	/* deadline, clock_ns() */
	struct timerq_node	*node;
};

struct timerq {
	struct timerq_entry	*heap;		/* owned, n of cap used */
	uint32_t		 n;
	uint32_t		 cap;
	uint64_t		 armed;		/* the timer's deadline; 0: none */
	int			 bursting;	/* the timer is active: run again */
	struct event		*ev;		/* owned */
	void			(*fire)(struct timerq_node *);
};

void	timerq_init(struct timerq *, struct event_base *,
	    void (*)(struct timerq_node *));
void	timerq_free(struct timerq *);
void	timerq_add(struct timerq *, struct timerq_node *, uint64_t);
void	timerq_del(struct timerq *, struct timerq_node *);
uint64_t timerq_at(const struct timerq *, const struct timerq_node *);

#endif
