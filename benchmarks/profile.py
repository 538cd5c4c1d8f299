"""Where a contender's server spends its CPU under load: py-spy on its workers.

``python -m benchmarks.profile tokenkit-redis [--duration 8]`` sets up the
benchmark database like ``benchmarks.run``, starts that contender's gunicorn
(the throughput measurement's shape), loads it with the same generator, and
samples every worker with ``py-spy record --gil`` (only the thread holding
the GIL, so samples are Python CPU time, not waiting). It prints the share of
samples under a few frames of interest and the heaviest leaf frames, and
keeps the raw folded stacks in ``--keep DIR`` when given (for a flame graph).
py-spy is in the ``bench`` extra; it needs permission to ptrace the workers.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import environment
from benchmarks.run import CONNECTIONS, THROUGHPUT_SHAPE
from benchmarks.throughput import LoadShape, run_load

#: (label, substrings that must all appear in a stack) for the summary.
FRAMES = [
    ("authenticate()", ["authenticate ("]),
    ("  tokenkit: tokens.decode", ["decode (django_tokenkit/tokens.py"]),
    ("  tokenkit: revocation.fetch (cache round trip)", ["fetch (django_tokenkit/revocation.py"]),
    ("  tokenkit: is_revoked", ["is_revoked (django_tokenkit/revocation.py"]),
    ("  tokenkit: user_for_token", ["user_for_token (django_tokenkit/users.py"]),
    ("  simplejwt: get_validated_token", ["get_validated_token ("]),
    ("  simplejwt: get_user", ["get_user (rest_framework_simplejwt"]),
    ("  knox: authenticate_credentials", ["authenticate_credentials (knox"]),
    ("PyJWT", ["(jwt/"]),
    ("redis-py + django-redis", ["(redis/"]),
    ("database (django.db)", ["(django/db/"]),
    ("sliding middleware (own work)", ["_renewable_token ("]),
]


def fold(paths: list[Path]) -> collections.Counter[str]:
    stacks: collections.Counter[str] = collections.Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[stack] += int(count)
    return stacks


def summarise(stacks: collections.Counter[str]) -> str:
    total = sum(stacks.values()) or 1
    lines = [f"{total} samples (GIL held)"]
    for label, needles in FRAMES:
        hits = sum(n for stack, n in stacks.items() if all(x in stack for x in needles))
        if hits:
            lines.append(f"{label:50s} {hits / total * 100:5.1f}%")
    leaves: collections.Counter[str] = collections.Counter()
    for stack, n in stacks.items():
        leaves[stack.rsplit(";", 1)[-1]] += n
    lines.append("heaviest leaf frames:")
    lines += [f"  {n / total * 100:5.1f}%  {frame[:110]}" for frame, n in leaves.most_common(12)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("contender")
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--keep", type=Path, help="directory for the raw folded stacks")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed (pip install -e '.[bench]')")
    (contender,) = environment.contender_list([args.contender])
    wrk = environment.wrk_path()
    shape = LoadShape(
        connections=CONNECTIONS,
        duration=args.duration,
        generator="wrk" if wrk else "python",
        wrk=wrk,
    )
    with environment.own_services():
        credentials = environment.issue_credentials(environment.create_users())
        headers = credentials.for_contender(contender)
        with tempfile.TemporaryDirectory(prefix="tokenkit-profile-") as scratch:
            work = args.keep or Path(scratch)
            work.mkdir(parents=True, exist_ok=True)
            headers_file = work / "headers"
            headers_file.write_text("\n".join(headers) + "\n")
            running = environment.servers(
                [contender], THROUGHPUT_SHAPE, work, {contender.name: headers[0]}
            )
            with running as servers:
                server = servers[contender.name]
                url = server.base_url + "/api/me/"
                run_load(url, headers_file, shape, 2)  # warm-up
                pid = server.process.pid
                workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                outputs = [work / f"{contender.name}-{worker}.txt" for worker in workers]
                spies = [
                    subprocess.Popen(
                        [py_spy, "record", "--gil", "-f", "raw", "-r", "250"]
                        + ["-d", str(args.duration + 1), "-o", str(output), "-p", worker],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.STDOUT,
                    )
                    for worker, output in zip(workers, outputs, strict=True)
                ]
                time.sleep(0.5)
                summary = run_load(url, headers_file, shape, args.duration)
                for spy in spies:
                    spy.wait(timeout=args.duration + 30)
            print(f"{contender.name}: {summary['requests'] / args.duration:.0f} req/s under py-spy")
            print(summarise(fold([output for output in outputs if output.exists()])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
