#!/usr/bin/env python3
"""A rank that dies or hangs in a distributed run: starts `mpirun ... train
--log LOG --log-every 1`, waits for the first logged step, then kills
(kill) or stops (stop) the last rank, and reports how the job ended and
how long after: its exit status, the seconds, its messages.

    mpi_faults.py kill|stop LOG -- MPIRUN ARGS...
"""
import os
import signal
import subprocess
import sys
import time


def trainer_pids(parent):
    """The trainer processes under mpirun (its children), by pid."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=", "-e"], capture_output=True, text=True).stdout
    children = [int(p) for p, pp in (line.split() for line in out.splitlines()) if int(pp) == parent]
    return sorted(children)


def main():
    how, log = sys.argv[1], sys.argv[2]
    command = sys.argv[sys.argv.index("--") + 1:]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (os.path.exists(log) and '"step"' in open(log).read()):
        if job.poll() is not None:
            sys.exit(f"the job ended before its first step:\n{job.stdout.read()}")
        time.sleep(0.05)
    ranks = trainer_pids(job.pid)
    if len(ranks) < 2:
        sys.exit(f"expected at least 2 ranks under mpirun, found {ranks}")
    victim = ranks[-1]
    os.kill(victim, signal.SIGKILL if how == "kill" else signal.SIGSTOP)
    start = time.time()
    try:
        out, _ = job.communicate(timeout=300)
    finally:
        if how == "stop":
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
    seconds = time.time() - start
    print(out)
    print(f"job ended with status {job.returncode}, {seconds:.1f} s after the {how}")
    print("ended within 30 s" if seconds < 30 else "TOO SLOW")
    return 0


if __name__ == "__main__":
    sys.exit(main())
