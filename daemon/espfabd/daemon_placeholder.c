/* Placeholder so the library has a source until the daemon lands; delete it then. */
int daemon_placeholder_(void);
int daemon_placeholder_(void) { return 0; }
