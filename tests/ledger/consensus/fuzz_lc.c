/* libFuzzer harness of one consensus decoder, chosen at build time with
 * -DFUZZ_<NAME> (frame, hello, preprepare, vote, checkpoint, viewchange,
 * newview, reply, config, snapoffer, snapget, snapdata, hdrget, hdrs). Each decoder must reject or
 * accept without reading out of bounds; an accepted message is walked completely. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "consensus/lc_msg.h"
#include "ledger/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    volatile size_t sink = 0;
#if defined(FUZZ_FRAME)
    size_t off = 0;
    const uint8_t *b;
    size_t bl;
    while (lc_frame_next(data, size, &off, &b, &bl) == 1) {
        lc_hello h;
        if (lc_hello_decode(&h, b, bl) == 0)
            sink += h.id;
        sink += bl;
    }
#elif defined(FUZZ_HELLO)
    lc_hello h;
    if (lc_hello_decode(&h, data, size) == 0)
        sink += h.id + h.role;
#elif defined(FUZZ_PREPREPARE)
    lc_preprepare m;
    if (lc_preprepare_decode(&m, data, size) == 0) {
        lc_proposal pr;
        if (lc_proposal_decode(&pr, m.proposal, m.proposal_len) == 0) {
            size_t off = 0;
            const uint8_t *t;
            size_t len;
            while (lc_proposal_next_tx(&pr, &off, &t, &len) == 0)
                sink += len;
        }
    }
#elif defined(FUZZ_VOTE)
    lc_vote v;
    if (lc_vote_decode(&v, LC_T_PREPARE, data, size) == 0)
        sink += v.seq;
#elif defined(FUZZ_CHECKPOINT)
    lc_checkpoint c;
    if (lc_checkpoint_decode(&c, data, size) == 0)
        sink += c.seq;
#elif defined(FUZZ_VIEWCHANGE)
    lc_viewchange vc;
    if (lc_viewchange_decode(&vc, data, size) == 0)
        sink += vc.nprepared + vc.cert_len;
#elif defined(FUZZ_NEWVIEW)
    lc_newview nv;
    if (lc_newview_decode(&nv, data, size) == 0)
        sink += nv.nvc + nv.npp;
#elif defined(FUZZ_REPLY)
    lc_reply r;
    if (lc_reply_decode(&r, data, size) == 0)
        sink += r.height;
#elif defined(FUZZ_SNAPOFFER)
    lc_snap_offer o;
    if (lc_snap_offer_decode(&o, data, size) == 0)
        sink += o.height + o.replica;
#elif defined(FUZZ_SNAPGET)
    lc_snap_get g;
    if (lc_snap_get_decode(&g, data, size) == 0) {
        for (size_t i = 0; i < g.resume_len; i++)
            sink += g.resume[i];
        sink += g.index;
    }
#elif defined(FUZZ_SNAPDATA)
    lc_snap_data d;
    if (lc_snap_data_decode(&d, data, size) == 0) {
        for (size_t i = 0; i < d.len; i++)
            sink += d.data[i];
        sink += d.index;
    }
#elif defined(FUZZ_HDRGET)
    lc_hdr_get g;
    if (lc_hdr_get_decode(&g, data, size) == 0)
        sink += g.top + g.max;
#elif defined(FUZZ_HDRS)
    lc_hdrs m;
    if (lc_hdrs_decode(&m, data, size) == 0) {
        size_t off = 0;
        const uint8_t *h, *c;
        size_t hl, cl;
        for (uint32_t i = 0; i < m.k; i++)
            if (lc_hdrs_next(&m, &off, &h, &hl, &c, &cl) == 0)
                sink += hl + cl + h[0] + c[cl - 1];
            else
                abort(); /* a decoded message walks completely */
    }
#elif defined(FUZZ_CONFIG)
    ledger_config *c;
    if (ledger_config_parse(&c, (const char *)data, size) == 0) {
        sink += ledger_config_replicas(c);
        ledger_config_free(c);
    }
#else
#error "define FUZZ_<NAME>"
#endif
    (void)sink;
    return 0;
}
