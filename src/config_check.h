/*
 * gatherd --check-config's checks beyond the syntax: the files and
 * directories the configuration names, looked at without changing them.
 */
#ifndef GATHERD_CONFIG_CHECK_H
#define GATHERD_CONFIG_CHECK_H

struct config;

int	config_check(const struct config *, char **);

#endif
