/* traceio.c: incremental parser and formatter for Ramulator2 text memory traces (traceio.h). */
#include "traceio.h"

#include <string.h>

/* Value of a hexadecimal digit, or 0xFF. */
static unsigned char hex_value[256];
static int hex_ready = 0;

static void init_hex(void)
{
    if (hex_ready) return;
    memset(hex_value, 0xFF, sizeof hex_value);
    for (int c = '0'; c <= '9'; c++) hex_value[c] = (unsigned char)(c - '0');
    for (int c = 'a'; c <= 'f'; c++) hex_value[c] = (unsigned char)(c - 'a' + 10);
    for (int c = 'A'; c <= 'F'; c++) hex_value[c] = (unsigned char)(c - 'A' + 10);
    hex_ready = 1;
}

void hermes_trace_parser_init(hermes_trace_parser *p, int fmt, uint64_t capacity_bytes)
{
    memset(p, 0, sizeof *p);
    p->fmt = fmt;
    p->vec_len = (fmt == HT_FMT_READWRITE) ? -1 : 0;
    p->capacity_bytes = capacity_bytes;
    init_hex();
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parse an unsigned number at *s (< end): 0x-hex or decimal. Returns HT_OK, HT_E_SYNTAX (no
 * digits) or HT_E_RANGE; advances *s past the digits. allow_hex = 0 accepts decimal only. */
static int parse_number(const char **s, const char *end, int allow_hex, uint64_t *value)
{
    const char *q = *s;
    uint64_t v = 0;
    if (allow_hex && end - q >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
        q += 2;
        const char *digits = q;
        while (q < end) {
            unsigned char d = hex_value[(unsigned char)*q];
            if (d == 0xFF) break;
            if (v >> 60) return HT_E_RANGE;
            v = (v << 4) | d;
            q++;
        }
        if (q == digits) return HT_E_SYNTAX;
    } else {
        const char *digits = q;
        while (q < end && *q >= '0' && *q <= '9') {
            uint64_t d = (uint64_t)(*q - '0');
            if (v > (UINT64_MAX - d) / 10) return HT_E_RANGE;
            v = v * 10 + d;
            q++;
        }
        if (q == digits) return HT_E_SYNTAX;
    }
    *s = q;
    *value = v;
    return HT_OK;
}

static void set_error(hermes_trace_parser *p, int code, const char *line, const char *eol)
{
    size_t n = (size_t)(eol - line);
    if (n > HT_ERR_TEXT - 1) n = HT_ERR_TEXT - 1;
    memcpy(p->error_text, line, n);
    p->error_text[n] = '\0';
    for (size_t i = 0; i < n; i++) { /* keep the message printable */
        unsigned char c = (unsigned char)p->error_text[i];
        if (c < 0x20 || c == 0x7F) p->error_text[i] = '?';
    }
    p->error = code;
    p->error_line = p->line_no;
}

/* Parse one non-blank line [s, e). Returns HT_OK or an error code. */
static int parse_line(hermes_trace_parser *p, const char *s, const char *e, uint64_t *addr,
                      uint8_t *is_write, int64_t *vec)
{
    uint8_t w;
    if (p->fmt == HT_FMT_LOADSTORE) {
        if (e - s < 2) return HT_E_SYNTAX;
        if (s[0] == 'L' && s[1] == 'D') w = 0;
        else if (s[0] == 'S' && s[1] == 'T') w = 1;
        else return HT_E_SYNTAX;
        s += 2;
    } else {
        if (s[0] == 'R') w = 0;
        else if (s[0] == 'W') w = 1;
        else return HT_E_SYNTAX;
        s += 1;
    }
    if (s == e || !is_blank(*s)) return HT_E_SYNTAX;
    while (s < e && is_blank(*s)) s++;
    if (s == e) return HT_E_SYNTAX;

    uint64_t v;
    int rc;
    if (p->fmt == HT_FMT_READWRITE && memchr(s, ',', (size_t)(e - s))) {
        /* Ramulator2 address vector: decimal level indices separated by commas. */
        int64_t tmp[HT_MAX_LEVELS];
        int n = 0;
        for (;;) {
            uint64_t x;
            rc = parse_number(&s, e, 0, &x);
            if (rc != HT_OK) return rc;
            if (x > (uint64_t)INT64_MAX) return HT_E_RANGE;
            if (n == HT_MAX_LEVELS) return HT_E_VECLEN;
            tmp[n++] = (int64_t)x;
            if (s < e && *s == ',') { s++; continue; }
            break;
        }
        while (s < e && is_blank(*s)) s++;
        if (s != e) return HT_E_SYNTAX;
        if (p->vec_len == -1 && vec) p->vec_len = n;
        if (n != p->vec_len) return HT_E_VECLEN;
        *addr = 0;
        *is_write = w;
        for (int i = 0; i < n; i++) vec[i] = tmp[i];
        return HT_OK;
    }
    if (p->vec_len > 0) return HT_E_VECLEN; /* a flat address in a vector file */
    rc = parse_number(&s, e, 1, &v);
    if (rc != HT_OK) return rc;
    while (s < e && is_blank(*s)) s++;
    if (s != e) return HT_E_SYNTAX;
    if (p->fmt == HT_FMT_READWRITE && p->vec_len == -1) p->vec_len = 0;
    if (p->capacity_bytes && v >= p->capacity_bytes) {
        p->error_value = v;
        return HT_E_CAPACITY;
    }
    *addr = v;
    *is_write = w;
    return HT_OK;
}

int64_t hermes_trace_parse(hermes_trace_parser *p, const char *buf, size_t len, int is_final,
                           uint64_t *addr, uint8_t *is_write, int64_t *addr_vec, size_t cap,
                           size_t *consumed)
{
    size_t pos = 0;
    size_t n = 0;
    *consumed = 0;
    if (p->error) return -1;
    const int fast_fmt = p->fmt == HT_FMT_LOADSTORE && p->capacity_bytes != 0;
    while (pos < len && n < cap) {
        const char *line = buf + pos;
        /* Fast path for the common line "LD 0x<1-16 hex digits>\n" (or ST): parsed in place,
         * with no search for the newline. Anything else (blanks, \r, comments, decimal, a 17th
         * digit, a line without its newline yet, a capacity error) goes the general way below,
         * which gives the same record for every line this accepts. */
        if (fast_fmt && len - pos >= 7 && line[2] == ' ' && line[3] == '0' && line[4] == 'x' &&
            ((line[0] == 'L' && line[1] == 'D') || (line[0] == 'S' && line[1] == 'T'))) {
            const char *q = line + 5, *end = buf + len;
            const char *lim = end - q > 17 ? q + 17 : end; /* 16 digits and the newline */
            uint64_t v = 0;
            unsigned char d;
            while (q < lim && (d = hex_value[(unsigned char)*q]) != 0xFF) {
                v = (v << 4) | d;
                q++;
            }
            if (q > line + 5 && q < lim && *q == '\n' && v < p->capacity_bytes) {
                p->line_no++;
                addr[n] = v;
                is_write[n] = line[0] == 'S';
                n++;
                pos = (size_t)(q - buf) + 1;
                continue;
            }
        }
        const char *nl = memchr(line, '\n', len - pos);
        const char *eol;
        size_t next;
        if (nl) {
            eol = nl;
            next = (size_t)(nl - buf) + 1;
        } else {
            if (!is_final) break;
            eol = buf + len;
            next = len;
        }
        p->line_no++;
        const char *e = eol;
        if (e > line && e[-1] == '\r') e--;
        const char *s = line;
        while (s < e && is_blank(*s)) s++;
        while (e > s && is_blank(e[-1])) e--;
        if (s < e && *s != '#') {
            if (memchr(s, '\0', (size_t)(e - s))) {
                set_error(p, HT_E_NUL, line, eol);
                return -1;
            }
            int rc = parse_line(p, s, e, addr + n, is_write + n,
                                addr_vec ? addr_vec + n * HT_MAX_LEVELS : NULL);
            if (rc != HT_OK) {
                set_error(p, rc, line, eol);
                return -1;
            }
            n++;
        }
        pos = next;
    }
    *consumed = pos;
    p->records += n;
    return (int64_t)n;
}

int64_t hermes_trace_format_loadstore(const uint64_t *addr, const uint8_t *is_write, size_t n,
                                      char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (cap - pos < 22) return -1;
        out[pos++] = is_write[i] ? 'S' : 'L';
        out[pos++] = is_write[i] ? 'T' : 'D';
        out[pos++] = ' ';
        out[pos++] = '0';
        out[pos++] = 'x';
        uint64_t v = addr[i];
        int nd = 1;
        while (nd < 16 && (v >> (4 * nd))) nd++;
        for (int k = nd - 1; k >= 0; k--) out[pos++] = digits[(v >> (4 * k)) & 0xF];
        out[pos++] = '\n';
    }
    return (int64_t)pos;
}
