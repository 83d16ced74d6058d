/* bank_index.c: a per-bank index of an arrival-ordered request buffer (read and write queues),
 * so that a scheduler pass looks at the few oldest requests of each bank instead of at every
 * queued request (see hd_bank_slot for what a slot holds and when it is current).
 *
 * Kept up to date by the buffer operations: hd_bidx_pushed after appending an entry,
 * hd_bidx_removing before removing one. A slot whose bank changed state is refreshed lazily by
 * hd_bidx_refresh_slot (one walk over the compact meta ring). */
#include <stdlib.h>
#include "engine_internal.h"

/* Local bank numbering of a controller: bank-group-major within a rank, ranks after each other
 * (host mode serves every rank of its channel, NDP mode one rank). Matches hd_dev_locate. */
int hd_bidx_init(const hd_system *s, const hd_ctrl *c, hd_buffer *b, int final_cmd) {
    const hd_config *cfg = &s->cfg;
    int per_rank = cfg->bankgroups * cfg->banks;
    int n = c->rank_count * per_rank;
    if (n > 64) return 1; /* not indexed: the plain pass is used */
    b->meta = malloc(sizeof(hd_meta) * (size_t)(b->mask + 1));
    b->slots = calloc((size_t)n, sizeof(hd_bank_slot));
    if (!b->meta || !b->slots) return 0;
    b->final_cmd = final_cmd;
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
        slot->seq[0] = slot->seq[1] = HD_NO_SEQ;
    }
    return 1;
}

void hd_bidx_free(hd_buffer *b) {
    free(b->meta);
    free(b->slots);
}

/* The entry just appended (the youngest) joins its bank; it becomes a candidate only if its
 * class had none. */
void hd_bidx_pushed(hd_system *s, hd_buffer *b) {
    int i = b->size - 1;
    const hd_req *r = hd_buf_at(b, i);
    hd_meta *m = &b->meta[(b->head + i) & b->mask];
    m->seq = b->next_seq++;
    m->row = r->vec[HD_LEVEL_BANK + 1];
    m->bank = r->local_bank;
    hd_bank_slot *slot = &b->slots[m->bank];
    slot->count++;
    b->nonempty |= 1ull << m->bank;
    if (hd_bidx_stale(s, slot)) return; /* found again when next needed */
    int hit = s->bank_state[slot->node] == HD_BANK_OPENED && s->open_row[slot->node] == m->row;
    if (slot->seq[!hit] == HD_NO_SEQ) slot->seq[!hit] = m->seq;
}

/* Entry idx is about to be removed: its bank loses a request (and its candidate, if it was one). */
void hd_bidx_removing(hd_buffer *b, int idx) {
    const hd_meta *m = &b->meta[(b->head + idx) & b->mask];
    hd_bank_slot *slot = &b->slots[m->bank];
    if (--slot->count == 0) b->nonempty &= ~(1ull << m->bank);
    if (slot->seq[0] == m->seq || slot->seq[1] == m->seq) slot->epoch = 0;
}

/* Finds the bank's candidates from its current state: one walk over the meta ring, in arrival
 * order, stopping once every class has its oldest request. */
void hd_bidx_refresh_slot(hd_system *s, const hd_buffer *b, hd_bank_slot *slot) {
    int opened = s->bank_state[slot->node] == HD_BANK_OPENED;
    int32_t open_row = s->open_row[slot->node];
    int32_t bank = (int32_t)(slot - b->slots);
    uint64_t found[2] = {HD_NO_SEQ, HD_NO_SEQ};
    int left = opened ? 2 : 1;
    for (int i = 0; i < b->size && left; i++) {
        const hd_meta *m = &b->meta[(b->head + i) & b->mask];
        if (m->bank != bank) continue;
        int k = !(opened && m->row == open_row);
        if (found[k] == HD_NO_SEQ) {
            found[k] = m->seq;
            left--;
        }
    }
    slot->seq[0] = found[0];
    slot->seq[1] = found[1];
    slot->cmd[0] = b->final_cmd;
    slot->cmd[1] = opened ? HD_CMD_PRE : HD_CMD_ACT;
    slot->epoch = s->sched_epoch;
}

/* Logical index of the entry with sequence number seq (entries are in seq order). */
int hd_bidx_index_of(const hd_buffer *b, uint64_t seq) {
    int lo = 0, hi = b->size - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (b->meta[(b->head + mid) & b->mask].seq < seq) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}
