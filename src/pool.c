/*
 * Worker thread pool. This file holds only what status needs today: no job
 * type blocks yet (sleep is a timer on the loop), so there are no workers.
 */

#include <string.h>

#include "pool.h"

/* Current pool figures for status. */
void
pool_stats(struct pool_stats *ps)
{
	memset(ps, 0, sizeof *ps);
}
