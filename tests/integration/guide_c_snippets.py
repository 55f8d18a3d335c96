#!/usr/bin/env python3
"""Turn the C snippets of a guide into one C file that must compile.

    guide_c_snippets.py GUIDE.md OUT.c

Each ```c block of the guide becomes the body of its own function; the
variables the snippets use without declaring them (the reader's own data: a
seed, a data ID, a codec ...) are declared once, extern, in the prelude below.
run_cpp_round.sh compiles the result against the staged install with
-Wall -Wextra -Werror, so a guide snippet that calls a function that does not
exist, or with the wrong arguments, fails the test. (The snippets' behaviour is
exercised by cpp_round.cpp, which makes the same calls against live nodes.)
"""
import re
import sys

PRELUDE = """\
#include <stdio.h>
#include <string.h>

#include <abac.h>
#include <fedavg.h>
#include <fedshare.h>
#include <phe.h>

/* what the reader already has */
extern const uint8_t seed[32], enc_hash[32], key_id[32], aggregator_key[32], structure_hash[32];
extern const uint8_t *policy_bytes, *keys, *data_ids, *codec_bytes;
extern size_t policy_len, n, packed_len;
extern uint64_t now, height_from_another_member;
extern const float *initial, *update;
extern const fedavg_codec *codec;
extern uint32_t weight, round_no, samples;
extern uint8_t *packed;
extern const phe_pubkey *pk;
extern phe_ctx *ctx;
extern double norm, cosine, metric;
extern const phe_threshold_params *params;
extern const phe_threshold_keyshare *share;
/* what earlier snippets made */
extern fedshare_client *cl;
extern int rc;
extern uint8_t data_id[32], model_id[32], task[32];
extern uint8_t *pl;
extern size_t len;
"""


def main(argv):
    if len(argv) != 3:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    text = open(argv[1], encoding="utf-8").read()
    blocks = re.findall(r"^```c\n(.*?)^```$", text, flags=re.S | re.M)
    if not blocks:
        print(f"no C blocks in {argv[1]}", file=sys.stderr)
        return 1
    out = [PRELUDE]
    for i, b in enumerate(blocks, 1):
        # the line of the block in the guide, so that a compiler error points there
        line = text[: text.index(b)].count("\n") + 1
        out.append(f"void guide_snippet_{i}(void);\nvoid guide_snippet_{i}(void) {{\n"
                   f'#line {line} "{argv[1]}"\n{b}}}\n')
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print(f"{len(blocks)} C snippets of {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
