/* The latency histogram: bucketing, percentiles, bounds. */

#include <criterion/criterion.h>
#include <string.h>

#include "hist.h"

/* Assert the median and the 99th percentile of h. */
static void
expect_p50_p99(const struct hist *h, uint64_t p50, uint64_t p99)
{
	cr_assert_eq(hist_percentile(h, 0.50), p50);
	cr_assert_eq(hist_percentile(h, 0.99), p99);
}

Test(hist, empty_is_zero)
{
	struct hist	h;

	memset(&h, 0, sizeof h);
	expect_p50_p99(&h, 0, 0);
}

Test(hist, small_values_are_exact)
{
	unsigned	v;

	for (v = 0; v < HIST_SUB; v++) {
		cr_assert_eq(hist_bucket(v), v);
		cr_assert_eq(hist_bucket_high(v), v);
	}
}

Test(hist, every_value_lies_in_its_bucket_within_3_percent)
{
	uint64_t	v, high;
	unsigned	b;
	int		shift;

	for (shift = 5; shift < 63; shift++) {
		for (v = (uint64_t)1 << shift; v < ((uint64_t)1 << shift) * 2;
		    v += ((uint64_t)1 << shift) / 7 + 1) {
			b = hist_bucket(v);
			cr_assert_lt(b, HIST_BUCKETS);
			high = hist_bucket_high(b);
			cr_assert_geq(high, v, "value %llu above bucket %u",
			    (unsigned long long)v, b);
			cr_assert_leq((double)(high - v), (double)v / 31.0,
			    "bucket %u too wide for %llu", b,
			    (unsigned long long)v);
			if (b > 0)
				cr_assert_lt(hist_bucket_high(b - 1), v);
		}
	}
	cr_assert_lt(hist_bucket(UINT64_MAX), HIST_BUCKETS);
}

Test(hist, percentiles_of_uniform_samples)
{
	static struct hist	h;
	uint64_t		v, p50, p99;

	for (v = 1; v <= 10000; v++)
		hist_record(&h, v);
	cr_assert_eq(h.count, 10000);
	cr_assert_eq(h.max_us, 10000);
	p50 = hist_percentile(&h, 0.50);
	p99 = hist_percentile(&h, 0.99);
	cr_assert(p50 >= 5000 * 0.97 && p50 <= 5000 * 1.03, "p50 %llu",
	    (unsigned long long)p50);
	cr_assert(p99 >= 9900 * 0.97 && p99 <= 10000, "p99 %llu",
	    (unsigned long long)p99);
	cr_assert_eq(hist_percentile(&h, 1.0), 10000);
}

/*
 * n samples of value: both percentiles are value exactly, not the top of
 * its bucket, which lies above it.
 */
static void
expect_equal_samples(uint64_t value, int n)
{
	static struct hist	h;
	int			i;

	memset(&h, 0, sizeof h);
	for (i = 0; i < n; i++)
		hist_record(&h, value);
	expect_p50_p99(&h, value, value);
}

Test(hist, percentile_never_exceeds_max)
{
	expect_equal_samples(1000, 2);
}

Test(hist, equal_samples_report_their_value_exactly)
{
	expect_equal_samples(500098, 10);
}

Test(hist, outlier_shows_in_p99_not_p50)
{
	static struct hist	h;
	int			i;

	for (i = 0; i < 98; i++)
		hist_record(&h, 100);
	hist_record(&h, 1000000);
	hist_record(&h, 1000000);
	cr_assert_eq(hist_percentile(&h, 0.50), 100);
	cr_assert_geq(hist_percentile(&h, 0.99), 1000000 * 0.96);
	cr_assert_eq(h.max_us, 1000000);
}
