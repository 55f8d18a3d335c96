/* Internal: a small open-addressing hash map from 32-byte hashes to u64
 * values (linear probing, backward-shift deletion). Not installed. */
#ifndef LC_MAP_H
#define LC_MAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t key[32];
    uint64_t val;
    int used;
} lc_map_ent;

typedef struct {
    lc_map_ent *e;
    size_t cap, n;
} lc_map;

static inline size_t lc_map_slot(const lc_map *m, const uint8_t *k) {
    uint64_t h;
    memcpy(&h, k, 8);
    return (size_t)(h * 0x9E3779B97F4A7C15ull >> 7) & (m->cap - 1);
}

static inline lc_map_ent *lc_map_get(lc_map *m, const uint8_t k[32]) {
    if (!m->cap)
        return NULL;
    for (size_t i = lc_map_slot(m, k);; i = (i + 1) & (m->cap - 1)) {
        if (!m->e[i].used)
            return NULL;
        if (memcmp(m->e[i].key, k, 32) == 0)
            return &m->e[i];
    }
}

static inline int lc_map_put(lc_map *m, const uint8_t k[32], uint64_t v) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        lc_map_ent *ne = calloc(nc, sizeof *ne);
        if (!ne)
            return -1;
        lc_map old = *m;
        m->e = ne;
        m->cap = nc;
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.e[i].used)
                lc_map_put(m, old.e[i].key, old.e[i].val);
        free(old.e);
    }
    size_t i = lc_map_slot(m, k);
    while (m->e[i].used) {
        if (memcmp(m->e[i].key, k, 32) == 0) {
            m->e[i].val = v;
            return 0;
        }
        i = (i + 1) & (m->cap - 1);
    }
    memcpy(m->e[i].key, k, 32);
    m->e[i].val = v;
    m->e[i].used = 1;
    m->n++;
    return 0;
}

static inline void lc_map_del(lc_map *m, const uint8_t k[32]) {
    lc_map_ent *e = lc_map_get(m, k);
    if (!e)
        return;
    size_t i = (size_t)(e - m->e);
    e->used = 0;
    m->n--;
    for (size_t j = (i + 1) & (m->cap - 1); m->e[j].used; j = (j + 1) & (m->cap - 1)) {
        size_t h = lc_map_slot(m, m->e[j].key);
        /* move j back to i if its home slot is not in (i, j] */
        int move = (i <= j) ? (h <= i || h > j) : (h <= i && h > j);
        if (move) {
            m->e[i] = m->e[j];
            m->e[j].used = 0;
            i = j;
        }
    }
}

static inline void lc_map_free(lc_map *m) {
    free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}

#endif
