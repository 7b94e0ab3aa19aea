/*
 * CA bundles for https (ca.c): a PEM file read whole, and the system's
 * bundle's path as libcurl was built to find it. May block: for the
 * configuration's check and load hooks, never the loop.
 */
#ifndef GATHERD_HTTP_CA_H
#define GATHERD_HTTP_CA_H

#include <stddef.h>

int		 http_ca_read(const char *, unsigned char **, size_t *, char **);
const char	*http_ca_default(void);

#endif
