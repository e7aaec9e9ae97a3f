"""What the podman checks share: a check line, a command, an HTTP call, a
wait, and the lock that keeps two runs on one machine apart."""

import fcntl
import json
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Two runs on one machine would fight over port 80, the image tag and the
# container names: the second waits for the first.
LOCK = pathlib.Path("/run/lock/geofn-verify-containers.lock")

failures = []


def check(ok, what):
    """Prints one check line; a failed one is remembered, not fatal."""
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def run(*args, check_exit=True, capture=True, timeout=None, env=None, stdin=None):
    result = subprocess.run(
        args, capture_output=capture, text=True, timeout=timeout, env=env, cwd=ROOT,
        input=stdin,
    )
    if check_exit and result.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                 f"{result.stdout}\n{result.stderr}")
    return result


def http(method, url, body=None, timeout=5, headers=None):
    """(status, body bytes); an HTTP error status is an answer, not a raise."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_for(predicate, seconds, every=1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(every)
    return False


def hold_lock(what):
    """Waits for any other run of a podman check, then holds the lock until
    the process exits."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    lock = open(LOCK, "w")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"{what}: another run holds {LOCK}; waiting for it", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def finish(what):
    print(f"{what}: " + ("all checks passed" if not failures
                         else f"{len(failures)} FAILED"), flush=True)
    sys.exit(1 if failures else 0)
