/* Benchmark hooks of libledger: not part of the public headers or the ABI
 * (docs/contributing.md). Built into the static ledger_bench library
 * (libledger/meson.build) that only the benchmarks link. Never installed. */
#ifndef LEDGER_BENCH_H
#define LEDGER_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Append @p blocks blocks of @p txs_per_block signed key-value put
 * transactions with @p payload-byte values to a fresh store at @p path (which
 * must not exist), using ledger_kv_app() and a 4-member membership whose keys
 * are derived from fixed seeds. Reports wall seconds of the appends only
 * (blocks built, signed and certified beforehand).
 * @return LEDGER_OK or an error code.
 */
int ledger_bench_append(const char *path, uint32_t sync, size_t blocks, size_t txs_per_block,
                        size_t payload, double *seconds);

#ifdef __cplusplus
}
#endif
#endif /* LEDGER_BENCH_H */
