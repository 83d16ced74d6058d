/* dram_device.c: the DRAM device tree (channel/rank/bankgroup/bank): per-node command ready
 * times driven by the standard's timing-constraint table, bank states, prerequisites. */
#include <stddef.h>
#include "engine_internal.h"

#define MC HD_MAX_CMDS

static const int CMD_SCOPE[HD_MAX_CMDS] = {
    [HD_CMD_ACT] = HD_LEVEL_BANK,   [HD_CMD_PRE] = HD_LEVEL_BANK,  [HD_CMD_PREA] = HD_LEVEL_RANK,
    [HD_CMD_PRESB] = HD_LEVEL_BANK, [HD_CMD_RD] = HD_LEVEL_BANK,   [HD_CMD_WR] = HD_LEVEL_BANK,
    [HD_CMD_RDA] = HD_LEVEL_BANK,   [HD_CMD_WRA] = HD_LEVEL_BANK,  [HD_CMD_REFAB] = HD_LEVEL_RANK,
    [HD_CMD_REFSB] = HD_LEVEL_BANK,
};

int64_t hd_bank_index(const hd_system *s, int ch, int rank, int bg, int bank) {
    const hd_config *c = &s->cfg;
    return (((int64_t)ch * c->ranks + rank) * c->bankgroups + bg) * c->banks + bank;
}

int64_t hd_dev_ready_time(const hd_system *s, int cmd, const int32_t *vec) {
    const hd_config *c = &s->cfg;
    int scope = CMD_SCOPE[cmd];
    int64_t t = s->ready[0][(int64_t)vec[0] * MC + cmd];
    int64_t rn = (int64_t)vec[0] * c->ranks + vec[1];
    t = hd_max64(t, s->ready[1][rn * MC + cmd]);
    if (scope < HD_LEVEL_BANKGROUP) return t;
    int g0 = vec[2] >= 0 ? vec[2] : 0, g1 = vec[2] >= 0 ? vec[2] + 1 : c->bankgroups;
    for (int g = g0; g < g1; g++) {
        int64_t gn = rn * c->bankgroups + g;
        t = hd_max64(t, s->ready[2][gn * MC + cmd]);
        if (scope < HD_LEVEL_BANK) continue;
        int b0 = vec[3] >= 0 ? vec[3] : 0, b1 = vec[3] >= 0 ? vec[3] + 1 : c->banks;
        for (int b = b0; b < b1; b++) t = hd_max64(t, s->ready[3][(gn * c->banks + b) * MC + cmd]);
    }
    return t;
}

void hd_dev_locate(const hd_system *s, hd_req *r) {
    const hd_config *c = &s->cfg;
    const int32_t *v = r->vec;
    r->rank_node = v[1] >= 0 ? (int64_t)v[0] * c->ranks + v[1] : -1;
    r->bg_node = (r->rank_node >= 0 && v[2] >= 0) ? r->rank_node * c->bankgroups + v[2] : -1;
    r->bank_node = (r->bg_node >= 0 && v[3] >= 0) ? r->bg_node * c->banks + v[3] : -1;
    r->ready_ch = &s->ready[0][(int64_t)v[0] * MC];
    r->ready_rank = &s->ready[1][r->rank_node * MC];
    r->ready_bg = r->bg_node >= 0 ? &s->ready[2][r->bg_node * MC] : s->neutral_row;
    int64_t lb = -1;
    if (r->bank_node >= 0)
        lb = c->ndp_mode ? (int64_t)v[2] * c->banks + v[3]
                         : ((int64_t)v[1] * c->bankgroups + v[2]) * c->banks + v[3];
    r->local_bank = lb >= 0 && lb < 64 ? (int32_t)lb : -1;
}

/* Bank-level part of the ready time of the request's current command (channel, rank and bank
 * group are combined live by hd_req_ready); the whole ready time for wildcard requests. */
int64_t hd_dev_req_ready(const hd_system *s, const hd_req *r) {
    int cmd = r->cmd;
    if (r->bank_node < 0 || CMD_SCOPE[cmd] != HD_LEVEL_BANK) return hd_dev_ready_time(s, cmd, r->vec);
    return s->ready[3][r->bank_node * MC + cmd];
}

int hd_dev_classify(const hd_system *s, const int32_t *vec) {
    int64_t bn = hd_bank_index(s, vec[0], vec[1], vec[2], vec[3]);
    if (s->bank_state[bn] == HD_BANK_OPENED) return s->open_row[bn] == vec[4] ? 0 : 2;
    return 1;
}

int hd_dev_preq(const hd_system *s, int final_cmd, const int32_t *vec) {
    const hd_config *c = &s->cfg;
    if (final_cmd == HD_CMD_RD || final_cmd == HD_CMD_WR) { /* the common case, without a jump */
        int64_t bn = hd_bank_index(s, vec[0], vec[1], vec[2], vec[3]);
        if (s->bank_state[bn] != HD_BANK_OPENED) return HD_CMD_ACT;
        return s->open_row[bn] == vec[4] ? final_cmd : HD_CMD_PRE;
    }
    switch (final_cmd) {
    case HD_CMD_RD: case HD_CMD_WR: case HD_CMD_RDA: case HD_CMD_WRA: case HD_CMD_ACT: {
        int64_t bn = hd_bank_index(s, vec[0], vec[1], vec[2], vec[3]);
        if (s->bank_state[bn] != HD_BANK_OPENED) return HD_CMD_ACT;
        return s->open_row[bn] == vec[4] ? final_cmd : HD_CMD_PRE;
    }
    case HD_CMD_PRE:
        return HD_CMD_PRE;
    case HD_CMD_REFAB: {
        int64_t first = hd_bank_index(s, vec[0], vec[1], 0, 0);
        int64_t n = (int64_t)c->bankgroups * c->banks;
        for (int64_t i = 0; i < n; i++) {
            int8_t st = s->bank_state[first + i];
            if (st == HD_BANK_CLOSED) continue;
            return st == HD_BANK_REFRESHING ? HD_CMD_REFAB : HD_CMD_PREA;
        }
        return HD_CMD_REFAB;
    }
    case HD_CMD_REFSB: {
        for (int g = 0; g < c->bankgroups; g++) {
            int64_t bn = hd_bank_index(s, vec[0], vec[1], g, vec[3]);
            if (s->bank_state[bn] == HD_BANK_OPENED) return HD_CMD_PRESB;
        }
        return HD_CMD_REFSB;
    }
    default:
        return final_cmd;
    }
}

/* ready[next] = max(ready[next], fut) for one constraint, without a branch (the outcome is
 * data-dependent); returns `changed` with bit `next` set if the ready time moved. */
static inline uint32_t raise_ready(int64_t *rd, int next, int64_t fut, int valid, uint32_t changed) {
    int64_t old = rd[next];
    int up = valid & (fut > old);
    int64_t mask = -(int64_t)up; /* bit operations: compilers turn a ?: here into a branch */
    rd[next] = (fut & mask) | (old & ~mask);
    return changed | ((uint32_t)up << next);
}

/* raise_ready without reporting whether it moved (rows above the bank: requests read them
 * live, nothing is stamped). */
static inline void raise_only(int64_t *rd, int next, int64_t fut, int valid) {
    int64_t old = rd[next];
    int64_t mask = -(int64_t)(valid & (fut > old));
    rd[next] = (fut & mask) | (old & ~mask);
}

/* `cmd` issued at `node` of `level`: records it in the node's history and applies the
 * constraints from it (the window-th most recent issue for windowed ones, e.g. tFAW). */
static uint32_t apply_target(hd_system *s, int level, int64_t node, int cmd, int64_t clk) {
    int hl = s->hist_len[level][cmd];
    uint32_t changed = 0;
    int64_t *rd = &s->ready[level][node * MC];
    const hd_con *cons = s->tcons[level][cmd];
    int n = s->n_tcons[level][cmd];
    if (hl == 1) { /* no windowed constraint: every one counts from this issue */
        for (int i = 0; i < n; i++)
            changed = raise_ready(rd, cons[i].next, clk + cons[i].latency, 1, changed);
        return changed;
    }
    if (!hl) return 0;
    int64_t *h = &s->history[level][(node * MC + cmd) * HD_MAX_WINDOW];
    for (int k = hl - 1; k > 0; k--) h[k] = h[k - 1];
    h[0] = clk;
    for (int i = 0; i < n; i++) {
        int64_t past = h[cons[i].window - 1];
        changed = raise_ready(rd, cons[i].next, past + cons[i].latency, past >= 0, changed);
    }
    return changed;
}

/* `cmd` issued at a sibling of `node` (another rank, bank group or bank): sibling constraints. */
static uint32_t apply_sibling(hd_system *s, int level, int64_t node, int cmd, int64_t clk) {
    int64_t *rd = &s->ready[level][node * MC];
    const hd_con *cons = s->scons[level][cmd];
    uint32_t changed = 0;
    for (int i = 0, n = s->n_scons[level][cmd]; i < n; i++)
        changed = raise_ready(rd, cons[i].next, clk + cons[i].latency, 1, changed);
    return changed;
}

/* Sibling constraints at `level` for every child of `parent` but `self`; returns whether any
 * ready time moved. */
static int apply_siblings(hd_system *s, int level, int64_t parent, int children, int self,
                          int cmd, int64_t clk) {
    uint32_t changed = 0;
    if (!s->n_scons[level][cmd]) return 0;
    for (int k = 0; k < children; k++)
        if (k != self) changed |= apply_sibling(s, level, parent * children + k, cmd, clk);
    return changed != 0;
}

static void stamp_bank(hd_system *s, int64_t bn, uint32_t changed, uint64_t ep) {
    for (; changed; changed &= changed - 1)
        s->bank_cmd_epoch[bn * MC + __builtin_ctz(changed)] = ep;
}

/* Records an issue of cmd in a node's history (levels with windowed constraints only). */
static const int64_t *record_history(hd_system *s, int level, int64_t node, int cmd, int64_t clk) {
    int hl = s->hist_len[level][cmd];
    int64_t *h = &s->history[level][(node * MC + cmd) * HD_MAX_WINDOW];
    for (int k = hl - 1; k > 0; k--) h[k] = h[k - 1];
    h[0] = clk;
    return h;
}

/* update_timing for a command naming one bank (every level given), the common case: the
 * command's timing program (its target constraints at all levels in one list) over the rows
 * of its channel, rank, bank group and bank, then any sibling constraints. */
static void update_timing_bank(hd_system *s, int cmd, const int32_t *vec, int64_t clk) {
    const hd_config *c = &s->cfg;
    uint64_t ep = s->sched_epoch;
    int64_t rn = (int64_t)vec[0] * c->ranks + vec[1];
    int64_t gn = rn * c->bankgroups + vec[2];
    int64_t bn = gn * c->banks + vec[3];
    const int64_t nodes[HD_NUM_LEVELS] = {vec[0], rn, gn, bn};
    /* one by one: a vectorised loop here read the node ids back from the stack with a wide
     * load right after narrow stores (a store-forwarding stall, 40% of this function) */
    int64_t *rows[HD_NUM_LEVELS] = {
        &s->ready[HD_LEVEL_CHANNEL][(int64_t)vec[0] * MC], &s->ready[HD_LEVEL_RANK][rn * MC],
        &s->ready[HD_LEVEL_BANKGROUP][gn * MC], &s->ready[HD_LEVEL_BANK][bn * MC]};
    uint32_t bank_changed = 0;
    const hd_op *op = s->program[cmd];
    const int *end = s->program_end[cmd]; /* each level's ops, levels in order */
    int i = 0;
    if (!s->history_levels[cmd]) { /* every constraint counts from this issue */
        for (int L = 0; L < HD_LEVEL_BANK; L++) /* above the bank: nothing to stamp */
            for (int64_t *rd = rows[L]; i < end[L]; i++)
                raise_only(rd, op[i].next, clk + op[i].latency, 1);
        for (int64_t *rd = rows[HD_LEVEL_BANK]; i < end[HD_LEVEL_BANK]; i++)
            bank_changed = raise_ready(rd, op[i].next, clk + op[i].latency, 1, bank_changed);
    } else {
        const int64_t *hist[HD_NUM_LEVELS] = {NULL, NULL, NULL, NULL};
        for (int L = 0; L < HD_NUM_LEVELS; L++)
            if (s->history_levels[cmd] >> L & 1) hist[L] = record_history(s, L, nodes[L], cmd, clk);
        for (int L = 0; L < HD_NUM_LEVELS; L++) {
            int64_t *rd = rows[L];
            for (; i < end[L]; i++) {
                int64_t past = op[i].window == 1 ? clk : hist[L][op[i].window - 1];
                if (L == HD_LEVEL_BANK)
                    bank_changed = raise_ready(rd, op[i].next, past + op[i].latency, past >= 0,
                                               bank_changed);
                else
                    raise_only(rd, op[i].next, past + op[i].latency, past >= 0);
            }
        }
    }
    stamp_bank(s, bn, bank_changed, ep);
    if (!s->sibling_levels[cmd]) return;
    apply_siblings(s, 1, vec[0], c->ranks, vec[1], cmd, clk);
    if (apply_siblings(s, 2, rn, c->bankgroups, vec[2], cmd, clk)) s->full_epoch = ep;
    if (apply_siblings(s, 3, gn, c->banks, vec[3], cmd, clk)) s->full_epoch = ep;
}

/* Applies the constraints of `cmd` and stamps what changed with the current epoch: bank-group
 * ready times per command, the target bank, or everything (wildcards, sibling groups/banks).
 * Channel and rank ready times need no stamp: requests read them live. */
static void update_timing(hd_system *s, int cmd, const int32_t *vec, int64_t clk) {
    const hd_config *c = &s->cfg;
    uint64_t ep = s->sched_epoch;
    /* a ready-time change of a wildcard (refresh) request's scope is caught by full_epoch */
    if (!s->below[0][cmd]) return;
    if (vec[1] >= 0 && vec[2] >= 0 && vec[3] >= 0) {
        update_timing_bank(s, cmd, vec, clk);
        return;
    }
    apply_target(s, 0, vec[0], cmd, clk);
    if (!s->below[1][cmd]) return;
    for (int r = 0; r < c->ranks; r++) {
        int64_t rn = (int64_t)vec[0] * c->ranks + r;
        if (vec[1] >= 0 && vec[1] != r) {
            if (s->n_scons[1][cmd]) apply_sibling(s, 1, rn, cmd, clk);
            continue;
        }
        apply_target(s, 1, rn, cmd, clk);
        if (!s->below[2][cmd]) continue;
        for (int g = 0; g < c->bankgroups; g++) {
            int64_t gn = rn * c->bankgroups + g;
            if (vec[2] >= 0 && vec[2] != g) {
                if (s->n_scons[2][cmd] && apply_sibling(s, 2, gn, cmd, clk)) s->full_epoch = ep;
                continue;
            }
            apply_target(s, 2, gn, cmd, clk);
            if (!s->below[3][cmd]) continue;
            for (int b = 0; b < c->banks; b++) {
                int64_t bn = gn * c->banks + b;
                if (vec[3] >= 0 && vec[3] != b) {
                    if (s->n_scons[3][cmd] && apply_sibling(s, 3, bn, cmd, clk)) s->full_epoch = ep;
                    continue;
                }
                stamp_bank(s, bn, apply_target(s, 3, bn, cmd, clk), ep);
            }
        }
    }
}

static void push_future(hd_system *s, int64_t cycle, int cmd, const int32_t *vec) {
    if (s->n_future == s->cap_future) return; /* sized for one refresh per rank and bank */
    hd_future *f = &s->future[s->n_future++];
    f->cycle = cycle;
    f->cmd = cmd;
    f->channel = vec[0];
    f->rank = vec[1];
    f->bank = vec[3];
}

static void set_rank_banks(hd_system *s, int ch, int rank, int bank, int8_t state) {
    const hd_config *c = &s->cfg;
    for (int g = 0; g < c->bankgroups; g++) {
        for (int b = 0; b < c->banks; b++) {
            if (bank >= 0 && b != bank) continue;
            int64_t bn = hd_bank_index(s, ch, rank, g, b);
            s->bank_state[bn] = state;
            if (state != HD_BANK_OPENED) s->open_row[bn] = -1;
        }
    }
}

void hd_dev_issue(hd_system *s, int cmd, const int32_t *vec) {
    int64_t clk = s->clk;
    uint64_t ep = ++s->sched_epoch;
    update_timing(s, cmd, vec, clk);
    /* if-chains, not a switch: the command sequence (PRE, ACT, RD, ...) defeats the indirect
     * jump of a switch's table */
    if (cmd == HD_CMD_RD || cmd == HD_CMD_WR) {
        if (vec[2] < 0 || vec[3] < 0) s->full_epoch = ep;
        return;
    }
    if (cmd == HD_CMD_ACT || cmd == HD_CMD_PRE || cmd == HD_CMD_RDA || cmd == HD_CMD_WRA) {
        int64_t bn = hd_bank_index(s, vec[0], vec[1], vec[2], vec[3]);
        s->bank_epoch[bn] = ep; /* state change */
        int act = cmd == HD_CMD_ACT;
        s->bank_state[bn] = act ? HD_BANK_OPENED : HD_BANK_CLOSED;
        s->open_row[bn] = act ? vec[4] : -1;
        return;
    }
    if (vec[2] < 0 || vec[3] < 0) s->full_epoch = ep; /* rank-wide or same-bank commands */
    if (cmd == HD_CMD_PREA) {
        set_rank_banks(s, vec[0], vec[1], -1, HD_BANK_CLOSED);
    } else if (cmd == HD_CMD_PRESB) {
        set_rank_banks(s, vec[0], vec[1], vec[3], HD_BANK_CLOSED);
    } else if (cmd == HD_CMD_REFAB || cmd == HD_CMD_REFSB) {
        set_rank_banks(s, vec[0], vec[1], cmd == HD_CMD_REFSB ? vec[3] : -1, HD_BANK_REFRESHING);
        push_future(s, clk + s->cfg.cmd_busy_cycles[cmd] - 1, cmd, vec);
    }
}

void hd_dev_tick(hd_system *s) {
    for (int i = s->n_future - 1; i >= 0; i--) {
        hd_future *f = &s->future[i];
        if (f->cycle != s->clk) continue;
        s->full_epoch = ++s->sched_epoch; /* its banks leave Refreshing */
        for (int k = 0; k < s->n_ctrl; k++) {
            if (s->ctrl[k].channel != f->channel) continue;
            s->ctrl[k].changed_epoch = s->sched_epoch;
            hd_bidx_bank_changed(&s->ctrl[k], -1);
        }
        set_rank_banks(s, f->channel, f->rank, f->cmd == HD_CMD_REFSB ? f->bank : -1,
                       HD_BANK_CLOSED);
        s->future[i] = s->future[--s->n_future];
    }
}
