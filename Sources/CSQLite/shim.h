#include <sqlite3.h>
// SQLITE_TRANSIENT is a macro over a cast function pointer that Swift cannot import.
static inline sqlite3_destructor_type sluice_sqlite_transient(void) { return SQLITE_TRANSIENT; }
// Memory statistics off, before the library initializes: with them on, every allocation of every
// connection takes one process-wide mutex, which concurrent readers and the writer then queue on.
// Variadic, so Swift cannot call sqlite3_config itself. SQLITE_MISUSE once initialized: harmless.
static inline int sluice_sqlite_configure(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
