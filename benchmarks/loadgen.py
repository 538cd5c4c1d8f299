"""A small closed-loop HTTP load generator, used when ``wrk`` is not installed.

``python -m benchmarks.loadgen URL HEADERS_FILE --duration 5 --connections 8``
runs ``--processes`` processes, each with its share of the connections as
threads, each thread a keep-alive ``http.client`` connection sending
``GET`` requests back to back (each with the next ``Authorization`` value of
HEADERS_FILE) until the duration is over. It prints one JSON line with the
same fields as ``wrk_report.lua``. Only 127.0.0.1 and localhost are accepted
as targets.

It costs far more CPU per request than wrk, CPU the server under test then
does not have; the results name the generator used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import threading
import time
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _thread(
    host: str,
    port: int,
    path: str,
    headers: list[str],
    offset: int,
    start: float,
    deadline: float,
    latencies: list[float],
    errors: dict[str, int],
) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=10)
    index = offset
    while time.perf_counter() < start:
        time.sleep(0.0005)
    while True:
        sent = time.perf_counter()
        if sent >= deadline:
            break
        value = headers[index % len(headers)]
        index += 1
        try:
            connection.request("GET", path, headers={"Authorization": value})
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors["read"] += 1
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=10)
            continue
        finished = time.perf_counter()
        if finished > deadline:
            break
        latencies.append(finished - sent)
        if not 200 <= response.status < 400:
            errors["status"] += 1
    connection.close()


def _process(
    url: str, headers: list[str], threads: int, offset: int, start: float, duration: float
) -> tuple[list[float], dict[str, int]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors = {"read": 0, "status": 0}
    workers = [
        threading.Thread(
            target=_thread,
            args=(
                host,
                port,
                parts.path or "/",
                headers,
                offset + number * 7,
                start,
                start + duration,
                latencies,
                errors,
            ),
        )
        for number in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, errors


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    position = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[position]


def run(url: str, headers: list[str], *, duration: float, connections: int, processes: int):
    """Load ``url`` and return the wrk-shaped summary."""
    if urlsplit(url).hostname not in LOCAL_HOSTS:
        raise SystemExit("benchmarks.loadgen only targets 127.0.0.1 or localhost")
    processes = max(1, min(processes, connections))
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    start = time.perf_counter() + 0.5  # perf_counter is system-wide on Linux
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        outcomes = pool.starmap(
            _process,
            [(url, headers, share, i * 101, start, duration) for i, share in enumerate(shares)],
        )
    latencies = sorted(latency for outcome in outcomes for latency in outcome[0])
    errors = {"read": 0, "status": 0}
    for _, outcome_errors in outcomes:
        for key, value in outcome_errors.items():
            errors[key] += value
    return {
        "requests": len(latencies),
        "duration_us": int(duration * 1e6),
        "p50_us": int(_percentile(latencies, 0.50) * 1e6),
        "p99_us": int(_percentile(latencies, 0.99) * 1e6),
        "mean_us": sum(latencies) / len(latencies) * 1e6 if latencies else 0.0,
        "max_us": int(latencies[-1] * 1e6) if latencies else 0,
        "errors_connect": 0,
        "errors_read": errors["read"],
        "errors_write": 0,
        "errors_status": errors["status"],
        "errors_timeout": 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("headers_file")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with open(args.headers_file) as file:
        headers = [line.strip() for line in file if line.strip()]
    summary = run(
        args.url,
        headers,
        duration=min(args.duration, 60.0),
        connections=min(args.connections, 256),
        processes=args.processes,
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
