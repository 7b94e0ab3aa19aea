/*
 * Strict UTF-8 validation (RFC 3629): no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF, no truncated or stray sequences.
 * NUL is valid. Pure function of its arguments, so safe on any thread.
 *
 * On failure *bad is where the first ill-formed sequence starts, so
 * s[0..*bad) is the longest valid prefix: the lead byte for a bad or
 * missing continuation (E0 80, or E2 82 at the very end), the byte itself
 * for a stray continuation or a byte that never occurs (C0, C1, F5..FF).
 * bad may be NULL.
 *
 * utf8_encode writes one code point as UTF-8.
 */
#ifndef GATHERD_UTF8_H
#define GATHERD_UTF8_H

#include <stddef.h>

int	utf8_valid(const unsigned char *, size_t, size_t *);
size_t	utf8_encode(unsigned long, unsigned char[4]);

#endif
