// abac.h compiles alone as C++ and links.
#include "abac.h"
#include "abac/cedar.h"

int main() {
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    return o.version == ABAC_COMPILE_OPTIONS_VERSION && abac_strerror(ABAC_OK) &&
                   abac_cedar_policy_count(nullptr) == 0
               ? 0
               : 1;
}
