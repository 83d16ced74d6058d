/* rowpolicy_open.c: "OpenRowPolicy": rows stay open until a conflict or a refresh closes them. */
#include "engine_internal.h"

static void open_on_schedule(hd_system *s, hd_ctrl *c, const hd_req *r) {
    (void)s;
    (void)c;
    (void)r;
}

const hd_rowpolicy_impl hd_rowpolicy_open = {"OpenRowPolicy", open_on_schedule};
