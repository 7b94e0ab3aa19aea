/*
 * PostgreSQL on the loop (db/postgres.c): the driver's settings, its keys
 * under [db.NAME] (driver = postgres).
 */
#ifndef GATHERD_DB_POSTGRES_H
#define GATHERD_DB_POSTGRES_H

struct postgres_settings {
	char		*conninfo;	/* owned: libpq's; may be empty */
	unsigned	 pool;		/* connections at most, >= 1 */
};

extern const struct db_driver db_driver_postgres;

#endif
