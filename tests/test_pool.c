/*
 * The worker pool on its own: real threads and a real event loop, work
 * items that record the order they run in. With one worker the order is
 * exact, so the tests assert positions: round-robin between owners, FIFO
 * within one, cancelled items never run and leave no owner behind.
 */

#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "pool.h"

struct item {
	struct pool_work	 pw;
	char			 who;
	int			 seq;
	int			 gate;		/* wait for the gate first */
	int			 cancelled;
};

static struct event_base	*base;
static sem_t			 gate;
static pthread_mutex_t		 order_lock = PTHREAD_MUTEX_INITIALIZER;
static char			 order[4096];	/* who, in the order run */
static int			 seqs[4096];
static int			 norder;
static int			 ncomplete, nexpected;

static void
item_run(struct pool_work *pw)
{
	struct item	*it = (struct item *)pw;

	if (it->gate)
		sem_wait(&gate);
	pthread_mutex_lock(&order_lock);
	seqs[norder] = it->seq;
	order[norder++] = it->who;
	pthread_mutex_unlock(&order_lock);
}

static void
item_complete(struct pool_work *pw, int abandoned)
{
	struct item	*it = (struct item *)pw;

	cr_assert_not(abandoned);
	cr_assert_not(it->cancelled, "a cancelled item completed");
	free(it);
	if (++ncomplete == nexpected)
		event_base_loopbreak(base);
}

static struct item *
submit(char who, int seq, int gated)
{
	struct item	*it = calloc(1, sizeof *it);

	cr_assert_not_null(it);
	it->pw.run = item_run;
	it->pw.complete = item_complete;
	it->who = who;
	it->seq = seq;
	it->gate = gated;
	/* The owner is any stable pointer: here, the static name. */
	pool_submit(&it->pw, &order[(unsigned char)who % 64 + 4000]);
	return it;
}

static void
setup(unsigned threads)
{
	char	*cause = NULL;

	cr_assert_not_null(base = event_base_new());
	cr_assert_eq(sem_init(&gate, 0, 0), 0);
	cr_assert_eq(pool_init(base, threads, &cause), 0, "%s", cause);
	norder = ncomplete = 0;
}

/* Open the gate and run the loop until nexpected items completed. */
static void
run(void)
{
	struct pool_stats	ps;

	sem_post(&gate);
	event_base_dispatch(base);
	cr_assert_eq(ncomplete, nexpected);
	pool_stats(&ps);
	cr_assert_eq(ps.queued, 0);
	cr_assert_eq(ps.busy, 0);
	pool_free();
	event_base_free(base);
	sem_destroy(&gate);
}

TestSuite(pool, .timeout = 60);

/*
 * One worker: A's first item holds it at the gate, A queues 40 more, then
 * B and C one each. Two of A's are handed over before B and C arrive
 * (the hand-over queue holds two per thread); after that the owners take
 * turns. FIFO would run B 41st.
 */
Test(pool, owners_take_turns)
{
	int	i;

	setup(1);
	nexpected = 43;
	submit('A', 0, 1);
	for (i = 1; i <= 40; i++)
		submit('A', i, 0);
	submit('B', 0, 0);
	submit('C', 0, 0);
	run();
	order[norder] = '\0';
	cr_assert_eq(strncmp(order, "AAABCAAA", 8), 0, "run order %s", order);
	/* Each owner's items in the order submitted. */
	for (i = 0; i < norder; i++) {
		if (order[i] == 'A')
			cr_assert_leq(seqs[i], i, "A's item %d ran %dth", seqs[i],
			    i);
	}
	for (i = 1; i < norder; i++) {
		if (order[i] == 'A' && order[i - 1] == 'A')
			cr_assert_eq(seqs[i], seqs[i - 1] + 1, "%s", order);
	}
}

/* Three owners with many items each: strictly alternating after the start. */
Test(pool, many_items_interleave)
{
	int	i;

	setup(1);
	nexpected = 1 + 3 * 20;
	submit('G', 0, 1);
	for (i = 0; i < 20; i++)
		submit('A', i, 0);
	for (i = 0; i < 20; i++)
		submit('B', i, 0);
	for (i = 0; i < 20; i++)
		submit('C', i, 0);
	run();
	order[norder] = '\0';
	/* G, then A's first (handed before the gate opened), then turns. */
	cr_assert_eq(strncmp(order, "GAABCABCABC", 11), 0, "run order %s",
	    order);
}

/*
 * A cancelled item never runs and its owner, once empty, is gone: the
 * next item of the same owner starts a fresh queue at the end of the
 * ring.
 */
Test(pool, cancelled_items_never_run)
{
	struct item	*a[6];
	int		 i, n = 0;

	setup(1);
	submit('G', 0, 1);
	for (i = 0; i < 6; i++)
		a[i] = submit('A', i, 0);
	submit('B', 0, 0);
	/* a[0] was handed over with the gate item: too late to unlink. */
	for (i = 1; i < 6; i++) {
		cr_assert_eq(pool_cancel(&a[i]->pw), 1);
		free(a[i]);
	}
	submit('A', 6, 0);
	nexpected = 4;
	run();
	order[norder] = '\0';
	cr_assert_str_eq(order, "GABA", "run order %s", order);
	for (i = 0; i < norder; i++)
		n += order[i] == 'A' && seqs[i] >= 1 && seqs[i] <= 5;
	cr_assert_eq(n, 0, "a cancelled item ran");
}

/*
 * Thousands of owners (the hash table grows), one item each, and one
 * owner with 500: each owner gets a turn before A's third, so the 3,000
 * run among the first items, whatever A queued first.
 */
Test(pool, thousands_of_owners)
{
	static char	 owners[3000];
	struct item	*it;
	int		 i, a = 0;

	setup(2);
	nexpected = 3000 + 500 + 1;
	submit('G', 0, 1);
	for (i = 0; i < 500; i++)
		submit('A', i, 0);
	for (i = 0; i < 3000; i++) {
		it = calloc(1, sizeof *it);
		cr_assert_not_null(it);
		it->pw.run = item_run;
		it->pw.complete = item_complete;
		it->who = 'o';
		it->seq = i;
		pool_submit(&it->pw, &owners[i]);
	}
	run();
	for (i = 0; i < 3005; i++)
		a += order[i] == 'A';
	cr_assert_leq(a, 6, "A ran %d of the first 3005 items", a);
}
