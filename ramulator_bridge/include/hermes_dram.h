/* hermes_dram.h: public C API of the built-in cycle-level DRAM engine. */
#ifndef HERMES_DRAM_H
#define HERMES_DRAM_H
#include <stdint.h>

/* Version string of the engine, e.g. "hermes-dram 0.1". */
const char *hd_version(void);

#endif
