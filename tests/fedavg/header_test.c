/* fedavg.h compiles alone as C11 (and version.h through it). */
#include "fedavg.h"

int main(void) {
    return fedavg_strerror(FEDAVG_OK) == 0;
}
