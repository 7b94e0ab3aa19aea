/*
 * The timer queue on a real libevent loop: deadlines fire in order and
 * never early, deleted nodes never fire, nodes added and deleted from a
 * firing callback behave, and a burst of expiries lets other events in.
 */

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include <event2/event.h>

#include "clock.h"
#include "timerq.h"

struct tnode {
	struct timerq_node	 node;
	uint64_t		 at;
	int			 fired;
	int			 deleted;
};

static struct event_base	*base;
static struct timerq		 q;
static uint64_t			 last_at;
static uint64_t			 nfired;
static int			 in_order = 1, early;
static uint64_t			 fired_before_other = UINT64_MAX;
static struct tnode		*chain;		/* add this one when the first fires */
static struct event		*other_ev;	/* activate when the first fires */

static void
fire(struct timerq_node *node)
{
	struct tnode	*t = (struct tnode *)node;

	if (clock_ns() < t->at)
		early++;
	if (t->at < last_at)
		in_order = 0;
	last_at = t->at;
	t->fired++;
	nfired++;
	if (other_ev != NULL && nfired == 1)
		event_active(other_ev, EV_TIMEOUT, 0);
	if (chain != NULL) {
		timerq_add(&q, &chain->node, clock_ns() + 1000000);
		chain = NULL;
	}
}

static void
setup(void)
{
	cr_assert_not_null(base = event_base_new());
	timerq_init(&q, base, fire);
	last_at = nfired = 0;
	in_order = 1;
	early = 0;
}

static void
teardown(void)
{
	timerq_free(&q);
	event_base_free(base);
}

TestSuite(timerq, .init = setup, .fini = teardown, .timeout = 30);

Test(timerq, random_deadlines_fire_in_order_and_never_early)
{
	enum { N = 20000 };
	struct tnode	*t = calloc(N, sizeof *t);
	uint64_t	 now = clock_ns();
	unsigned	 seed = 7, i, ndel = 0;

	cr_assert_not_null(t);
	for (i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		t[i].at = now + (seed >> 8) % 50000000u;	/* < 50 ms */
		timerq_add(&q, &t[i].node, t[i].at);
	}
	cr_assert_eq(q.n, N);
	/* Delete every third: from the middle, the end, the top. */
	for (i = 0; i < N; i += 3) {
		timerq_del(&q, &t[i].node);
		t[i].deleted = 1;
		ndel++;
	}
	timerq_del(&q, &t[0].node);	/* twice is harmless */
	cr_assert_eq(q.n, N - ndel);
	event_base_dispatch(base);
	cr_assert_eq(nfired, N - ndel);
	cr_assert(in_order, "deadlines fired out of order");
	cr_assert_eq(early, 0, "%d fired before their deadline", early);
	for (i = 0; i < N; i++)
		cr_assert_eq(t[i].fired, !t[i].deleted, "node %u", i);
	free(t);
}

Test(timerq, add_from_a_firing_callback)
{
	struct tnode	a = { 0 }, b = { 0 };

	a.at = clock_ns() + 2000000;
	timerq_add(&q, &a.node, a.at);
	chain = &b;
	b.at = clock_ns() + 1000000;	/* fire() adds it 1 ms after a */
	event_base_dispatch(base);
	cr_assert_eq(a.fired, 1);
	cr_assert_eq(b.fired, 1);
	cr_assert_eq(q.n, 0);
}

static void
other(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fired_before_other = nfired;
}

Test(timerq, a_burst_lets_other_events_in)
{
	enum { N = 3 * TIMERQ_BURST };
	struct tnode	*t = calloc(N, sizeof *t);
	uint64_t	 at = clock_ns() + 1000000;
	unsigned	 i;

	cr_assert_not_null(t);
	for (i = 0; i < N; i++) {
		t[i].at = at;
		timerq_add(&q, &t[i].node, at);
	}
	/* Another event becomes ready as the burst starts. */
	cr_assert_not_null(other_ev = event_new(base, -1, 0, other, NULL));
	event_base_dispatch(base);
	cr_assert_eq(nfired, N);
	cr_assert_leq(fired_before_other, TIMERQ_BURST, "the other event"
	    " waited for %llu of %d expiries",
	    (unsigned long long)fired_before_other, N);
	event_free(other_ev);
	other_ev = NULL;
	free(t);
}

Test(timerq, free_forgets_queued_nodes)
{
	struct tnode	a = { 0 };

	timerq_add(&q, &a.node, clock_ns() + 1000000000);
	timerq_free(&q);
	cr_assert_eq(a.node.slot, 0);
	timerq_init(&q, base, fire);
}
