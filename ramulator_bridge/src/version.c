#include "hermes_dram.h"

const char *hd_version(void) { return "hermes-dram 0.1"; }
