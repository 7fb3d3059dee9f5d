"""What ``connector serve`` prints once the service is ready: the first start's credentials.

Printed after the start-up lines of granian, its workers and the scheduler, so that it
does not scroll away among them. A process of its own waits for ``/ready`` and prints,
rather than a thread of the server: granian forks its workers after the start-up hooks
run, and a thread caught mid-call at a fork can leave a lock held forever in the child.
The text reaches it on a pipe, never in its arguments or environment. The process that
``serve`` starts forks once and exits at once, so the one that waits is nobody's child to
reap; it prints at the latest when the server's process is gone or it is stopped.

Only the standard library is imported here: it starts while the server starts.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import urllib.request

WAIT_SECONDS = 60.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> None:
    """``python -m connector.announce URL SERVER_PID`` with the text on standard input."""
    url, server = sys.argv[1], int(sys.argv[2])
    text = sys.stdin.read()
    if os.fork():
        os._exit(0)  # the server reaps this one at once; init reaps the one that waits
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: print, then go
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and not stop.is_set() and _alive(server):
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (our own URL)
                if answer.status == 200:
                    break
        except OSError:  # not listening yet, or not ready (a 503)
            stop.wait(0.5)
    sys.stdout.write(text)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
