"""Helpers shared by the benchmark scripts: waiting for a loopback port, reading wrk's output, and
alternating rounds of several runs."""
import os
import re
import socket
import time


def wait_port(port):
    """Returns once something accepts connections on 127.0.0.1:port (at most 30 s)."""
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def _milliseconds(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def parse_wrk(out):
    """(requests/s, p50 ms, p99 ms, non-2xx count) from `wrk --latency` output."""
    if not re.search(r"^\s+50%\s+[\d.]+(us|ms|s)\b", out, re.M):
        raise SystemExit(f"wrk output not understood:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            _milliseconds(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
            _milliseconds(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
            int(errors.group(1)) if errors else 0)


def write_script(directory, name, body):
    """Writes a wrk Lua script `name` into `directory`; its path."""
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write(body)
    return path


def alternating(runs, rounds):
    """Calls each function of `runs` `rounds` times, one after another, the order reversed every
    other round (so that neither side always runs first); each function's results, in call order."""
    results = [[] for _ in runs]
    for round_ in range(rounds):
        order = range(len(runs)) if round_ % 2 == 0 else reversed(range(len(runs)))
        for index in order:
            results[index].append(runs[index]())
    return results
