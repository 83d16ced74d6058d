/* registry.c: the pluggable units by name. Adding a unit = one file + one line here. */
#include <string.h>
#include "engine_internal.h"

extern const hd_scheduler_impl hd_scheduler_frfcfs, hd_scheduler_fcfs;
extern const hd_rowpolicy_impl hd_rowpolicy_open, hd_rowpolicy_closed;
extern const hd_refresh_impl hd_refresh_allbank, hd_refresh_none, hd_refresh_samebank;
extern const hd_mapper_impl hd_mapper_robaracoch, hd_mapper_chrabaroco, hd_mapper_rocobarach,
    hd_mapper_mop4clxor;

static const hd_scheduler_impl *const SCHEDULERS[] = {&hd_scheduler_frfcfs, &hd_scheduler_fcfs};
static const hd_rowpolicy_impl *const ROW_POLICIES[] = {&hd_rowpolicy_open, &hd_rowpolicy_closed};
static const hd_refresh_impl *const REFRESHES[] = {&hd_refresh_allbank, &hd_refresh_none,
                                                  &hd_refresh_samebank};
static const hd_mapper_impl *const MAPPERS[] = {&hd_mapper_robaracoch, &hd_mapper_chrabaroco,
                                               &hd_mapper_rocobarach, &hd_mapper_mop4clxor};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define DEFINE_REGISTRY(kind, table, type)                                             \
    int hd_##kind##_id(const char *name) {                                             \
        for (int i = 0; i < COUNT(table); i++)                                         \
            if (strcmp(table[i]->name, name) == 0) return i;                           \
        return -1;                                                                     \
    }                                                                                  \
    const char *hd_##kind##_name(int id) {                                             \
        return id >= 0 && id < COUNT(table) ? table[id]->name : NULL;                  \
    }                                                                                  \
    const type *hd_##kind##_impl_get(int id) {                                         \
        return id >= 0 && id < COUNT(table) ? table[id] : NULL;                        \
    }

DEFINE_REGISTRY(scheduler, SCHEDULERS, hd_scheduler_impl)
DEFINE_REGISTRY(row_policy, ROW_POLICIES, hd_rowpolicy_impl)
DEFINE_REGISTRY(refresh, REFRESHES, hd_refresh_impl)
DEFINE_REGISTRY(mapper, MAPPERS, hd_mapper_impl)
