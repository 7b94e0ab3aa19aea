/*
 * Tables of entries, as tmux's cmd_table[]: a NULL-terminated array of
 * pointers to const structs that begin with their name (job_types[] in
 * job.c, db_drivers[] in db/driver.c). Adding an entry is one line in the
 * table; what loops over every entry uses these.
 */
#ifndef GATHERD_TABLE_H
#define GATHERD_TABLE_H

#include <stddef.h>
#include <string.h>

/* Set out to the entry of table called key, or NULL. */
#define TABLE_FIND(table, key, out) do {				\
	size_t	i_;							\
									\
	(out) = NULL;							\
	for (i_ = 0; (table)[i_] != NULL; i_++) {			\
		if (strcmp((table)[i_]->name, (key)) == 0) {		\
			(out) = (table)[i_];				\
			break;						\
		}							\
	}								\
} while (0)

/* Call hook(...) of every entry of table that has one, in order. */
#define TABLE_CALL(table, hook, ...) do {				\
	size_t	i_;							\
									\
	for (i_ = 0; (table)[i_] != NULL; i_++) {			\
		if ((table)[i_]->hook != NULL)				\
			(table)[i_]->hook(__VA_ARGS__);			\
	}								\
} while (0)

#endif
