/* abac.h and abac/version.h compile alone, as C11. */
#include "abac.h"
#include "abac/version.h"

int main(void) {
    abac_compile_options o = ABAC_COMPILE_OPTIONS_INIT;
    return o.version == ABAC_COMPILE_OPTIONS_VERSION && ABAC_VERSION_MAJOR >= 0 ? 0 : 1;
}
