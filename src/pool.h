/*
 * The worker thread pool for blocking work (file reads, SQLite). Not built
 * yet: it comes with the read job type. Until then it has no threads, and
 * status reports exactly that.
 */
#ifndef GATHERD_POOL_H
#define GATHERD_POOL_H

#include <stdint.h>

struct pool_stats {
	uint64_t	threads;
	uint64_t	busy;
	uint64_t	queued;
};

void	pool_stats(struct pool_stats *);

#endif
