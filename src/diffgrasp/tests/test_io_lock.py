"""io.output_lock: an advisory lock beside an output file, tested across real processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from diffgrasp.errors import DiffgraspError
from diffgrasp.io import OutputLockedError, lock_path_for, output_lock

HOLD = textwrap.dedent("""
    import sys
    from diffgrasp.io import output_lock
    with output_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()  # hold until the test says so
""")

INCREMENT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from diffgrasp.io import output_lock
    counter = Path(sys.argv[1])
    for _ in range(int(sys.argv[2])):
        with output_lock(counter, wait=True, poll_s=0.001):
            value = int(counter.read_text())  # a read-modify-write that loses counts without mutual exclusion
            counter.write_text(str(value + 1))
""")


def _holder(path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_fails_with_the_owner_pid(tmp_path):
    out = tmp_path / "grasps.json"
    proc = _holder(out)
    try:
        assert lock_path_for(out).is_file()
        with pytest.raises(OutputLockedError) as err:
            with output_lock(out):
                pass
        message = str(err.value)
        assert isinstance(err.value, DiffgraspError) and "\n" not in message
        assert message == f"{out} is being written by another process (pid {proc.pid})"
    finally:
        proc.communicate("\n", timeout=30)
    assert not lock_path_for(out).exists()  # removed on release
    with output_lock(out) as lock:  # free again
        assert lock == tmp_path / ".grasps.json.lock"
    assert not lock.exists() and not out.exists()


def test_waiting_writer_gets_the_lock_after_release(tmp_path):
    out = tmp_path / "sub" / "report.json"  # the folder is created
    proc = _holder(out)
    waiter = subprocess.Popen([sys.executable, "-c", "import sys\nfrom diffgrasp.io import output_lock\n"
                               "with output_lock(sys.argv[1], wait=True):\n    print('got it', flush=True)",
                               str(out)], stdout=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=1.0)  # blocked while the holder holds the lock
    finally:
        proc.communicate("\n", timeout=30)
    assert waiter.communicate(timeout=30)[0].strip() == "got it"
    assert waiter.returncode == 0


def test_lock_excludes_writers_across_removal(tmp_path):
    """Four processes increment one counter under the lock; removal on release must never let two in at once (a
    waiter that opened the removed file retries on the new one)."""
    counter = tmp_path / "counter.txt"
    counter.write_text("0")
    n, each = 4, 40
    procs = [subprocess.Popen([sys.executable, "-c", INCREMENT, str(counter), str(each)]) for _ in range(n)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    assert int(counter.read_text()) == n * each
    assert not lock_path_for(counter).exists()


def test_same_process_twice_is_refused(tmp_path):
    out = tmp_path / "x.json"
    with output_lock(out):
        with pytest.raises(OutputLockedError, match="being written by another process"):
            with output_lock(out):
                pass
