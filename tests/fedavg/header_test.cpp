// fedavg.h compiles alone as C++ and links with C linkage.
#include "fedavg.h"
#include "fedavg/version.h"

int main() {
    fedavg_codec_config cfg = FEDAVG_CODEC_CONFIG_INIT;
    return (cfg.version == FEDAVG_CODEC_CONFIG_VERSION && fedavg_version_string()) ? 0 : 1;
}
