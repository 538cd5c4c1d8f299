"""One OS process of the shared-session test: threads calling the API through one client.

Run as ``python -m tests.client.worker <json config>``; prints one JSON line
with the statuses seen, the errors raised and the client's counters. Every
process shares the session through ``RedisTokenStore(redis_url, key)``;
``clock_offset`` skews this process's clock, as on another machine.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict
from typing import Any

import requests

from django_tokenkit.client import RedisTokenStore, TokenkitAuth


def main(config: dict[str, Any]) -> dict[str, Any]:
    offset = float(config["clock_offset"])
    auth = TokenkitAuth(
        config["auth_url"],
        config["username"],
        config["password"],
        store=RedisTokenStore(config["redis_url"], config["key"]),
        clock=lambda: time.time() + offset,
    )
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    time.sleep(max(float(config["start_at"]) - time.time(), 0))
    end = time.monotonic() + float(config["seconds"])

    def run(index: int) -> None:
        urls = config["api_urls"]
        with requests.Session() as session:
            while time.monotonic() < end:
                try:
                    response = session.get(urls[index % len(urls)], auth=auth, timeout=30)
                except Exception as error:
                    with lock:
                        errors.append(repr(error))
                    return
                with lock:
                    statuses[response.status_code] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(int(config["threads"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": dict(statuses), "errors": errors, "stats": asdict(auth.stats)}


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
