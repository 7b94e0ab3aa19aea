/*
 * Base64 (RFC 4648 section 4): the standard alphabet, '=' padding, no
 * line breaks. Decoding is strict (an http job's body_base64): padding
 * required, no blanks, no bits left over. No state, so safe on any thread.
 */
#ifndef GATHERD_BASE64_H
#define GATHERD_BASE64_H

#include <stddef.h>

size_t	 base64_encoded_len(size_t);
size_t	 base64_encode(const unsigned char *, size_t, char *);
char	*base64_encode_alloc(const unsigned char *, size_t, size_t *);
int	 base64_decode(const char *, size_t, unsigned char *, size_t *,
	    size_t *);

#endif
