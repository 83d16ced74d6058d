/* bank_index.c: a per-bank index of an arrival-ordered request buffer (read and write queues),
 * so that a scheduler pass looks at the oldest requests of each bank's classes instead of at
 * every queued request (see hd_bank_slot for what a slot holds and when it is current).
 *
 * Each bank keeps its requests in a doubly linked list (arrival order) over a pool of entries;
 * a request in the buffer holds the number of its entry (hd_req.pool), so it can be unlinked
 * wherever the ring has moved it. Kept up to date by the buffer operations (hd_bidx_pushed after
 * appending, hd_bidx_removing before removing) and by the controller after every command that
 * changes bank states (hd_bidx_bank_changed); dirty banks are refreshed lazily by the pass. */
#include <stdlib.h>
#include "engine_internal.h"

/* Local bank numbering of a controller: bank-group-major within a rank, ranks after each other
 * (host mode serves every rank of its channel, NDP mode one rank). Matches hd_dev_locate.
 * Returns 0 when out of memory; leaves the buffer unindexed when it has more than 64 banks. */
int hd_bidx_init(const hd_system *s, const hd_ctrl *c, hd_buffer *b, int final_cmd) {
    const hd_config *cfg = &s->cfg;
    int per_rank = cfg->bankgroups * cfg->banks;
    int n = c->rank_count * per_rank, cap = b->mask + 1;
    if (n > 64) return 1; /* not indexed: the plain pass is used */
    b->slots = calloc((size_t)n, sizeof(hd_bank_slot));
    b->pool = malloc(sizeof(hd_bank_entry) * (size_t)cap);
    if (!b->slots || !b->pool) return 0;
    for (int i = 0; i < cap; i++) b->pool[i].next = (int16_t)(i + 1 < cap ? i + 1 : -1);
    b->free_head = 0;
    b->final_cmd = final_cmd;
    b->dirty = ~0ull;
    for (int lb = 0; lb < n; lb++) {
        hd_bank_slot *slot = &b->slots[lb];
        int rank = c->rank_first + lb / per_rank, bg = lb % per_rank / cfg->banks;
        int64_t rank_node = (int64_t)c->channel * cfg->ranks + rank;
        int64_t bg_node = rank_node * cfg->bankgroups + bg;
        slot->node = bg_node * cfg->banks + lb % cfg->banks;
        slot->rd_ch = &s->ready[HD_LEVEL_CHANNEL][(int64_t)c->channel * HD_MAX_CMDS];
        slot->rd_rank = &s->ready[HD_LEVEL_RANK][rank_node * HD_MAX_CMDS];
        slot->rd_bg = &s->ready[HD_LEVEL_BANKGROUP][bg_node * HD_MAX_CMDS];
        slot->rd_bank = &s->ready[HD_LEVEL_BANK][slot->node * HD_MAX_CMDS];
        slot->head = slot->tail = -1;
    }
    return 1;
}

void hd_bidx_free(hd_buffer *b) {
    free(b->slots);
    free(b->pool);
}

/* The entry just appended (the youngest) joins the end of its bank's list; it becomes a
 * candidate only if its class had none. */
void hd_bidx_pushed(hd_system *s, hd_buffer *b) {
    int i = b->size - 1;
    hd_req *r = hd_buf_at(b, i);
    int lb = r->local_bank;
    hd_bank_slot *slot = &b->slots[lb];
    int e = b->free_head;
    hd_bank_entry *ent = &b->pool[e];
    b->free_head = ent->next;
    ent->seq = b->next_seq++;
    ent->row = r->vec[HD_LEVEL_BANK + 1];
    ent->next = -1;
    ent->prev = slot->tail;
    if (slot->tail >= 0) b->pool[slot->tail].next = (int16_t)e;
    else slot->head = (int16_t)e;
    slot->tail = (int16_t)e;
    r->pool = e;
    ent->pos = (int16_t)((b->head + i) & b->mask);
    b->nonempty |= 1ull << lb;
    b->version++;
    if (b->dirty >> lb & 1) return; /* found again when next needed */
    int hit = s->bank_state[slot->node] == HD_BANK_OPENED && s->open_row[slot->node] == ent->row;
    if (slot->age[!hit] == HD_NO_SEQ) slot->age[!hit] = hd_bidx_age(ent->seq, e);
}

/* Whether a list entry is a row hit of its bank (candidate class 0) or not (class 1). */
static int entry_class(const hd_system *s, const hd_bank_slot *slot, const hd_bank_entry *ent) {
    return !(s->bank_state[slot->node] == HD_BANK_OPENED && s->open_row[slot->node] == ent->row);
}

/* Entry idx is about to be removed from the ring: it leaves its bank's list. If it was a
 * candidate of a clean bank, the next candidate of its class is the next entry of that class
 * in the list (every older entry is of the other class): e.g. the next row hit of a stream. */
void hd_bidx_removing(hd_system *s, hd_buffer *b, int idx) {
    const hd_req *r = hd_buf_at(b, idx);
    int lb = r->local_bank, e = r->pool;
    hd_bank_slot *slot = &b->slots[lb];
    hd_bank_entry *ent = &b->pool[e];
    b->version++;
    if (!(b->dirty >> lb & 1)) {
        uint64_t age = hd_bidx_age(ent->seq, e);
        int k = slot->age[0] == age ? 0 : slot->age[1] == age ? 1 : -1;
        if (k >= 0) {
            int n = ent->next;
            while (n >= 0 && entry_class(s, slot, &b->pool[n]) != k) n = b->pool[n].next;
            slot->age[k] = n >= 0 ? hd_bidx_age(b->pool[n].seq, n) : HD_NO_SEQ;
        }
    }
    if (ent->prev >= 0) b->pool[ent->prev].next = ent->next;
    else slot->head = ent->next;
    if (ent->next >= 0) b->pool[ent->next].prev = ent->prev;
    else slot->tail = ent->prev;
    if (slot->head < 0) b->nonempty &= ~(1ull << lb);
    ent->next = (int16_t)b->free_head;
    b->free_head = e;
}

/* Finds a bank's candidates from its current state: its list in arrival order, up to the
 * oldest request of every class. */
static void refresh_slot(hd_system *s, hd_buffer *b, hd_bank_slot *slot) {
    int opened = s->bank_state[slot->node] == HD_BANK_OPENED;
    int32_t open_row = s->open_row[slot->node];
    uint64_t found[2] = {HD_NO_SEQ, HD_NO_SEQ};
    int left = opened ? 2 : 1;
    for (int e = slot->head; e >= 0 && left; e = b->pool[e].next) {
        const hd_bank_entry *ent = &b->pool[e];
        int k = !(opened && ent->row == open_row);
        if (found[k] == HD_NO_SEQ) {
            found[k] = hd_bidx_age(ent->seq, e);
            left--;
        }
    }
    slot->age[0] = found[0];
    slot->age[1] = found[1];
    slot->cmd[0] = b->final_cmd;
    slot->cmd[1] = opened ? HD_CMD_PRE : HD_CMD_ACT;
}

/* Brings every dirty bank that has requests up to date (empty banks stay dirty). */
void hd_bidx_refresh_dirty(hd_system *s, hd_buffer *b) {
    uint64_t todo = b->dirty & b->nonempty;
    for (uint64_t m = todo; m; m &= m - 1) refresh_slot(s, b, &b->slots[__builtin_ctzll(m)]);
    b->dirty &= ~todo;
}

/* The state of local bank lb (-1: of every bank) of controller c changed. */
void hd_bidx_bank_changed(hd_ctrl *c, int lb) {
    uint64_t bits = lb >= 0 ? 1ull << lb : ~0ull;
    c->readq.dirty |= bits;
    c->writeq.dirty |= bits;
    c->readq.version++;
    c->writeq.version++;
}
