/* Placeholder so the library has a source until the device engine lands; delete it then. */
int simdev_placeholder_(void);
int simdev_placeholder_(void) { return 0; }
