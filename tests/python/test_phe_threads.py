"""fedshare.phe from several Python threads at once: batch calls on one
shared context (the default one and an explicit one) give correct results and
never hang. The work runs in a subprocess with a timeout, so a deadlock fails
the test instead of hanging pytest."""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys, threading
    import numpy as np
    from fedshare import phe

    sk = phe.generate_keypair(2048)
    pk = sk.public_key
    explicit = phe.Context(3)
    errors = []

    def work(tid, ctx):
        try:
            rng = np.random.default_rng(tid)
            for rnd in range(6):
                x = rng.integers(-2**40, 2**40, size=7, dtype=np.int64)
                k = rng.integers(-1000, 1000, size=7, dtype=np.int64)
                a = pk.encrypt_array(x, ctx=ctx)
                s = a.add(a, ctx=ctx)
                m = a.mul(k, ctx=ctx)
                for got, want in ((sk.decrypt_array(a, ctx=ctx), x),
                                  (sk.decrypt_array(s, ctx=ctx), 2 * x),
                                  (sk.decrypt_array(m, ctx=ctx), k * x)):
                    if not np.array_equal(got, want):
                        errors.append((tid, rnd, got.tolist(), want.tolist()))
                if sk.decrypt(a.sum(ctx=ctx)) != int(x.sum()):
                    errors.append((tid, rnd, "sum"))
        except Exception as e:  # reported below, fails the test
            errors.append((tid, repr(e)))

    threads = [threading.Thread(target=work, args=(t, None if t % 2 else explicit))
               for t in range(6)]
    for t in threads:
        t.start()
    # resize the explicit context while the calls run: it waits for each call
    for n in (2, 4, 1, 3) * 3:
        explicit.threads = n
        assert explicit.threads == n
    for t in threads:
        t.join()
    assert phe.default_context() is phe.default_context()
    if errors:
        print(errors, file=sys.stderr)
        sys.exit(1)
    print("ok", len(threads))
    """
)


def test_concurrent_batch_calls_on_shared_contexts():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok 6"
