"""A fault-injection plugin for tests (``--plugins kill_points``): the process signals itself
the moment it has written a chosen file, so that a kill lands at an exact point of a run
whatever the speed of the machine (no sleeps, no polling races).

Environment: ``ARCHAI_KILL_AFTER``, a path suffix (``jobs/sample_001/result.json``): every
state file is written by a rename (``os.replace``), and the first rename onto a matching path
triggers; ``ARCHAI_KILL_SIGNAL``, ``KILL`` (default) or ``INT`` (Ctrl-C); ``ARCHAI_KILL_WAIT_FOR``,
a path that must exist first (e.g. ``timing.json``, which a background thread writes).
The signal goes to the run's own process, also when a job in one of the local executor's
worker processes (which inherit the environment) wrote the file.
"""

import multiprocessing
import os
import signal
import time

_replace = os.replace


def _replace_then_signal(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    target = os.environ.get("ARCHAI_KILL_AFTER")
    if target and os.fspath(dst).endswith(target) and not os.environ.get("_ARCHAI_KILLED"):
        os.environ["_ARCHAI_KILLED"] = "1"  # once: Ctrl-C leaves the process running
        wait_for = os.environ.get("ARCHAI_KILL_WAIT_FOR")
        while wait_for and not os.path.exists(wait_for):
            time.sleep(0.05)  # an event (the file appears), not a time margin
        run = int(os.environ["_ARCHAI_KILL_PID"])
        os.kill(run, getattr(signal, "SIG" + os.environ.get("ARCHAI_KILL_SIGNAL", "KILL")))


os.replace = _replace_then_signal
if multiprocessing.parent_process() is None:  # the run's process (its workers inherit this)
    os.environ["_ARCHAI_KILL_PID"] = str(os.getpid())
if os.environ.get("ARCHAI_KILL_SIGNAL") == "INT":
    # what a terminal's Ctrl-C meets: Python's KeyboardInterrupt handler (a process started in
    # the background of a non-interactive shell, as CI may start the suite, inherits SIGINT
    # ignored, and Python then installs none)
    signal.signal(signal.SIGINT, signal.default_int_handler)
