/* Placeholder so the library has a source until the store lands; delete it then. */
int store_placeholder_(void);
int store_placeholder_(void) { return 0; }
