/*
 * The table of database drivers. Adding a driver is one file under db/
 * exporting its struct db_driver, and one line below.
 */

#include "db/driver.h"
#include "db/postgres.h"
#include "db/sqlite.h"
#include "table.h"

const struct db_driver *const db_drivers[] = {
	&db_driver_sqlite,
	&db_driver_postgres,
	NULL
};

/* The driver called name, or NULL. */
const struct db_driver *
db_driver_find(const char *name)
{
	const struct db_driver	*driver;

	TABLE_FIND(db_drivers, name, driver);
	return driver;
}
