/* fedshare.h compiles alone as C11 (and every module header through it). */
#include "fedshare.h"

int main(void) {
    return fedshare_strerror(FEDSHARE_OK) == 0;
}
