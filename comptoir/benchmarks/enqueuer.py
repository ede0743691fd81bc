"""The API's side of the SMPP benchmark, in a process of its own (as the web process is).

`python -m comptoir.benchmarks.enqueuer <workspace id> <count> <offset>` loads Django,
prints "ready", waits for a line on stdin, queues `count` messages through
`messages_send` in batches of 500 (the same body and numbers as the benchmark), and
prints the seconds it took and the CPU seconds it used.
"""

from __future__ import annotations

import os
import sys
import time


def main(workspace_id: str, count: int, offset: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
    import django

    django.setup()
    from comptoir.benchmarks.smpp import BODY, phones_for
    from comptoir.messaging.outbox import SendRequest, messages_send
    from comptoir.workspaces.models import Workspace

    workspace = Workspace.objects.get(id=workspace_id)
    phones = phones_for(count, offset)
    print("ready", flush=True)
    sys.stdin.readline()
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, count, 500):
        messages_send(
            workspace=workspace,
            requests=[SendRequest(p, BODY, "transactional") for p in phones[i : i + 500]],
        )
    print(f"{time.perf_counter() - start:.6f} {time.process_time() - cpu:.6f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
