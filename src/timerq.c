/*
 * Timer queues. The heap is an array of 16-byte entries so that sifting
 * touches contiguous memory; each node knows its slot, so removing one is
 * O(log n). Deadlines added in increasing order (the common case: the
 * same sleep started for a whole batch) stay at the bottom at no cost.
 */

#include <stdlib.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "timerq.h"
#include "xmalloc.h"

/* Put entry e at slot i (0-based) and tell its node. */
static inline void
timerq_set(struct timerq *q, uint32_t i, struct timerq_entry e)
{
	q->heap[i] = e;
	e.node->slot = i + 1;
}

static void
timerq_up(struct timerq *q, uint32_t i, struct timerq_entry e)
{
	uint32_t	parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (q->heap[parent].at <= e.at)
			break;
		timerq_set(q, i, q->heap[parent]);
		i = parent;
	}
	timerq_set(q, i, e);
}

static void
timerq_down(struct timerq *q, uint32_t i, struct timerq_entry e)
{
	uint32_t	child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= q->n)
			break;
		if (child + 1 < q->n && q->heap[child + 1].at < q->heap[child].at)
			child++;
		if (e.at <= q->heap[child].at)
			break;
		timerq_set(q, i, q->heap[child]);
		i = child;
	}
	timerq_set(q, i, e);
}

/* Arm the timer for the earliest deadline, if it is not armed for it. */
static void
timerq_arm(struct timerq *q, uint64_t now)
{
	struct timeval	tv;
	uint64_t	at, ns;

	if (q->n == 0) {
		if (q->armed != 0) {
			event_del(q->ev);
			q->armed = 0;
		}
		return;
	}
	at = q->heap[0].at;
	if (q->armed == at)
		return;
	/*
	 * Relative to now, rounded up to the microsecond. libevent counts
	 * from its cached time, which may be a little older than now: then
	 * the timer fires early, and timerq_run() re-arms for the rest.
	 */
	ns = at > now ? at - now : 0;
	tv.tv_sec = (time_t)(ns / 1000000000u);
	tv.tv_usec = (suseconds_t)((ns % 1000000000u + 999) / 1000);
	if (tv.tv_usec == 1000000) {
		tv.tv_sec++;
		tv.tv_usec = 0;
	}
	event_add(q->ev, &tv);
	q->armed = at;
}

/* The timer: fire what is due, in deadline order, a burst at a time. */
static void
timerq_run(evutil_socket_t fd, short events, void *arg)
{
	struct timerq		*q = arg;
	struct timerq_node	*node;
	uint64_t		 now = clock_ns();
	unsigned		 fired = 0;

	(void)fd;
	(void)events;
	q->armed = 0;
	q->bursting = 0;
	while (q->n > 0 && q->heap[0].at <= now) {
		if (fired++ == TIMERQ_BURST) {
			/* Let the loop breathe, then go on at once. */
			event_active(q->ev, EV_TIMEOUT, 0);
			q->bursting = 1;
			return;
		}
		node = q->heap[0].node;
		timerq_del(q, node);
		/* May add and delete nodes: the heap is read afresh. */
		q->fire(node);
	}
	timerq_arm(q, now);
}

/* An empty queue whose nodes fire with fire(node), on base's loop. */
void
timerq_init(struct timerq *q, struct event_base *base,
    void (*fire)(struct timerq_node *))
{
	q->heap = NULL;
	q->n = q->cap = 0;
	q->armed = 0;
	q->bursting = 0;
	q->fire = fire;
	if ((q->ev = evtimer_new(base, timerq_run, q)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
}

/* Free the queue; its nodes are forgotten, not fired. */
void
timerq_free(struct timerq *q)
{
	uint32_t	i;

	for (i = 0; i < q->n; i++)
		q->heap[i].node->slot = 0;
	free(q->heap);
	q->heap = NULL;
	q->n = q->cap = 0;
	if (q->ev != NULL) {
		event_free(q->ev);
		q->ev = NULL;
	}
}

/* Fire node at deadline at (clock_ns()); it must not be queued. */
void
timerq_add(struct timerq *q, struct timerq_node *node, uint64_t at)
{
	struct timerq_entry	e = { at, node };

	if (q->n == q->cap) {
		q->cap = q->cap == 0 ? 64 : q->cap * 2;
		q->heap = xreallocarray(q->heap, q->cap, sizeof *q->heap);
	}
	q->n++;
	timerq_up(q, q->n - 1, e);
	if (node->slot == 1 && !q->bursting)
		timerq_arm(q, clock_ns());
}

/* Take node out of the queue, if it is in it. */
void
timerq_del(struct timerq *q, struct timerq_node *node)
{
	struct timerq_entry	last;
	uint32_t		i;

	if (node->slot == 0)
		return;
	i = node->slot - 1;
	node->slot = 0;
	last = q->heap[--q->n];
	if (i < q->n) {
		if (i > 0 && last.at < q->heap[(i - 1) / 2].at)
			timerq_up(q, i, last);
		else
			timerq_down(q, i, last);
	}
	/* Give back what a million sleeps took, once they are gone. */
	if (q->cap > 1024 && q->n < q->cap / 4) {
		q->cap /= 2;
		q->heap = xreallocarray(q->heap, q->cap, sizeof *q->heap);
	}
	/* The timer may now be early: timerq_run() re-arms then. */
}

/* The deadline node is queued for, or 0 when it is not queued. */
uint64_t
timerq_at(const struct timerq *q, const struct timerq_node *node)
{
	return node->slot == 0 ? 0 : q->heap[node->slot - 1].at;
}
