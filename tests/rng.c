/*
 * A deterministic pseudo-random generator for tests; see harness.h.
 */

#include <stdint.h>

#include "harness.h"

/* A deterministic xorshift64 generator, so failures reproduce. */
uint64_t
rng_next(uint64_t *state)
{
	uint64_t	x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}
