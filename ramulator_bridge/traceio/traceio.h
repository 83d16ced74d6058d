/* traceio.h: fast parsing and formatting of Ramulator2 text memory traces.
 *
 * Formats (one request per line):
 *   LoadStoreTrace  "LD <address>" (read) / "ST <address>" (write)
 *   ReadWriteTrace  "R <address>"  (read) / "W <address>"  (write)
 * <address> is a byte address, hexadecimal with a 0x/0X prefix or decimal. ReadWriteTrace also
 * accepts Ramulator2's address vectors, "R 0,0,1,2,100,5" (decimal level indices: channel, rank,
 * bank group, bank, row, column); all lines of one file then have the same vector length.
 * Tokens are separated by spaces or tabs; leading/trailing blanks, CRLF line ends, empty lines
 * and lines starting with '#' are accepted (skipped).
 *
 * Parsing is incremental: the caller hands over consecutive byte blocks of the file; only whole
 * lines are consumed (a line cut by the end of a block is left for the next call, together with
 * the next block), except in the final call, which also parses a last line without newline.
 * Line numbers are 1-based and count every line of the file, skipped ones included.
 */
#ifndef HERMES_TRACEIO_H
#define HERMES_TRACEIO_H
#include <stddef.h>
#include <stdint.h>

enum {
    HT_FMT_LOADSTORE = 1, /* LD / ST */
    HT_FMT_READWRITE = 2, /* R / W */
    HT_MAX_LEVELS = 8,    /* longest accepted address vector */
    HT_ERR_TEXT = 120     /* bytes kept of an offending line (NUL terminated) */
};

/* Error codes (hermes_trace_parser.error). */
enum {
    HT_OK = 0,
    HT_E_SYNTAX = 1,   /* not "<op> <address>" */
    HT_E_RANGE = 2,    /* number does not fit in 64 bits */
    HT_E_CAPACITY = 3, /* byte address >= capacity_bytes (error_value holds it) */
    HT_E_VECLEN = 4,   /* address vector length differs from the file's first one (or flat/vector mix) */
    HT_E_NUL = 5       /* NUL byte in the text (binary file?) */
};

typedef struct {
    int fmt;                 /* HT_FMT_LOADSTORE or HT_FMT_READWRITE */
    int vec_len;             /* -1 unknown yet, 0 flat byte addresses, >= 2 address vector length */
    uint64_t capacity_bytes; /* 0: no check; else every flat address must be < capacity_bytes */
    uint64_t line_no;        /* lines consumed so far */
    uint64_t records;        /* records produced so far */
    int error;               /* HT_OK or HT_E_* (sticky: later calls return -1 at once) */
    uint64_t error_line;     /* 1-based line number of the first bad line */
    uint64_t error_value;    /* HT_E_CAPACITY: the offending address */
    char error_text[120];    /* the first bad line (truncated to HT_ERR_TEXT - 1 bytes) */
} hermes_trace_parser;

void hermes_trace_parser_init(hermes_trace_parser *p, int fmt, uint64_t capacity_bytes);

/* Parse whole lines of buf[0, len) (and, if is_final, a last unterminated line). Writes at most
 * cap records: addr[i] (flat mode) or addr_vec[i * HT_MAX_LEVELS + level] (vector mode; addr[i]
 * is then 0), and is_write[i] (0 or 1). addr_vec may be NULL when vectors are not accepted
 * (LoadStoreTrace, or vec_len == 0). Sets *consumed to the bytes consumed (always whole lines).
 * Returns the number of records written, or -1 on a bad line (see error fields). */
int64_t hermes_trace_parse(hermes_trace_parser *p, const char *buf, size_t len, int is_final,
                           uint64_t *addr, uint8_t *is_write, int64_t *addr_vec, size_t cap,
                           size_t *consumed);

/* Format n requests as LoadStoreTrace lines "LD 0x<hex>\n" / "ST 0x<hex>\n" (lowercase hex, as
 * the Ramulator2 reference traces). Writes at most cap bytes; returns the bytes written, or -1
 * if cap is too small (cap >= 22 * n always suffices). */
int64_t hermes_trace_format_loadstore(const uint64_t *addr, const uint8_t *is_write, size_t n,
                                      char *out, size_t cap);

#endif /* HERMES_TRACEIO_H */
