"""Ctrl-C as a terminal sends it: to a study, a sweep or a demo started as a child process."""

import signal
import subprocess
import time


def interrupt_when(command, ready, limit=300):
    """Start `command`, wait until ``ready()`` is true, then send SIGINT.

    Returns (exit status, seconds from the signal to the exit, stderr). A shell's background job
    starts with SIGINT ignored and a child inherits that: the child gets the default disposition
    a terminal's foreground job has (the hook only resets a signal, which is safe with threads).
    """
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    start = time.monotonic()
    while time.monotonic() - start < limit and process.poll() is None and not ready():
        time.sleep(0.05)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    return process.returncode, time.monotonic() - sent, err
