// abac.h compiles alone as C++ and links.
#include "abac.h"

int main() {
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    return o.version == ABAC_COMPILE_OPTIONS_VERSION && abac_strerror(ABAC_OK) ? 0 : 1;
}
