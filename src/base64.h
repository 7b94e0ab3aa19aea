/*
 * Base64 encoding (RFC 4648 section 4): the standard alphabet, '=' padding,
 * no line breaks. Encoding only; nothing in gatherd decodes base64 yet.
 * No state, so safe on any thread.
 */
#ifndef GATHERD_BASE64_H
#define GATHERD_BASE64_H

#include <stddef.h>

size_t	 base64_encoded_len(size_t);
size_t	 base64_encode(const unsigned char *, size_t, char *);
char	*base64_encode_alloc(const unsigned char *, size_t, size_t *);

#endif
