/*
 * A fixed-size latency histogram: log-linear buckets over microseconds
 * (32 sub-buckets per power of two, so any percentile is within about 3%),
 * no per-sample storage, O(1) to record. Each bucket also sums its samples,
 * so a percentile is the mean of its bucket: exact when the samples there
 * are equal (a batch of 500 ms sleeps reports 500 ms, not a bucket edge).
 */
#ifndef GATHERD_HIST_H
#define GATHERD_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	5
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_BUCKETS	((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t	count;
	uint64_t	max_us;
	uint64_t	buckets[HIST_BUCKETS];
	uint64_t	sums[HIST_BUCKETS];
};

void		hist_record(struct hist *, uint64_t);
void		hist_add(struct hist *, const struct hist *);
uint64_t	hist_percentile(const struct hist *, double);
unsigned	hist_bucket(uint64_t);
uint64_t	hist_bucket_high(unsigned);

#endif
