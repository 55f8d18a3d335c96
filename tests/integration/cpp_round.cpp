/* One training round from a C++17 program linked through pkg-config, against
 * four live `fedshare-node` processes on loopback (tests/integration/run_cpp_round.sh
 * builds and runs it against a staged install of the C libraries).
 *
 *   cpp_round FEDSHARE_NODE_PROGRAM [WORK_DIR]
 *
 * It writes a consortium configuration (4 replicas, f = 1; 5 members: three
 * hospitals that provide data and hold key shares, a regulator, an aggregator
 * that also publishes models), one node file per replica (the shared lines
 * plus id, key_file, data_dir, metrics_port), starts the four nodes as
 * separate processes, and plays the round of tests/fedshare/test_round.c:
 * data registered, policies set, an access denied then granted, a 2-of-3
 * threshold key recorded (the checked-in test primes), the initial model
 * published, a task created and joined, three encrypted updates, the
 * encrypted sum, its check, two decryption shares, the finalized global model
 * recomputed and evaluated by every participant and compared with plain
 * FedAvg within the codec's error bound. Then it reads /health and /metrics,
 * traces a data set, stops every node with SIGTERM (exit status 0 expected)
 * and verifies each stopped node's chain.
 *
 * Exit status 0 when every check passes; 1 with a message naming the failed
 * step otherwise; 2 on a usage error. The node processes die on every path:
 * RAII stops them on return and on exceptions, a signal handler kills them
 * if this program is interrupted, and each node gets PR_SET_PDEATHSIG so it
 * dies if this program is killed outright. */
#include <abac.h>
#include <abac/cedar.h>
#include <fedavg.h>
#include <fedshare.h>
#include <ledger.h>
#include <phe.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// The checked-in test primes, shared by every test.
#include "../fixtures/free_port.h"
#include "../fixtures/safe_primes.h"

namespace fs = std::filesystem;

namespace {

constexpr uint32_t T = 20000; // ms per act
constexpr size_t NP = 40;     // model parameters
constexpr int NODES = 4;
constexpr int MEMBERS = 5; // 0..2 hospitals, 3 regulator, 4 aggregator+publisher

// ---- failures ------------------------------------------------------------

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &what) {
    throw Failure(what);
}

void expect(bool ok, const std::string &what) {
    if (!ok)
        fail(what);
}

// Any library's code: fedshare_strerror names every range (−100 … −599).
void check_rc(int rc, int want, const std::string &what) {
    if (rc != want)
        fail(what + ": got " + std::to_string(rc) + " (" + fedshare_strerror(rc) + "), expected " +
             std::to_string(want) + " (" + fedshare_strerror(want) + ")");
}
void check_ok(int rc, const std::string &what) {
    check_rc(rc, 0, what);
}

// ---- RAII over the C handles -------------------------------------------------

template <typename T, void (*Free)(T *)> struct Deleter {
    void operator()(T *p) const {
        Free(p);
    }
};
template <typename T, void (*Free)(T *)> using Handle = std::unique_ptr<T, Deleter<T, Free>>;

struct BufferDeleter {
    void operator()(void *p) const {
        fedshare_free(p);
    }
};
template <typename T> using Buffer = std::unique_ptr<T, BufferDeleter>; // fedshare_free()

using Client = Handle<fedshare_client, fedshare_client_close>;
using Params = Handle<phe_threshold_params, phe_threshold_params_free>;
using KeyShare = Handle<phe_threshold_keyshare, phe_threshold_keyshare_free>;
using Codec = Handle<fedavg_codec, fedavg_codec_free>;
using PolicySet = Handle<abac_cedar_policies, abac_cedar_policies_free>;
using Signer = Handle<ledger_signer, ledger_signer_free>;

// out(u) passes a T** to a C function and hands the result to u afterwards
// (the temporary lives until the end of the full expression, i.e. the call).
template <typename T, typename D> class OutPtr {
  public:
    explicit OutPtr(std::unique_ptr<T, D> &u) : u_(u) {
    }
    ~OutPtr() {
        u_.reset(p_);
    }
    OutPtr(const OutPtr &) = delete;
    OutPtr &operator=(const OutPtr &) = delete;
    operator T **() {
        return &p_;
    }

  private:
    std::unique_ptr<T, D> &u_;
    T *p_ = nullptr;
};
template <typename T, typename D> OutPtr<T, D> out(std::unique_ptr<T, D> &u) {
    return OutPtr<T, D>(u);
}

using Id = std::array<uint8_t, 32>;

// ---- small helpers -------------------------------------------------------

std::string hex(const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; i++) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

std::vector<uint8_t> unhex(const char *h) {
    std::vector<uint8_t> out;
    for (size_t i = 0; h[i] && h[i + 1]; i += 2)
        out.push_back((uint8_t)std::stoul(std::string(h + i, 2), nullptr, 16));
    return out;
}

Id random_id() {
    static std::random_device rd; // the kernel's generator on Linux
    Id out;
    for (auto &b : out)
        b = (uint8_t)rd();
    return out;
}

Id public_key_of(const Id &seed) {
    Signer s;
    check_ok(ledger_signer_from_seed(out(s), seed.data()), "ledger_signer_from_seed");
    Id pk;
    std::memcpy(pk.data(), ledger_signer_public_key(s.get()), 32);
    return pk;
}

int free_port() {
    int port = test_free_port();
    expect(port > 0, "a free loopback port below the ephemeral range");
    return port;
}

std::string http_get(int port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    expect(fd >= 0, "socket()");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0) {
        close(fd);
        fail("connect to the metrics port " + std::to_string(port));
    }
    std::string req = std::string("GET ") + path + " HTTP/1.0\r\n\r\n";
    if (write(fd, req.data(), req.size()) != (ssize_t)req.size()) {
        close(fd);
        fail("write the HTTP request");
    }
    std::string page;
    char buf[4096];
    ssize_t k;
    while ((k = read(fd, buf, sizeof buf)) > 0)
        page.append(buf, (size_t)k);
    close(fd);
    return page;
}

std::string read_file(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

bool contains(const std::string &hay, const std::string &needle) {
    return hay.find(needle) != std::string::npos;
}

// ---- the node processes ----------------------------------------------------

// Pids the signal handler kills (async-signal-safe: a fixed array).
volatile pid_t g_children[NODES] = {0, 0, 0, 0};

extern "C" void on_signal(int sig) {
    for (int i = 0; i < NODES; i++)
        if (g_children[i] > 0)
            kill(g_children[i], SIGKILL);
    static const char msg[] = "cpp_round: interrupted; node processes killed\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(128 + sig);
}

class NodeProcess {
  public:
    NodeProcess(int slot, std::string program, fs::path config, fs::path log)
        : slot_(slot), program_(std::move(program)), config_(std::move(config)),
          log_(std::move(log)) {
    }
    NodeProcess(const NodeProcess &) = delete;
    NodeProcess &operator=(const NodeProcess &) = delete;
    ~NodeProcess() {
        kill_now();
    }

    // fork + exec `fedshare-node CONFIG --sync 0`; stdout to a pipe (the
    // "ready" line), stderr to the log file.
    void start() {
        int fds[2];
        expect(pipe(fds) == 0, "pipe()");
        int logfd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (logfd < 0) {
            close(fds[0]);
            close(fds[1]);
            fail("open " + log_.string());
        }
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
            close(fds[0]);
            close(fds[1]);
            close(logfd);
            fail("fork()");
        }
        if (pid == 0) {
            // the child: die with the parent, whatever kills it
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(127);
            dup2(fds[1], 1);
            dup2(logfd, 2);
            close(fds[0]);
            close(fds[1]);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
            execl(program_.c_str(), program_.c_str(), config_.c_str(), "--sync", "0",
                  static_cast<char *>(nullptr));
            const char msg[] = "cpp_round: exec of the node program failed\n";
            ssize_t w = write(2, msg, sizeof msg - 1);
            (void)w;
            _exit(127);
        }
        close(fds[1]);
        close(logfd);
        pid_ = pid;
        out_fd_ = fds[0];
        g_children[slot_] = pid;
    }

    // Wait for "ready ..." on the node's stdout.
    void wait_ready(std::chrono::seconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        std::string got;
        while (!contains(got, "\n")) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
            if (left <= 0)
                fail("node " + std::to_string(slot_) + " not ready in time; its log:\n" +
                     read_file(log_));
            pollfd p{out_fd_, POLLIN, 0};
            int r = poll(&p, 1, (int)left);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                continue;
            char buf[256];
            ssize_t k = read(out_fd_, buf, sizeof buf);
            if (k <= 0)
                fail("node " + std::to_string(slot_) + " exited before it was ready; its log:\n" +
                     read_file(log_));
            got.append(buf, (size_t)k);
        }
        expect(got.rfind("ready ", 0) == 0,
               "node " + std::to_string(slot_) + " printed '" + got + "' instead of 'ready ...'");
        close(out_fd_);
        out_fd_ = -1;
    }

    // SIGTERM, then wait (up to 30 s) for a clean exit; returns the exit status
    // (−1 if it had to be killed or died of a signal).
    int terminate() {
        if (pid_ <= 0)
            return -1;
        kill(pid_, SIGTERM);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        int status = 0;
        for (;;) {
            pid_t r = waitpid(pid_, &status, WNOHANG);
            if (r == pid_)
                break;
            if (r < 0 && errno != EINTR)
                break;
            if (std::chrono::steady_clock::now() > deadline) {
                kill_now();
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        forget();
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    void kill_now() {
        if (out_fd_ >= 0) {
            close(out_fd_);
            out_fd_ = -1;
        }
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            int status;
            while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            forget();
        }
    }

  private:
    void forget() {
        g_children[slot_] = 0;
        pid_ = -1;
    }
    int slot_;
    std::string program_;
    fs::path config_, log_;
    pid_t pid_ = -1;
    int out_fd_ = -1;
};

// ---- the consortium on disk --------------------------------------------------

struct World {
    fs::path dir, config; // config: the shared lines (what members connect with)
    std::array<Id, MEMBERS> seed{}, pk{};
    std::array<int, NODES> metrics_port{};
    std::vector<std::unique_ptr<NodeProcess>> nodes;
    std::array<Client, MEMBERS> cl;
};

void write_configuration(World &w) {
    std::ostringstream shared;
    Id chain = random_id();
    shared << "chain_id " << hex(chain.data(), 32) << "\nf 1\nblock_period_ms 10\n"
           << "view_timeout_ms 2000\n";
    std::array<Id, NODES> node_seed;
    for (int i = 0; i < NODES; i++) {
        node_seed[i] = random_id();
        Id pk = public_key_of(node_seed[i]);
        shared << "replica " << i << " 127.0.0.1:" << free_port() << " " << hex(pk.data(), 32)
               << "\n";
    }
    const char *roles[MEMBERS] = {"provider,keyholder", "provider,keyholder", "provider,keyholder",
                                  "regulator", "aggregator,publisher"};
    const char *orgs[MEMBERS] = {"hospital-a", "hospital-b", "hospital-c", "regulator",
                                 "consortium"};
    for (int i = 0; i < MEMBERS; i++) {
        w.seed[i] = random_id();
        w.pk[i] = public_key_of(w.seed[i]);
        shared << "member m" << i << " " << hex(w.pk[i].data(), 32) << " roles=" << roles[i]
               << " org=" << orgs[i] << " credentials=irb\n";
    }
    w.config = w.dir / "consortium.conf";
    std::ofstream(w.config) << shared.str();
    // one file per node: the shared lines + its node-only settings (relative
    // paths are relative to the file)
    for (int i = 0; i < NODES; i++) {
        std::string n = std::to_string(i);
        std::ofstream(w.dir / ("node" + n + ".key")) << hex(node_seed[i].data(), 32) << "\n";
        fs::permissions(w.dir / ("node" + n + ".key"),
                        fs::perms::owner_read | fs::perms::owner_write);
        w.metrics_port[i] = free_port();
        std::ofstream(w.dir / ("node" + n + ".conf"))
            << shared.str() << "id " << n << "\nkey_file node" << n << ".key\ndata_dir data" << n
            << "\nmetrics_port " << w.metrics_port[i] << "\n";
    }
}

// ---- the round ---------------------------------------------------------------

void set_open_policy(World &w, int owner, const Id &data_id) {
    const char *src = "@id(\"members_train\")\n"
                      "permit (principal, action == Action::\"train\", resource)\n"
                      "when { context.purpose == \"training\" && "
                      "principal.credentials.contains(\"irb\") };";
    std::vector<uint8_t> members;
    for (auto &k : w.pk)
        members.insert(members.end(), k.begin(), k.end());
    abac_compile_options o;
    abac_compile_options_init(&o);
    o.set_version = 1;
    o.members = members.data();
    o.n_members = MEMBERS;
    PolicySet ps;
    char msg[256] = "";
    check_ok(abac_cedar_policies_compile(out(ps), src, std::strlen(src), &o, nullptr, nullptr, msg,
                                         sizeof msg),
             std::string("compile the policy: ") + msg);
    std::vector<uint8_t> enc(abac_cedar_policies_encoded_size(ps.get()));
    size_t wrote = 0;
    check_ok(abac_cedar_policies_encode(ps.get(), enc.data(), enc.size(), &wrote),
             "encode the policy");
    Buffer<uint8_t> pl;
    size_t len = 0;
    check_ok(fedshare_payload_policy_set(data_id.data(), enc.data(), wrote, out(pl), &len),
             "policy payload");
    check_ok(fedshare_client_submit(w.cl[owner].get(), FEDSHARE_OP_POLICY_SET, pl.get(), len, T,
                                    nullptr, nullptr),
             "POLICY_SET by the owner");
}

std::string record_json(World &w, int who, int kind, const Id &id) {
    Buffer<char> json;
    check_ok(
        fedshare_client_record_json(w.cl[who].get(), kind, id.data(), nullptr, 0, T, out(json)),
        "read record kind " + std::to_string(kind));
    return json.get();
}

void run_round(World &w) {
    // data sets and their policies
    std::array<Id, 3> data;
    for (int i = 0; i < 3; i++) {
        Id enc = random_id();
        check_ok(fedshare_register_data(w.cl[i].get(), enc.data(), "ehr", "synthetic", nullptr, 0,
                                        T, data[i].data()),
                 "register data set of hospital " + std::to_string(i));
        std::string json = record_json(w, 3, FEDSHARE_REC_DATA, data[i]);
        expect(contains(json, "\"label\":\"ehr\""), "the regulator reads the data record: " + json);
        set_open_policy(w, i, data[i]);
    }
    std::puts("cpp_round: 3 data sets registered, policies set");

    // read consistency: a session-mode reader that observed the writer's
    // height sees its act; waiting for a reached height returns at once
    {
        ledger_client *writer = fedshare_client_ledger(w.cl[0].get());
        ledger_client *reader = fedshare_client_ledger(w.cl[4].get());
        uint64_t h = ledger_client_seen_height(writer);
        expect(h > 0, "the writer's floor is its receipts' height");
        check_ok(ledger_client_set_read_mode(reader, LEDGER_READ_SESSION), "session reads");
        check_ok(ledger_client_observe(reader, h), "observe the writer's height");
        expect(ledger_client_seen_height(reader) >= h, "the reader's floor rose");
        std::string json = record_json(w, 4, FEDSHARE_REC_DATA, data[0]);
        expect(contains(json, "\"label\":\"ehr\""), "a session read at the floor: " + json);
        uint64_t reached = 0;
        check_ok(ledger_client_wait_height(reader, h, T, &reached), "wait for a reached height");
        expect(reached >= h, "the announced tip is at least the floor");
        check_ok(ledger_client_set_read_mode(reader, LEDGER_READ_LINEARIZABLE), "back to default");
    }

    // hospital A asks for B's and C's data; a wrong purpose is denied first
    uint64_t now = (uint64_t)std::time(nullptr);
    {
        Buffer<char> dec;
        check_rc(fedshare_request_access(w.cl[0].get(), data[1].data(), "train", "marketing", now,
                                         now + 3600, 1, T, out(dec)),
                 FEDSHARE_E_DENIED, "access for a wrong purpose");
        expect(dec && contains(dec.get(), "\"effect\":\"deny\""), "the deny decision is returned");
    }
    for (int i = 1; i < 3; i++) {
        Buffer<char> dec;
        check_ok(fedshare_request_access(w.cl[0].get(), data[i].data(), "train", "training", now,
                                         now + 3600, 1, T, out(dec)),
                 "access for training");
        expect(dec && contains(dec.get(), "\"effect\":\"permit\""), "the permit decision");
    }
    std::puts("cpp_round: access denied for marketing, granted for training");

    // the consortium key, dealt by hospital A (test primes), recorded
    std::vector<uint8_t> p = unhex(SAFE_PRIME_1024_1), q = unhex(SAFE_PRIME_1024_2);
    Params dealt;
    std::array<phe_threshold_keyshare *, 3> raw_shares{};
    check_ok(phe_threshold_deal_with_primes(out(dealt), raw_shares.data(), p.data(), p.size(),
                                            q.data(), q.size(), 2, 3, nullptr),
             "deal a 2-of-3 key");
    std::array<KeyShare, 3> shares;
    for (int i = 0; i < 3; i++)
        shares[i].reset(raw_shares[i]);
    std::vector<uint8_t> penc(phe_threshold_params_encoded_size(dealt.get()));
    size_t wrote = 0;
    check_ok(phe_threshold_params_encode(dealt.get(), penc.data(), penc.size(), &wrote),
             "encode the key parameters");
    std::vector<uint8_t> holders, share_hashes;
    for (int i = 0; i < 3; i++) {
        holders.insert(holders.end(), w.pk[i].begin(), w.pk[i].end());
        Id h = random_id(); // stands for the hash of holder i's sealed share file
        share_hashes.insert(share_hashes.end(), h.begin(), h.end());
    }
    {
        Buffer<uint8_t> pl;
        size_t len = 0;
        check_ok(fedshare_payload_key_record(penc.data(), wrote, holders.data(),
                                             share_hashes.data(), 3, out(pl), &len),
                 "key record payload");
        check_ok(fedshare_client_submit(w.cl[0].get(), FEDSHARE_OP_KEY_RECORD, pl.get(), len, T,
                                        nullptr, nullptr),
                 "KEY_RECORD");
    }
    Id key_id;
    check_ok(phe_threshold_params_key_id(dealt.get(), key_id.data()), "key ID");
    Params params;
    check_ok(fedshare_client_key_params(w.cl[1].get(), key_id.data(), T, out(params)),
             "fetch the recorded key");
    const phe_pubkey *pk = phe_threshold_params_pubkey(params.get());
    expect(pk != nullptr, "the recorded key has a public key");

    // the initial model, published
    std::vector<float> init(NP);
    for (size_t i = 0; i < NP; i++)
        init[i] = 0.01f * (float)i;
    Id digest, structure, model_id;
    structure.fill(0x5A);
    check_ok(fedshare_put_model(w.cl[4].get(), init.data(), NP, T, digest.data()),
             "store the initial model");
    {
        Buffer<uint8_t> pl;
        size_t len = 0;
        check_ok(fedshare_payload_model_publish(structure.data(), digest.data(), NP, "test",
                                                out(pl), &len),
                 "model publish payload");
        check_ok(fedshare_client_submit(w.cl[4].get(), FEDSHARE_OP_MODEL_PUBLISH, pl.get(), len, T,
                                        nullptr, nullptr),
                 "MODEL_PUBLISH");
    }
    check_ok(fedshare_model_id(structure.data(), digest.data(), model_id.data()), "model ID");

    // the task
    fedavg_codec_config cc;
    fedavg_codec_config_init(&cc);
    cc.plaintext_bytes = (uint32_t)phe_plaintext_size(pk) - 1;
    cc.max_weight = 10000;
    cc.precision = 1e-5;
    Codec codec;
    check_ok(fedavg_codec_select(out(codec), &cc), "select the codec");
    std::array<uint8_t, 256> cbytes{};
    check_ok(fedavg_codec_encode(codec.get(), cbytes.data(), cbytes.size()), "encode the codec");
    std::vector<uint8_t> parts, datas;
    for (int i = 0; i < 3; i++) {
        parts.insert(parts.end(), w.pk[i].begin(), w.pk[i].end());
        datas.insert(datas.end(), data[i].begin(), data[i].end());
    }
    fedshare_task_spec s;
    fedshare_task_spec_init(&s);
    std::memcpy(s.model_id, model_id.data(), 32);
    std::memcpy(s.key_id, key_id.data(), 32);
    std::memcpy(s.aggregator, w.pk[4].data(), 32);
    s.n_participants = 3;
    s.participants = parts.data();
    s.data_ids = datas.data();
    s.codec = cbytes.data();
    s.codec_len = fedavg_codec_encoded_bytes();
    Id task;
    {
        Buffer<uint8_t> pl;
        size_t len = 0;
        check_ok(fedshare_payload_task_create(&s, out(pl), &len), "task payload");
        check_ok(fedshare_client_submit(w.cl[0].get(), FEDSHARE_OP_TASK_CREATE, pl.get(), len, T,
                                        task.data(), nullptr),
                 "TASK_CREATE");
    }
    for (int i = 0; i < 3; i++)
        check_ok(fedshare_join_task(w.cl[i].get(), task.data(), T),
                 "TASK_JOIN of hospital " + std::to_string(i));
    std::puts("cpp_round: key recorded, model published, task created and joined");

    // round 1: three weighted updates, encrypted
    std::array<std::vector<float>, 3> upd;
    const std::array<uint32_t, 3> weight = {120, 200, 80};
    size_t npt = fedavg_codec_plaintexts(codec.get(), NP);
    size_t ptb = fedavg_codec_plaintext_bytes(codec.get());
    std::vector<uint8_t> packed(npt * ptb);
    for (int i = 0; i < 3; i++) {
        upd[i].resize(NP);
        for (size_t k = 0; k < NP; k++)
            upd[i][k] = (float)((int)(k % 7) - 3) * 0.05f * (float)(i + 1);
        check_ok(fedavg_codec_pack(codec.get(), upd[i].data(), NP, weight[i], packed.data(),
                                   packed.size(), nullptr),
                 "pack an update");
        check_ok(fedshare_upload_update(w.cl[i].get(), task.data(), 1, pk, nullptr, packed.data(),
                                        npt, ptb, weight[i], 1.0, 0.0, T),
                 "encrypted upload of hospital " + std::to_string(i));
    }
    check_ok(fedshare_aggregate(w.cl[4].get(), task.data(), 1, pk, nullptr, T), "AGGREGATE");
    int matches = 0;
    check_ok(fedshare_check_aggregate(w.cl[2].get(), task.data(), 1, pk, nullptr, T, &matches),
             "AGGREGATE_CHECK");
    expect(matches == 1, "hospital C's recomputed aggregate matches the recorded one");
    for (int i = 0; i < 2; i++)
        check_ok(fedshare_post_decryption_share(w.cl[i].get(), task.data(), 1, params.get(),
                                                shares[i].get(), T),
                 "decryption share of holder " + std::to_string(i));
    check_ok(fedshare_finalize_round(w.cl[4].get(), task.data(), 1, params.get(), T),
             "ROUND_FINALIZE");
    std::puts("cpp_round: 3 encrypted uploads, aggregate checked, 2 shares, round finalized");

    // every participant recomputes the model, checks it against plain FedAvg, evaluates
    const float *rows[3] = {upd[0].data(), upd[1].data(), upd[2].data()};
    const double wd[3] = {120, 200, 80};
    std::vector<float> mean(NP);
    check_ok(fedavg_average(rows, wd, 3, NP, mean.data()), "plain FedAvg");
    const double bound = fedavg_codec_error_bound(codec.get());
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        Buffer<float> model;
        size_t n = 0;
        check_ok(
            fedshare_compute_global(w.cl[i].get(), task.data(), 1, params.get(), T, out(model), &n),
            "recompute the global model (hospital " + std::to_string(i) + ")");
        expect(n == NP, "the global model has " + std::to_string(NP) + " parameters");
        for (size_t k = 0; k < NP; k++) {
            double err = std::fabs((double)model.get()[k] - (double)(init[k] + mean[k]));
            worst = err > worst ? err : worst;
            expect(err <= bound + 1e-6, "parameter " + std::to_string(k) + " is off by " +
                                            std::to_string(err) + " > the codec bound " +
                                            std::to_string(bound));
        }
        Id d;
        check_ok(fedavg_model_digest(model.get(), n, d.data()), "model digest");
        check_ok(fedshare_evaluate(w.cl[i].get(), task.data(), 1, d.data(), 0.9, 50, T),
                 "EVALUATION of hospital " + std::to_string(i));
    }
    std::printf("cpp_round: global model = init + FedAvg within %.3g (bound %.3g)\n", worst, bound);
    std::string tj = record_json(w, 3, FEDSHARE_REC_TASK, task);
    expect(contains(tj, "\"phase\":1,\"stop_reason\":0,\"round\":2"),
           "after the evaluations round 2 is open for uploads: " + tj);
    {
        Buffer<float> global;
        size_t gn = 0;
        uint32_t gr = 0;
        check_ok(fedshare_fetch_global(w.cl[3].get(), task.data(), T, out(global), &gn, &gr),
                 "the regulator fetches the global model");
        expect(gr == 1 && gn == NP, "the fetched model is round 1's");
    }

    // the trace of hospital B's data set: registration first, every act of the round on it
    {
        ledger_client *lc = fedshare_client_ledger(w.cl[3].get());
        std::array<ledger_trace_entry, 256> trail{};
        size_t n = 0;
        check_ok(ledger_client_trace(lc, FEDSHARE_TRACE_DATA, data[1].data(), 32, 0, T,
                                     trail.data(), trail.size(), &n),
                 "trace a data set");
        expect(n >= 8, "the data set's trace has register, policy, grant and the round's acts (" +
                           std::to_string(n) + " entries)");
        for (size_t i = 1; i < n; i++)
            expect(trail[i - 1].height <= trail[i].height, "the trace is in chain order");
    }
    std::puts("cpp_round: evaluations recorded, model fetched and verified, data set traced");
}

void check_endpoints(World &w) {
    std::string page = http_get(w.metrics_port[0], "/metrics");
    expect(contains(page, "200 OK"), "GET /metrics answers 200");
    for (const char *m :
         {"fedshare_height ", "fedshare_view ", "fedshare_transactions_total ", "fedshare_tps ",
          "fedshare_commit_latency_seconds_sum ", "fedshare_peers 3", "fedshare_disk_bytes "})
        expect(contains(page, m), std::string("/metrics has ") + m);
    page = http_get(w.metrics_port[1], "/health");
    expect(contains(page, "200 OK") && contains(page, "ok"), "GET /health answers ok");
}

int run(const std::string &program, const fs::path &dir) {
    World w;
    w.dir = dir;
    write_configuration(w);
    for (int i = 0; i < NODES; i++) {
        std::string n = std::to_string(i);
        w.nodes.push_back(std::make_unique<NodeProcess>(i, program, w.dir / ("node" + n + ".conf"),
                                                        w.dir / ("node" + n + ".log")));
        w.nodes.back()->start();
    }
    for (auto &node : w.nodes)
        node->wait_ready(std::chrono::seconds(60));
    std::printf("cpp_round: 4 fedshare-node processes ready (fedshare %s)\n",
                fedshare_version_string());
    for (int i = 0; i < MEMBERS; i++)
        check_ok(fedshare_client_connect(out(w.cl[i]), w.config.c_str(), w.seed[i].data(), 5000),
                 "connect member " + std::to_string(i));

    run_round(w);
    check_endpoints(w);

    for (auto &c : w.cl)
        c.reset();
    for (int i = 0; i < NODES; i++)
        check_rc(w.nodes[i]->terminate(), 0,
                 "node " + std::to_string(i) + " exit status on SIGTERM");
    for (int i = 0; i < NODES; i++) {
        uint64_t bad = 0;
        std::string n = std::to_string(i);
        check_ok(fedshare_verify_store((w.dir / ("node" + n + ".conf")).c_str(), nullptr, &bad),
                 "verify node " + n + "'s stopped chain (first bad block " + std::to_string(bad) +
                     ")");
    }
    std::puts("cpp_round: nodes stopped cleanly, every chain verifies");
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s FEDSHARE_NODE_PROGRAM [WORK_DIR]\n", argv[0]);
        return 2;
    }
    if (access(argv[1], X_OK) != 0) {
        std::fprintf(stderr, "cpp_round: %s is not an executable node program\n", argv[1]);
        return 2;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP})
        sigaction(sig, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    fs::path dir;
    bool own_dir = argc < 3;
    try {
        if (own_dir) {
            std::string tmpl = (fs::temp_directory_path() / "cpp_round.XXXXXX").string();
            std::vector<char> buf(tmpl.begin(), tmpl.end());
            buf.push_back('\0');
            if (!mkdtemp(buf.data()))
                fail("mkdtemp");
            dir = buf.data();
        } else {
            dir = argv[2];
            fs::create_directories(dir);
        }
        int rc = run(argv[1], fs::absolute(dir));
        if (own_dir)
            fs::remove_all(dir);
        std::puts("cpp_round: PASS");
        return rc;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cpp_round: FAIL: %s\n", e.what());
        if (own_dir && !dir.empty()) {
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
        return 1;
    }
}
