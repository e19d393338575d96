/* idle_recompress.h - the plugin's idle_recompress= thread (see the .c). */
#ifndef ZSRAM_PLUGIN_IDLE_RECOMPRESS_H
#define ZSRAM_PLUGIN_IDLE_RECOMPRESS_H

struct zsram;

/* Starts the thread: every seconds, pages not accessed for that long are
 * marked idle and recompressed.  0, or -1 with an nbdkit error. */
int idle_recompress_start(struct zsram *store, unsigned int seconds);
/* Stops and joins it (nothing if it never started). */
void idle_recompress_stop(void);

#endif
