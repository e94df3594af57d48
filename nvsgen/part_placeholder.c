/* Placeholder so the library has a source until the partition module lands; delete it then. */
int part_placeholder_(void);
int part_placeholder_(void) { return 0; }
