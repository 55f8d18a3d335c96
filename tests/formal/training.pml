/*
 * The training contract of libfedshare as the replicas apply it, with the
 * members' clients around it (libfedshare/src/training.c fs_training_apply
 * and round_act; libfedshare/src/client.c; docs/fedshare-contracts.md
 * §Training). docs/formal.md maps every action below to its C case.
 *
 * Bounds: 3 participants (p0, p1, p2), each also a key holder, threshold
 * t = 2; one aggregator A (not a participant); min_updates = 2; round limit
 * R = 3; at most one faulty member, chosen at the start:
 *   none;
 *   p2 crashes (stops acting at any moment, for good);
 *   p2 lies: a wrong AGGREGATE_CHECK, a decryption share naming another
 *     aggregate or carrying a bad share, a wrong EVALUATION digest, an
 *     update that overflows its slots — at most LIES times, honest otherwise;
 *   A crashes;
 *   A lies: a wrong aggregate hash, a wrong model digest, a false verdict on
 *     a good share, a false SUM_REFUSED — at most LIES times.
 * The anomaly rule is abstracted to any verdict for any update; the stop
 * rule to "converged or not" after each evaluated round. Cryptography is
 * perfect: an aggregate, a share or a model is named by a value (1 = what
 * the honest recomputation gives, 2 = anything else); a share verifies iff
 * it is a good share; the content-addressed blob store returns only the
 * bytes of the hash asked for.
 *
 * Properties:
 *  (a) no decryption share is accepted for an aggregate that is not
 *      committed and checked: when the contract records a share, the round
 *      has a recorded aggregate, the share names it, and an honest holder's
 *      share is only recorded for the aggregate it recomputed itself; a round
 *      reaches finalize only with an aggregate an honest holder recomputed;
 *  (b) a member loads a global model only if it is the one the ledger
 *      committed, and that one was recomputed by every honest participant;
 *  (c) the round counter moves only in open_round, by one, from the end of
 *      a round (every evaluation agreed, skipped, or sum refused) or the end
 *      of joining, and never past R;
 *  (d) nothing stalls but a crash or a repeated lie: with no action left,
 *      the task is done, or a member crashed, or one lied twice (safety
 *      run, `timeout` below; docs/fedshare-contracts.md says both stall);
 *  (e) every task ends (LTL `ends`, run with -a -f and -DNOCRASH): with no
 *      crashed member the task reaches done (stop rule or round limit).
 *
 * Compile-time switch:
 *   SHARE_BEFORE_COMMIT=1  the broken twin: the contract takes decryption
 *                          shares already in the aggregate phase, before
 *                          the aggregate's hash is committed (must fail).
 */

#define NP    3 /* participants = key holders */
#define T     2 /* decryption threshold */
#define MINUP 2 /* min_updates */
#define R     3 /* round limit */
#ifndef LIES
#define LIES  3
#endif
#ifndef SHARE_BEFORE_COMMIT
#define SHARE_BEFORE_COMMIT 0
#endif

#define TRUE_V  1 /* what an honest recomputation gives */
#define OTHER_V 2

/* phases (FEDSHARE_PHASE_*) */
mtype = { JOINING, UPLOAD, AGGREGATE, DECRYPT, FINALIZE, EVALUATE, DONE };
/* faults */
mtype = { NONE, P_CRASH, P_LIE, A_CRASH, A_LIE };

mtype phase = JOINING;
mtype fault = NONE;
byte round;           /* t->round */
bit joined[NP];
bit up[NP];           /* r->up[i].present */
bit acc[NP];          /* verdict: accepted */
bit overflow;         /* an accepted update wrote past its slots */
bit skipped;
bit has_agg;
byte agg;             /* r->aggregate (0: none) */
byte refused;         /* r->refused */
bit checked[NP];
bit has_share[NP];    /* the holder is among r->share_holder */
bit share_good[NP];   /* the share would verify (perfect crypto) */
byte share_verdict[NP]; /* 0 none, 1 verified, 2 refused */
bit has_model;
byte model;           /* r->model */
bit evaluated[NP];
byte global = TRUE_V; /* t->global: the published initial model */
byte lies;            /* lies told so far by the faulty member */
bit crashed;          /* the crash has happened */
byte loaded[NP];      /* the model each participant last loaded */

#define LIAR(i)      (fault == P_LIE && (i) == 2)
#define P_UP(i)      (!(fault == P_CRASH && (i) == 2 && crashed))
#define A_UP         (!(fault == A_CRASH && crashed))
#define CAN_LIE      (lies < LIES)
#define GOOD_SHARES  ((has_share[0] && share_verdict[0] != 2) + \
                      (has_share[1] && share_verdict[1] != 2) + \
                      (has_share[2] && share_verdict[2] != 2))
#define REAL_GOOD    ((has_share[0] && share_good[0]) + (has_share[1] && share_good[1]) + \
                      (has_share[2] && share_good[2]))
#define ACCEPTED     (acc[0] + acc[1] + acc[2])

/* open_round: the only place the round counter moves */
inline open_round() {
    assert(round < R); /* (c) */
    round++;
    phase = UPLOAD;
    up[0] = 0; up[1] = 0; up[2] = 0;
    acc[0] = 0; acc[1] = 0; acc[2] = 0;
    overflow = 0; skipped = 0;
    has_agg = 0; agg = 0; refused = 0;
    checked[0] = 0; checked[1] = 0; checked[2] = 0;
    has_share[0] = 0; has_share[1] = 0; has_share[2] = 0;
    share_good[0] = 0; share_good[1] = 0; share_good[2] = 0;
    share_verdict[0] = 0; share_verdict[1] = 0; share_verdict[2] = 0;
    has_model = 0; model = 0;
    evaluated[0] = 0; evaluated[1] = 0; evaluated[2] = 0
}

/* a round ends without a new model (skipped, or its sum refused) */
inline end_round_no_model() {
    if
    :: round >= R -> phase = DONE /* a skipped or refused round counts */
    :: else -> open_round()
    fi
}

/* refuse_aggregate */
inline refuse_aggregate() {
    has_agg = 0; agg = 0; refused++;
    has_share[0] = 0; has_share[1] = 0; has_share[2] = 0;
    share_good[0] = 0; share_good[1] = 0; share_good[2] = 0;
    share_verdict[0] = 0; share_verdict[1] = 0; share_verdict[2] = 0;
    checked[0] = 0; checked[1] = 0; checked[2] = 0;
    phase = AGGREGATE
}

/* DECRYPTION_SHARE from holder i naming aggregate h, the share good or not */
inline decryption_share(i, h, good) {
    if
    :: (phase == DECRYPT || phase == FINALIZE || (SHARE_BEFORE_COMMIT && phase == AGGREGATE)) &&
       !skipped && ACCEPTED >= MINUP && !has_share[i] ->
        if
        :: has_agg && h != agg && phase == FINALIZE -> skip /* FEDSHARE_E_MISMATCH */
        :: has_agg && h != agg && phase != FINALIZE -> refuse_aggregate()
        :: !has_agg || h == agg ->
            /* (a): the share names the committed aggregate; an honest holder
             * names only what it recomputed */
            assert(has_agg && h == agg);
            assert(LIAR(i) || agg == TRUE_V);
            has_share[i] = 1; share_good[i] = good; share_verdict[i] = 0;
            if
            :: GOOD_SHARES >= T && phase != AGGREGATE ->
                assert(agg == TRUE_V); /* (a): finalize only what an honest holder recomputed */
                phase = FINALIZE
            :: else -> skip
            fi
        fi
    :: else -> skip /* refused, nothing changes */
    fi
}

/* a participant loads the committed global model (fedshare_fetch_global:
 * blob_get_checked + fedavg_model_digest against t->global) */
inline load(i) {
    loaded[i] = global;
    assert(loaded[i] == global && global == TRUE_V) /* (b) */
}

/* Each action is enabled only when it changes something, so that an
 * infinite run without progress is a real stall, not a repeated no-op. */

/* TASK_JOIN */
#define JOIN(i) \
    :: atomic { phase == JOINING && !joined[i] && P_UP(i) -> \
        joined[i] = 1; \
        if :: joined[0] && joined[1] && joined[2] -> open_round() :: else -> skip fi }

/* UPDATE_UPLOAD: the member loads the global model, trains and uploads; the
 * anomaly rule gives any verdict; close_uploads once all are in */
#define UPLOAD(i) \
    :: atomic { phase == UPLOAD && !up[i] && P_UP(i) -> \
        load(i); \
        up[i] = 1; \
        if :: acc[i] = 1 :: acc[i] = 0 fi; \
        if :: LIAR(i) && CAN_LIE && acc[i] -> lies++; overflow = 1 :: else -> skip fi; \
        if \
        :: up[0] && up[1] && up[2] -> \
            if \
            :: ACCEPTED < MINUP -> skipped = 1; end_round_no_model() \
            :: else -> phase = AGGREGATE \
            fi \
        :: else -> skip \
        fi }

/* AGGREGATE_CHECK from a participant: the hash it recomputed */
#define CHECK(i) \
    :: atomic { phase == DECRYPT && P_UP(i) && !checked[i] -> \
        h = TRUE_V; \
        if :: LIAR(i) && CAN_LIE -> lies++; h = OTHER_V :: else -> skip fi; \
        if :: h != agg -> refuse_aggregate() :: else -> checked[i] = 1 fi; \
        h = 0 }

/* DECRYPTION_SHARE from a key holder (fedshare_post_decryption_share: it
 * names the aggregate it recomputed, and makes a share only if that is the
 * recorded one) */
#define SHARE(i) \
    :: atomic { (phase == DECRYPT || phase == FINALIZE || (SHARE_BEFORE_COMMIT && phase == AGGREGATE)) && \
                !skipped && P_UP(i) && !has_share[i] && \
                !(phase == FINALIZE && !LIAR(i) && agg != TRUE_V) -> \
        if \
        :: LIAR(i) && CAN_LIE -> lies++; \
            if \
            :: true -> decryption_share(i, OTHER_V, 0) \
            :: true -> decryption_share(i, agg, 0) \
            :: true -> decryption_share(i, agg, 1) /* names what it did not check */ \
            fi \
        :: else -> decryption_share(i, TRUE_V, 1) \
        fi }

/* SHARE_VERDICT from the aggregator (fedshare_finalize_round) */
#define VERDICT(i) \
    :: atomic { (phase == DECRYPT || phase == FINALIZE) && A_UP && has_share[i] && share_verdict[i] == 0 -> \
        if \
        :: share_good[i] -> share_verdict[i] = 1 \
        :: !share_good[i] -> share_verdict[i] = 2 \
        :: share_good[i] && fault == A_LIE && CAN_LIE -> lies++; share_verdict[i] = 2 \
        fi; \
        if :: share_verdict[i] == 2 && GOOD_SHARES < T -> phase = DECRYPT :: else -> skip fi }

/* EVALUATION from a participant: the digest of the model it recomputed from
 * the recorded shares (fedshare_compute_global) and its metric */
#define EVAL(i) \
    :: atomic { phase == EVALUATE && P_UP(i) && !evaluated[i] -> \
        h = agg; \
        if :: LIAR(i) && CAN_LIE -> lies++; h = OTHER_V + TRUE_V - agg :: else -> skip fi; \
        if \
        :: h != model -> /* not what the shares give: the model is disputed */ \
            has_model = 0; model = 0; \
            evaluated[0] = 0; evaluated[1] = 0; evaluated[2] = 0; \
            phase = FINALIZE \
        :: else -> \
            evaluated[i] = 1; \
            if \
            :: evaluated[0] && evaluated[1] && evaluated[2] -> \
                global = model; /* every participant agreed */ \
                if \
                :: phase = DONE /* the stop rule: converged */ \
                :: round >= R -> phase = DONE /* the round limit */ \
                :: round < R -> open_round() \
                fi \
            :: else -> skip \
            fi \
        fi; \
        h = 0 }

/* a participant loads the final global model once the task is done */
#define FINAL_LOAD(i) \
    :: atomic { phase == DONE && !final[i] && P_UP(i) -> final[i] = 1; load(i) }

bit final[NP];

active proctype task() {
    byte h;
    if
    :: fault = NONE
    :: fault = P_LIE
    :: fault = A_LIE
#ifndef NOCRASH
    :: fault = P_CRASH
    :: fault = A_CRASH
#endif
    fi;
    do
    /* the faulty member crashes, for good */
    :: atomic { (fault == P_CRASH || fault == A_CRASH) && !crashed && phase != DONE -> crashed = 1 }
    JOIN(0) JOIN(1) JOIN(2)
    UPLOAD(0) UPLOAD(1) UPLOAD(2)
    /* AGGREGATE from the aggregator: the hash of the sum it computed */
    :: atomic { phase == AGGREGATE && A_UP ->
        if
        :: agg = TRUE_V
        :: fault == A_LIE && CAN_LIE -> lies++; agg = OTHER_V
        fi;
        has_agg = 1;
        phase = DECRYPT }
    CHECK(0) CHECK(1) CHECK(2)
    SHARE(0) SHARE(1) SHARE(2)
    VERDICT(0) VERDICT(1) VERDICT(2)
    /* SUM_REFUSED from the aggregator: the decrypted sum is out of range */
    :: atomic { phase == FINALIZE && A_UP && ((overflow && REAL_GOOD >= T) || (fault == A_LIE && CAN_LIE)) ->
        if :: !overflow -> lies++ :: else -> skip fi;
        end_round_no_model() }
    /* ROUND_FINALIZE from the aggregator: the digest of the model it computed
     * from t shares that verify (the model of aggregate a is named a) */
    :: atomic { phase == FINALIZE && A_UP && !has_model &&
                ((REAL_GOOD >= T && !overflow) || (fault == A_LIE && CAN_LIE)) ->
        if
        :: REAL_GOOD >= T && !overflow -> model = agg
        :: fault == A_LIE && CAN_LIE -> lies++; model = OTHER_V
        fi;
        has_model = 1;
        phase = EVALUATE }
    EVAL(0) EVAL(1) EVAL(2)
    FINAL_LOAD(0) FINAL_LOAD(1) FINAL_LOAD(2)
    /* (d) nothing else can happen: done, or a member crashed, or it lied
     * twice (two false verdicts on good shares leave fewer than t; two
     * false checks or evaluations in a row are documented to stall too) */
    :: timeout -> assert(phase == DONE || crashed || lies >= 2); break
    od
}

ltl ends { <> (phase == DONE) }
