/*
 * PBFT as libledger runs it (libledger/src/consensus/lc_replica.c,
 * docs/ledger-protocol.md): normal case (PRE-PREPARE, PREPARE, COMMIT),
 * state transfer of certified blocks, and the view change from view 0 to
 * view 1 (VIEW-CHANGE, NEW-VIEW and its plan). docs/formal.md maps every
 * action below to the C function it stands for.
 *
 * Bounds: n = 4 replicas, f = 1; views 0 and 1; heights (sequence numbers)
 * 1 and 2; two different blocks (values 1, 2) may be proposed at each height.
 * Replica 0 is byzantine: it is the primary of view 0 and may pre-prepare
 * both blocks at every height (equivocation) or nothing (silence); as a
 * voter it is assumed to have sent every PREPARE and COMMIT it could sign
 * (the guards below only ever count votes, so "sent everything" includes
 * every choice of staying silent); its VIEW-CHANGE may claim any height it
 * holds a certificate for and carry or omit any prepared certificate that
 * exists. Replicas 1, 2, 3 are correct; replica 1 is the primary of view 1.
 *
 * Messages: a message once sent stays available (a monotone set); a replica
 * acts on it whenever it likes, or never, so loss, delay, duplication and
 * reordering are all covered. Signatures and hashes are perfect: a vote
 * names the block by its value.
 *
 * Not modelled: checkpoints and water marks (h = 0), client requests and
 * timestamps, the execution of blocks (a block is its value), a third view.
 *
 * Property (assertion in commit()): no two correct replicas commit different
 * blocks at one height.
 *
 * Compile-time switches:
 *   QUORUM=2       the broken twin: a quorum of 2f instead of 2f+1 for the
 *                  commit certificate and the NEW-VIEW (must fail).
 *   VOTE_IN_VC=1   broken twin, the rule lc_replica.c had until this model
 *                  found it (docs/formal.md, Findings): a replica that
 *                  sent VIEW-CHANGE, or moved to a newer view, still sends
 *                  COMMIT for a slot it prepared in the old view
 *                  (try_progress() does not look at in_vc or the view).
 *                  Without it (the default) a replica sends COMMIT only for
 *                  a slot of its current view while not in a view change,
 *                  as in Castro and Liskov (OSDI 1999, section 4.4).
 *   HONEST=1       no byzantine replica: replica 0 is a correct process too
 *                  (primary of view 0, one block per height). With
 *                  VOTE_IN_VC=1 this still gives a counterexample.
 */

#define N     4
#define F     1
#ifndef HONEST
#define HONEST 0
#endif
#if HONEST
#define BYZ   9 /* nobody: replica 0 is a correct process too */
#define FIRST 0
#else
#define BYZ   0
#define FIRST 1
#endif
#define NV    2 /* views 0 .. NV-1 */
#define NS    2 /* heights 1 .. NS */
#ifndef QUORUM
#define QUORUM (2 * F + 1) /* lc_replica_create: (n + f) / 2 + 1 */
#endif
#ifndef INFLIGHT
#define INFLIGHT 1 /* max_inflight: heights above the last executed one in progress */
#endif
#ifndef VOTE_IN_VC
#define VOTE_IN_VC 0
#endif

#define prim(v)      ((v) % N)
#define RS(r, s)     ((r) * (NS + 1) + (s))
#define RVS(r, v, s) (((r) * NV + (v)) * (NS + 1) + (s))
#define VS(v, s)     ((v) * (NS + 1) + (s))

/* replica state (correct replicas 1..3; index 0 unused) */
byte view[N];
bit invc[N];
byte lastx[N];           /* last_exec */
byte ppv[N * (NS + 1)];  /* slot: the accepted pre-prepare's block (0: none) */
byte ppw[N * (NS + 1)];  /* slot: its view (s->view) */
bit csent[N * (NS + 1)]; /* slot: commit_sent */
byte committed[N * (NS + 1)];

/* messages sent by correct replicas (0: none) */
byte P[N * NV * (NS + 1)]; /* PREPARE(v, s) of replica r names block P[] */
byte C[N * NV * (NS + 1)]; /* COMMIT(v, s) */
byte PP[NV * (NS + 1)];    /* PRE-PREPARE(v, s) of a correct primary */
bit vcs[N];                /* VIEW-CHANGE(1) sent */
byte vch[N];               /* its last (certified) height */
byte vcp[N * (NS + 1)];    /* its prepared certificate at s (block; 0: none) */
bit nvsent;
bit used[NS + 1];          /* a block value has been chosen at height s */
byte planmax;              /* the NEW-VIEW's max_s */

/* count_prepares: prepares from replicas other than the view's primary;
 * the byzantine replica counts whenever it is not that primary */
#define PR(j, v, s, x)   ((j) != prim(v) && P[RVS(j, v, s)] == (x))
#if HONEST
#define NPREP(v, s, x)   (PR(0, v, s, x) + PR(1, v, s, x) + PR(2, v, s, x) + PR(3, v, s, x))
#define NCOM(v, s, x)    ((C[RVS(0, v, s)] == (x)) + (C[RVS(1, v, s)] == (x)) + \
                          (C[RVS(2, v, s)] == (x)) + (C[RVS(3, v, s)] == (x)))
#else
#define NPREP(v, s, x)   (PR(1, v, s, x) + PR(2, v, s, x) + PR(3, v, s, x) + (prim(v) != BYZ))
#define NCOM(v, s, x)    ((C[RVS(1, v, s)] == (x)) + (C[RVS(2, v, s)] == (x)) + \
                          (C[RVS(3, v, s)] == (x)) + 1)
#endif
/* a commit certificate for block x at height s exists in some view */
#define CERT(s, x)       (NCOM(0, s, x) >= QUORUM || NCOM(1, s, x) >= QUORUM)
#define ANYCERT(s)       (CERT(s, 1) || CERT(s, 2))

/* A block value chosen at height s. The two values are interchangeable until
 * one of them is first chosen at s, so the first choice is value 1 (a
 * symmetry reduction: every state it leaves out is the image of a state it
 * keeps under swapping the two values at s, which the property ignores). */
#define CHOOSE(v, s) if :: v = 1 :: used[s] -> v = 2 fi; used[s] = 1

/* a correct replica appends block x at its next height (try_progress with
 * 2f+1 commits, or ledger_store_append of a fetched certified block) */
inline commit(me, x) {
#if HONEST
    assert(committed[RS(0, lastx[me] + 1)] == 0 || committed[RS(0, lastx[me] + 1)] == x);
#endif
    assert(committed[RS(1, lastx[me] + 1)] == 0 || committed[RS(1, lastx[me] + 1)] == x);
    assert(committed[RS(2, lastx[me] + 1)] == 0 || committed[RS(2, lastx[me] + 1)] == x);
    assert(committed[RS(3, lastx[me] + 1)] == 0 || committed[RS(3, lastx[me] + 1)] == x);
    committed[RS(me, lastx[me] + 1)] = x;
    /* the slot is dead from here on (every read is above last_exec) */
    ppv[RS(me, lastx[me] + 1)] = 0; ppw[RS(me, lastx[me] + 1)] = 0; csent[RS(me, lastx[me] + 1)] = 0;
    lastx[me]++
}

/* the slot may send COMMIT (try_progress) */
#if VOTE_IN_VC
#define MAY_VOTE(me, s) (1)
#else
#define MAY_VOTE(me, s) (!invc[me] && ppw[RS(me, s)] == view[me])
#endif

/* accept_preprepare / on_preprepare at height s (s > last_exec, not in a
 * view change, not already holding one of this view); a backup sends PREPARE */
#define ACCEPT(s)                                                                    \
    :: atomic {                                                                      \
        (!invc[me] && prim(view[me]) != me && s > lastx[me] && s <= lastx[me] + INFLIGHT && \
         !(ppv[RS(me, s)] != 0 && ppw[RS(me, s)] == view[me]) &&                      \
         (prim(view[me]) == BYZ || PP[VS(view[me], s)] != 0)) ->                      \
        if                                                                           \
        :: prim(view[me]) == BYZ -> CHOOSE(x, s)                                       \
        :: else -> x = PP[VS(view[me], s)]                                            \
        fi;                                                                          \
        ppv[RS(me, s)] = x; ppw[RS(me, s)] = view[me]; csent[RS(me, s)] = 0;          \
        P[RVS(me, view[me], s)] = x;                                                  \
        x = 0                                                                        \
    }

/* maybe_propose of a correct primary (view 1, after its NEW-VIEW) above the plan */
#define PROPOSE(s)                                                                   \
    :: atomic {                                                                      \
        (prim(view[me]) == me && (nvsent || view[me] == 0) && !invc[me] && s > planmax &&                \
         PP[VS(view[me], s)] == 0 && s > lastx[me] && s <= lastx[me] + INFLIGHT) ->   \
        CHOOSE(x, s);                                                                \
        PP[VS(view[me], s)] = x;                                                     \
        ppv[RS(me, s)] = x; ppw[RS(me, s)] = view[me]; csent[RS(me, s)] = 0;          \
        x = 0                                                                        \
    }

/* state transfer: a block of the next height with a commit certificate */
#define FETCH(w, y)                                                                  \
    :: atomic {                                                                      \
        (lastx[me] < NS && NCOM(w, lastx[me] + 1, y) >= QUORUM) -> commit(me, y)      \
    }

/* the byzantine replica's VIEW-CHANGE, chosen when the new primary collects
 * it: any certified height, and at each height above it any prepared
 * certificate of view 0 that exists (2f prepares besides the primary's), or none */
inline byz_vc() {
    if
    :: vch[BYZ] = 0
    :: ANYCERT(1) -> vch[BYZ] = 1
    :: ANYCERT(2) -> vch[BYZ] = 2
    fi;
    s = vch[BYZ] + 1;
    do
    :: s > NS -> break
    :: s <= NS ->
        if
        :: vcp[RS(BYZ, s)] = 0
        :: NPREP(0, s, 1) >= 2 * F -> vcp[RS(BYZ, s)] = 1
        :: NPREP(0, s, 2) >= 2 * F -> vcp[RS(BYZ, s)] = 2
        fi;
        s++
    od;
    vcs[BYZ] = 1
}

/* plan_newview over the VIEW-CHANGEs of replicas a, b, c: start above the
 * highest certified height; re-propose each prepared block (all are of view
 * 0 here, and two different prepared blocks of one view and height cannot
 * exist, which the model checks); a gap gets a block of the new primary's
 * choice (an empty block in C) */
inline plan(a, b, c) {
    lo = vch[a];
    if :: vch[b] > lo -> lo = vch[b] :: else -> skip fi;
    if :: vch[c] > lo -> lo = vch[c] :: else -> skip fi;
    planmax = lo;
    s = lo + 1;
    do
    :: s > NS -> break
    :: s <= NS ->
        y = vcp[RS(a, s)];
        if
        :: vcp[RS(b, s)] != 0 -> assert(y == 0 || y == vcp[RS(b, s)]); y = vcp[RS(b, s)]
        :: else -> skip
        fi;
        if
        :: c != a && vcp[RS(c, s)] != 0 -> assert(y == 0 || y == vcp[RS(c, s)]); y = vcp[RS(c, s)]
        :: else -> skip
        fi;
        if :: y != 0 -> planmax = s :: else -> skip fi;
        tmp[s] = y;
        s++
    od;
    s = lo + 1;
    do
    :: s > planmax -> break
    :: s <= planmax ->
        if
        :: tmp[s] != 0 -> PP[VS(1, s)] = tmp[s]
        :: tmp[s] == 0 -> CHOOSE(y, s); PP[VS(1, s)] = y; y = 0
        fi;
        tmp[s] = 0;
        s++
    od;
    tmp[1] = 0; tmp[2] = 0
}

active [4 - FIRST] proctype replica() {
    byte me = _pid + FIRST;
    byte x, y, s, lo;
    byte tmp[NS + 1];
end:
    do
    ACCEPT(1)
    ACCEPT(2)
    PROPOSE(1)
    PROPOSE(2)
    /* try_progress, prepared: pre-prepare and 2f matching prepares; send COMMIT */
    :: atomic {
        (lastx[me] < NS && ppv[RS(me, lastx[me] + 1)] != 0 && !csent[RS(me, lastx[me] + 1)] &&
         MAY_VOTE(me, lastx[me] + 1) &&
         NPREP(ppw[RS(me, lastx[me] + 1)], lastx[me] + 1, ppv[RS(me, lastx[me] + 1)]) >= 2 * F) ->
        s = lastx[me] + 1;
        C[RVS(me, ppw[RS(me, s)], s)] = ppv[RS(me, s)];
        csent[RS(me, s)] = 1;
        s = 0
    }
    /* try_progress, committed: 2f+1 matching commits of the slot's view */
    :: atomic {
        (lastx[me] < NS && csent[RS(me, lastx[me] + 1)] &&
         NCOM(ppw[RS(me, lastx[me] + 1)], lastx[me] + 1, ppv[RS(me, lastx[me] + 1)]) >= QUORUM) ->
        commit(me, ppv[RS(me, lastx[me] + 1)])
    }
    FETCH(0, 1)
    FETCH(0, 2)
    FETCH(1, 1)
    FETCH(1, 2)
    /* start_view_change(1): last certified height, and the prepared
     * certificates above it (a replica may not have received every prepare
     * that was sent, but it has those it prepared a slot with) */
    :: atomic {
        (view[me] == 0 && !invc[me]) ->
        invc[me] = 1;
        if
        :: nvsent -> goto vcdone /* NEW-VIEW(1) is out: the message is never read */
        :: else -> skip
        fi;
        vch[me] = lastx[me];
        s = lastx[me] + 1;
        do
        :: s > NS -> break
        :: s <= NS ->
            if
            :: ppv[RS(me, s)] != 0 && ppw[RS(me, s)] == 0 &&
               NPREP(0, s, ppv[RS(me, s)]) >= 2 * F -> vcp[RS(me, s)] = ppv[RS(me, s)]
            :: !csent[RS(me, s)] -> vcp[RS(me, s)] = 0
            fi;
            s++
        od;
        s = 0;
        vcs[me] = 1;
vcdone: skip
    }
    /* maybe_send_newview by the primary of view 1: its own VIEW-CHANGE and
     * QUORUM - 1 others; then enter_view and install_plan_pp */
    :: atomic {
        (me == prim(1) && view[me] == 0 && invc[me] && !nvsent) ->
        if
#if HONEST
        :: vcs[2] && vcs[3] -> plan(me, 2, 3)
        :: vcs[0] && vcs[2] -> plan(me, 0, 2)
        :: vcs[0] && vcs[3] -> plan(me, 0, 3)
#elif QUORUM == 3
        :: vcs[2] && vcs[3] -> plan(me, 2, 3)
        :: vcs[2] -> byz_vc(); plan(me, 2, BYZ)
        :: vcs[3] -> byz_vc(); plan(me, 3, BYZ)
#else
        :: vcs[2] -> plan(me, 2, me)
        :: vcs[3] -> plan(me, 3, me)
        :: byz_vc(); plan(me, BYZ, me)
#endif
        fi;
        nvsent = 1;
        view[me] = 1;
        invc[me] = 0;
        s = lastx[me] + 1;
        do
        :: s > planmax -> break
        :: s <= planmax ->
            ppv[RS(me, s)] = PP[VS(1, s)]; ppw[RS(me, s)] = 1; csent[RS(me, s)] = 0;
            s++
        od;
        /* the VIEW-CHANGE messages are never read again */
        s = 0;
        do
        :: s >= N -> break
        :: s < N -> vcs[s] = 0; vch[s] = 0; vcp[RS(s, 1)] = 0; vcp[RS(s, 2)] = 0; s++
        od;
        s = 0; lo = 0; y = 0
    }
    /* on_newview (or following f+1 replicas seen in view 1): enter view 1;
     * its pre-prepares are then accepted by ACCEPT */
    :: atomic { (view[me] == 0 && nvsent) -> view[me] = 1; invc[me] = 0 }
    od
}

/* Not vacuous: a run in which every correct replica commits both heights
 * after the view change exists (checked with -N reach, which must give a
 * "counterexample"). */
ltl reach { [] !(nvsent && lastx[1] == NS && lastx[2] == NS && lastx[3] == NS) }
