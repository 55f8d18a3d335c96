/* abac/cedar.h compiles alone, as C11. */
#include "abac/cedar.h"

int main(void) {
    return abac_cedar_policy_count(NULL) == 0 ? 0 : 1;
}
