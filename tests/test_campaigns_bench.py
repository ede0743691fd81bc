"""The fan-out benchmark runs end to end on a small audience and cleans up after itself."""

from __future__ import annotations

import pytest

from comptoir.benchmarks import fanout
from comptoir.campaigns.models import Campaign
from comptoir.contacts.models import Contact
from comptoir.messaging.models import Message
from comptoir.workspaces.models import Workspace


@pytest.mark.django_db
def test_fanout_benchmark_runs_and_purges() -> None:
    lines = fanout.run({"recipients": 300, "batch": 100})
    text = "\n".join(lines)
    assert "fan-out: 300 recipients on" in text
    queued = next(line for line in lines if "messages queued" in line)
    # 90 % opted in, 5 % of them opted out since: most are queued, the rest skipped.
    counts = [int(part.split()[-1].replace(",", "")) for part in queued.split(", ")]
    assert sum(counts[:2]) == 300 and counts[0] == counts[2] > 200
    assert "fan-out / floor" in text
    assert not Workspace.objects.filter(name__startswith="Fan-out benchmark").exists()
    assert not (Campaign.objects.exists() or Contact.objects.exists() or Message.objects.exists())
