// fedshare.h compiles alone as C++ and links with C linkage.
#include "fedshare.h"
#include "fedshare/version.h"

int main() {
    return fedshare_version_string() ? 0 : 1;
}
