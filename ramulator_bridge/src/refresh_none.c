/* refresh_none.c: "NoRefresh": no refresh at all (for studies that isolate refresh effects). */
#include "engine_internal.h"

static void none_init(hd_system *s, hd_ctrl *c) {
    (void)s;
    c->next_refresh = HD_NEVER;
}

static void none_tick(hd_system *s, hd_ctrl *c) {
    (void)s;
    (void)c;
}

static int64_t none_next_event(const hd_system *s, const hd_ctrl *c) {
    (void)s;
    (void)c;
    return HD_NEVER;
}

const hd_refresh_impl hd_refresh_none = {"NoRefresh", none_init, none_tick, none_next_event};
