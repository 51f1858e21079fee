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


def recache(path):
    """Drops `path`'s pages from the page cache and reads them back one 4 KiB page at a time, the
    way LMDB's own map (MADV_RANDOM) reads them. Nothing may map the file meanwhile (mapped pages
    are not dropped). Why: on Linux 6.16+ ext4 keeps large folios (up to 64 pages here) for the
    multi-page writes of a bulk load, and every later single-page write into one costs the kernel
    work per page of the folio (its buffer heads, at the write and again at writeback); a store
    built by the API's own commits holds mostly folios of one to four pages, one read back after a
    restart single pages. Returns (pages read, seconds)."""
    import mmap
    started = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, 0.0
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as mapped:
            mapped.madvise(mmap.MADV_RANDOM)
            pages = 0
            for offset in range(0, size, mmap.PAGESIZE):
                mapped[offset]
                pages += 1
    finally:
        os.close(fd)
    return pages, time.monotonic() - started


def folio_census(pid, name):
    """How the pages of the file `name` that process `pid` maps sit in the page cache: pages in
    single-page folios and in larger ones, and the largest folio in pages (from /proc/PID/pagemap and
    /proc/kpageflags; root only). None when they cannot be read."""
    import struct
    try:
        maps = [line.split() for line in open(f"/proc/{pid}/maps") if line.rstrip().endswith("/" + name)]
        pagemap = open(f"/proc/{pid}/pagemap", "rb")
        flags = open("/proc/kpageflags", "rb")
    except OSError:
        return None
    single = in_large = largest = current = 0

    def close_folio(pages):
        nonlocal single, in_large, largest
        if pages == 1:
            single += 1
        elif pages > 1:
            in_large += pages
            largest = max(largest, pages)

    with pagemap, flags:
        for fields in maps:
            low, high = (int(x, 16) for x in fields[0].split("-"))
            # LMDB maps its whole map size (64 GiB); only the file's own pages can be present.
            mapped_file_bytes = max(0, os.stat(fields[-1]).st_size - int(fields[2], 16))
            pagemap.seek(low // 4096 * 8)
            data = pagemap.read(min(high - low, mapped_file_bytes) // 4096 * 8)
            for index in range(len(data) // 8):
                entry = struct.unpack_from("<Q", data, 8 * index)[0]
                frame = entry & ((1 << 55) - 1) if entry >> 63 & 1 else 0
                if frame == 0:
                    close_folio(current)
                    current = 0
                    continue
                flags.seek(frame * 8)
                value = struct.unpack("<Q", flags.read(8))[0]
                if value >> 16 & 1:  # KPF_COMPOUND_TAIL: part of the folio before it
                    current += 1
                else:
                    close_folio(current)
                    current = 1
        close_folio(current)
    return single, in_large, largest
