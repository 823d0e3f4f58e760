"""Ctrl-C during a long call raises KeyboardInterrupt within a second and leaves no file."""

import os
import subprocess
import sys
import textwrap

from conftest import ROOT

CHILD = textwrap.dedent("""
    import os, signal, sys, threading, time
    import lumac
    model = lumac.load_model(sys.argv[1])
    out = sys.argv[2]
    sent = []
    def interrupt():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)
    threading.Timer(1.5, interrupt).start()
    try:
        # Hundreds of seconds of work: 200 seeds of physical noise on 10,000 images per point.
        lumac.sweep("laser.power_W=1e-4:1e-2:50:log", model=model, seeds=200, out=out)
    except KeyboardInterrupt:
        print(f"interrupted after {time.monotonic() - sent[0]:.3f} s")
        print("file left" if os.path.exists(out) else "no file")
        sys.exit(0)
    print("not interrupted")
    sys.exit(1)
""")


def test_ctrl_c_raises_keyboard_interrupt_promptly(tmp_path):
    out = tmp_path / "sweep.h5"
    p = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "data/models/fmnist_cnn.h5"),
                        str(out)], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ))
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.split("\n")
    seconds = float(lines[0].split()[2])
    assert seconds < 1.0, p.stdout
    assert lines[1] == "no file"
    assert list(tmp_path.iterdir()) == []


def test_long_calls_release_the_gil(cnn):
    # A Python thread keeps running while lumac evaluates: it ticks every millisecond or so.
    import threading
    import time
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    start = time.perf_counter()
    cnn.evaluate(noise="shot", photons_per_mac=10, limit=5000)
    end = time.perf_counter()
    stop.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    # Held GIL: no tick between start and end. Released: one per ~1-2 ms (a loaded machine may
    # be slower; a tenth of that rate is still impossible with the GIL held).
    assert end - start > 0.05
    assert len(during) > 0.1 * (end - start) / 0.002, (len(during), end - start)
