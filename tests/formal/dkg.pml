/*
 * The message flow of libphe's dealerless key ceremony (libphe/src/dkg.c:
 * phe_dkg_start, phe_dkg_handle -> take / apply / advance, phe_dkg_finish;
 * docs/phe-dkg.md). docs/formal.md maps every state below to the C.
 *
 * Bounds: l = 3 holders, t = 2; holders 1 and 2 are honest (this model's
 * processes), holder 3 is an adversary that may, towards each honest holder
 * separately: send a DSHARE whose share does not match the commitments it
 * carries, send different commitments to different holders (equivocation),
 * send any CONFIRM (including one made to match what the receiver holds),
 * vote any way in the candidate rounds (so honest holders may disagree on a
 * candidate), or fall silent at any point. At most 2 batches of candidates
 * (PHE_DKG_MAX_CANDIDATES in the C is larger); a batch fails after NSHARE (no
 * candidate survives trial division), BIP1 or BIP2 or passes, by the honest
 * holders' common values and the adversary's.
 *
 * Abstracted: all arithmetic. A commitment vector is named by a value
 * (honest holder j's is j; the adversary's is 3 or 4), the Feldman check of
 * a share against the commitments that came with it (v^(Delta f) =
 * prod E_m^(me^m)) is a bit the sender chooses, hashes are perfect. The
 * adversary sends each honest holder at most one message per round, in the
 * round that holder is in or the next (a message of another session,
 * malformed, of another round or a duplicate is refused by take() and
 * changes nothing: tests/phe/test_dkg.c). Links are FIFO per pair of
 * holders (TCP), in any order across pairs.
 *
 * Property (assertion at DONE): a holder ends with a key share only if the
 * share of every other holder was checked against that holder's
 * commitments, and every honest holder holds the same commitments from
 * every holder (so every verification key is the same everywhere).
 *
 * Compile-time switches (broken twins, each must fail):
 *   NO_FELDMAN=1  apply() takes a DSHARE without the Feldman check;
 *   NO_CONFIRM=1  apply() takes a CONFIRM without comparing the hashes.
 */

#define L     3
#define ADV   3
#define MAXB  2
#ifndef NO_FELDMAN
#define NO_FELDMAN 0
#endif
#ifndef NO_CONFIRM
#define NO_CONFIRM 0
#endif

/* phases (PH_*) and message types (T_*): a round's type is its phase's */
#define PH_PQ      1
#define PH_NSHARE  2
#define PH_BIP1    3
#define PH_BIP2    4
#define PH_BETA    5
#define PH_THETA   6
#define PH_DSHARE  7
#define PH_CONFIRM 8
#define PH_DONE    9
#define PH_FAILED  10

/* a message: type, round, c (commitments named; CONFIRM: what the sender
 * holds from holder 3 — it holds 1 and 2 from the honest ones, the only
 * entries that can differ are holder 3's and those sent by holder 3),
 * ok (the candidate vote, or the share matching its commitments), c1, c2
 * (CONFIRM: the commitments it holds from holders 1 and 2) */
chan link[L * L] = [2] of { byte, byte, byte, bit, byte, byte };
#define LINK(from, to) link[((from) - 1) * L + (to) - 1]

byte fail_at[MAXB + 1]; /* per batch: 0 passes, else the phase whose end rejects it */
byte phase[L + 1];
byte E[(L + 1) * (L + 1)]; /* E[i][j]: the commitments holder i holds from holder j */
bit chk[(L + 1) * (L + 1)]; /* chk[i][j]: holder j's share to i checked against them */
byte rnd[L + 1];            /* each holder's round */
bit got[(L + 1) * (L + 1)];
#define IDX(i, j) ((i) * (L + 1) + (j))

/* the honest vote in a candidate round of batch b */
#define VOTE(b, ph) (fail_at[b] != (ph))

/* the adversary's messages of the round holder i is in (sent at most once) */
bit adv_sent[(L + 1) * 24];
bit adv_silent;

/* next_round */
inline next_round(ph) {
    phase[me] = ph;
    rnd[me]++;
    got[IDX(me, 1)] = 0; got[IDX(me, 2)] = 0; got[IDX(me, 3)] = 0;
    got[IDX(me, me)] = 1;
    pass = 1
}

/* send this round's message to every other holder (addressed or broadcast,
 * which the model does not tell apart: each pair has its own link) */
inline send_all(ty, c, ok, c1, c2) {
    k = 1;
    do
    :: k > L -> break
    :: k <= L && k != me && k != ADV -> LINK(me, k)!ty, rnd[me], c, ok, c1, c2; k++
    :: k <= L && (k == me || k == ADV) -> k++
    od;
    k = 0
}

/* advance: the end of a round (every message in) */
inline advance() {
    if
    :: phase[me] == PH_PQ -> next_round(PH_NSHARE); send_all(PH_NSHARE, 0, VOTE(batch, PH_NSHARE), 0, 0)
    :: phase[me] == PH_NSHARE && pass -> next_round(PH_BIP1); send_all(PH_BIP1, 0, VOTE(batch, PH_BIP1), 0, 0)
    :: phase[me] == PH_BIP1 && pass -> next_round(PH_BIP2); send_all(PH_BIP2, 0, VOTE(batch, PH_BIP2), 0, 0)
    :: phase[me] == PH_BIP2 && pass -> next_round(PH_BETA); send_all(PH_BETA, 0, 1, 0, 0)
    :: (phase[me] == PH_NSHARE || phase[me] == PH_BIP1 || phase[me] == PH_BIP2) && !pass ->
        /* no candidate: the next batch (send_pq), or give up */
        if
        :: batch >= MAXB -> phase[me] = PH_FAILED /* PHE_ERR_DKG_GIVE_UP */
        :: else -> batch++; next_round(PH_PQ); send_all(PH_PQ, 0, 1, 0, 0)
        fi
    :: phase[me] == PH_BETA -> next_round(PH_THETA); send_all(PH_THETA, 0, 1, 0, 0)
    :: phase[me] == PH_THETA ->
        /* send_dshare: own commitments, a share to each holder */
        E[IDX(me, me)] = me; chk[IDX(me, me)] = 1;
        next_round(PH_DSHARE); send_all(PH_DSHARE, me, 1, 0, 0)
    :: phase[me] == PH_DSHARE ->
        next_round(PH_CONFIRM);
        send_all(PH_CONFIRM, E[IDX(me, ADV)], 1, E[IDX(me, 1)], E[IDX(me, 2)])
    :: phase[me] == PH_CONFIRM ->
        /* finish_key: the holder ends with its key share */
        phase[me] = PH_DONE;
        assert(chk[IDX(me, 1)] && chk[IDX(me, 2)] && chk[IDX(me, 3)]);
        assert(E[IDX(1, 1)] == E[IDX(2, 1)] && E[IDX(1, 2)] == E[IDX(2, 2)] &&
               E[IDX(1, 3)] == E[IDX(2, 3)])
    fi
}

/* apply one message of the current round from holder f */
inline apply(f, ty, c, ok, c1, c2) {
    if
    :: ty == PH_DSHARE ->
        if
        :: !ok && !NO_FELDMAN -> phase[me] = PH_FAILED /* PHE_ERR_DKG_BLAME, fatal */
        :: else -> E[IDX(me, f)] = c; chk[IDX(me, f)] = ok
        fi
    :: ty == PH_CONFIRM ->
        if
        :: !NO_CONFIRM && (c != E[IDX(me, ADV)] || c1 != E[IDX(me, 1)] || c2 != E[IDX(me, 2)]) ->
            phase[me] = PH_FAILED /* PHE_ERR_DKG_INCONSISTENT, fatal */
        :: else -> skip
        fi
    :: ty == PH_NSHARE || ty == PH_BIP1 || ty == PH_BIP2 -> pass = pass && ok
    :: else -> skip
    fi;
    if :: phase[me] != PH_FAILED -> got[IDX(me, f)] = 1 :: else -> skip fi
}

/* take(): one message from holder f, the current round (applied) or the
 * next (kept) */
inline take() {
    LINK(f, me)?ty, r, c, ok, c1, c2;
    /* take() */
    if
    :: r == rnd[me] + 1 && !pend[f] ->
        pend[f] = 1; pty[f] = ty; pc[f] = c; pok[f] = ok; pc1[f] = c1; pc2[f] = c2
    :: r == rnd[me] + 1 && pend[f] -> skip /* PHE_ERR_DKG_DUPLICATE */
    :: r != rnd[me] + 1 && (r != rnd[me] || ty != phase[me] || got[IDX(me, f)]) ->
        skip /* PHE_ERR_DKG_ROUND or _DUPLICATE: dropped */
    :: r == rnd[me] && ty == phase[me] && !got[IDX(me, f)] ->
        apply(f, ty, c, ok, c1, c2);
        /* end of round: advance, then replay what was kept */
        do
        :: phase[me] != PH_DONE && phase[me] != PH_FAILED &&
           got[IDX(me, 1)] && got[IDX(me, 2)] && got[IDX(me, 3)] ->
            advance();
            k = 1;
            do
            :: k > L -> break
            :: k <= L && pend[k] && phase[me] != PH_DONE && phase[me] != PH_FAILED ->
                pend[k] = 0;
                if
                :: pty[k] == phase[me] -> apply(k, pty[k], pc[k], pok[k], pc1[k], pc2[k])
                :: else -> skip /* PHE_ERR_DKG_ROUND */
                fi;
                pty[k] = 0; pc[k] = 0; pok[k] = 0; pc1[k] = 0; pc2[k] = 0;
                k++
            :: k <= L && !(pend[k] && phase[me] != PH_DONE && phase[me] != PH_FAILED) -> k++
            od;
            k = 0
        :: else -> break
        od
    fi;
    f = 0; ty = 0; r = 0; c = 0; ok = 0; c1 = 0; c2 = 0
}

proctype holder(byte me) {
    byte batch = 1, k, f, ty, r, c, c1, c2;
    bit ok, pass;
    /* kept early messages (the next round), one per sender */
    bit pend[L + 1];
    byte pty[L + 1], pc[L + 1], pc1[L + 1], pc2[L + 1];
    bit pok[L + 1];
    atomic { next_round(PH_PQ); send_all(PH_PQ, 0, 1, 0, 0) } /* phe_dkg_start */
end:
    do
    :: phase[me] == PH_DONE || phase[me] == PH_FAILED -> break
    :: atomic { phase[me] < PH_DONE && me != 1 && nempty(LINK(1, me)) -> f = 1; take() }
    :: atomic { phase[me] < PH_DONE && me != 2 && nempty(LINK(2, me)) -> f = 2; take() }
    :: atomic { phase[me] < PH_DONE && nempty(LINK(3, me)) -> f = 3; take() }
    od
}

/* holder 3: any message of the round holder i is in, once, or silence */
#define ADV_SEND(i)                                                                  \
    :: atomic {                                                                      \
        !adv_silent && phase[i] < PH_DONE && !got[IDX(i, ADV)] &&                     \
        !adv_sent[i * 24 + rnd[i]] && nfull(LINK(ADV, i)) ->                          \
        adv_sent[i * 24 + rnd[i]] = 1;                                               \
        if                                                                           \
        :: phase[i] == PH_DSHARE ->                                                  \
            if                                                                       \
            :: LINK(ADV, i)!PH_DSHARE, rnd[i], 3, 1, 0, 0                             \
            :: LINK(ADV, i)!PH_DSHARE, rnd[i], 4, 1, 0, 0 /* other commitments */    \
            :: LINK(ADV, i)!PH_DSHARE, rnd[i], 3, 0, 0, 0 /* a share that fails */   \
            fi                                                                       \
        :: phase[i] == PH_CONFIRM ->                                                 \
            if                                                                       \
            :: LINK(ADV, i)!PH_CONFIRM, rnd[i], E[IDX(i, ADV)], 1, 1, 2 /* agrees */ \
            :: LINK(ADV, i)!PH_CONFIRM, rnd[i], 7 - E[IDX(i, ADV)], 1, 1, 2          \
            fi                                                                       \
        :: phase[i] != PH_DSHARE && phase[i] != PH_CONFIRM ->                        \
            if                                                                       \
            :: LINK(ADV, i)!phase[i], rnd[i], 0, 1, 0, 0                              \
            :: (phase[i] == PH_NSHARE || phase[i] == PH_BIP1 || phase[i] == PH_BIP2) ->  \
                LINK(ADV, i)!phase[i], rnd[i], 0, 0, 0, 0                             \
            fi                                                                       \
        fi                                                                           \
    }

active proctype adversary() {
end:
    do
    ADV_SEND(1)
    ADV_SEND(2)
    :: atomic { !adv_silent -> adv_silent = 1 }
    od
}

init {
    atomic {
        /* the honest holders' common candidate outcome of each batch */
        if :: fail_at[1] = 0 :: fail_at[1] = PH_NSHARE :: fail_at[1] = PH_BIP1 :: fail_at[1] = PH_BIP2 fi;
        if :: fail_at[2] = 0 :: fail_at[2] = PH_NSHARE :: fail_at[2] = PH_BIP1 :: fail_at[2] = PH_BIP2 fi;
        run holder(1);
        run holder(2)
    }
}

/* Not vacuous: both honest holders can end with a key share (checked with
 * -N reach, which must give a "counterexample"). */
ltl reach { [] !(phase[1] == PH_DONE && phase[2] == PH_DONE) }
