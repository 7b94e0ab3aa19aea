/*
 * Log-linear histogram. Values below HIST_SUB have a bucket each; above,
 * each power of two [2^e, 2^(e+1)) is split into HIST_SUB equal buckets.
 */

#include "hist.h"

/* The bucket that holds value v. */
unsigned
hist_bucket(uint64_t v)
{
	unsigned	e;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* e >= HIST_SUB_BITS */
	return (e - HIST_SUB_BITS + 1) * HIST_SUB +
	    (unsigned)((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The largest value that falls into bucket b. */
uint64_t
hist_bucket_high(unsigned b)
{
	unsigned	e, sub;
	uint64_t	width;

	if (b < HIST_SUB)
		return b;
	e = b / HIST_SUB + HIST_SUB_BITS - 1;
	sub = b % HIST_SUB;
	width = (uint64_t)1 << (e - HIST_SUB_BITS);
	return ((uint64_t)(HIST_SUB + sub) << (e - HIST_SUB_BITS)) + width - 1;
}

/* Count one sample of v microseconds. */
void
hist_record(struct hist *h, uint64_t v)
{
	unsigned	b = hist_bucket(v);

	h->buckets[b]++;
	h->sums[b] += v;
	h->count++;
	if (v > h->max_us)
		h->max_us = v;
}

/*
 * The value at or below which a fraction p (0..1) of the samples fall,
 * estimated as the mean of the samples in the bucket that holds that rank
 * (within the bucket's 3%). 0 when empty.
 */
uint64_t
hist_percentile(const struct hist *h, double p)
{
	uint64_t	rank, seen = 0;
	unsigned	b;

	if (h->count == 0)
		return 0;
	if (p <= 0)
		p = 0;
	if (p >= 1)
		return h->max_us;
	rank = (uint64_t)(p * (double)h->count);
	if ((double)rank < p * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (b = 0; b < HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank)
			return h->sums[b] / h->buckets[b];
	}
	return h->max_us;
}

/* Add the samples of src to dst, as if each had been recorded there. */
void
hist_add(struct hist *dst, const struct hist *src)
{
	unsigned	b;

	if (src->count == 0)
		return;
	for (b = 0; b < HIST_BUCKETS; b++) {
		dst->buckets[b] += src->buckets[b];
		dst->sums[b] += src->sums[b];
	}
	dst->count += src->count;
	if (src->max_us > dst->max_us)
		dst->max_us = src->max_us;
}
