"""References without a database constraint (see comptoir.core.models) are still kept
whole: deleting their parent through Django removes or protects the rows that point at it."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError

from comptoir.campaigns.models import Campaign, CampaignRecipient, ShortLink
from comptoir.channels.models import Channel
from comptoir.messaging.models import Message
from comptoir.workspaces.models import Workspace
from tests.test_campaigns import clock, customers, draft, launch

__all__ = ["clock"]  # the autouse clock of the campaign tests

LINKED = "Bonjour {first_name}, -20 % : https://optique.example/soldes"


def test_deleting_a_campaign_removes_its_recipients_and_links(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    customers(workspace, ["Léa", "Bob"])
    campaign = launch(draft(workspace, LINKED), django_capture_on_commit_callbacks)
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 2
    assert ShortLink.objects.filter(campaign=campaign).count() == 2
    Campaign.objects.filter(id=campaign.id).delete()
    assert not CampaignRecipient.objects.filter(campaign_id=campaign.id).exists()
    assert not ShortLink.objects.filter(campaign_id=campaign.id).exists()
    assert Message.objects.filter(workspace=workspace).count() == 2  # what was sent stays


def test_a_channel_with_messages_cannot_be_deleted(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    customers(workspace, ["Léa"])
    launch(draft(workspace), django_capture_on_commit_callbacks)
    used = Message.objects.get(workspace=workspace).channel
    with pytest.raises(ProtectedError):
        used.delete()
    assert Channel.objects.filter(id=used.id).exists()


def test_a_workspace_that_has_sent_cannot_be_deleted_by_accident(
    workspace: Workspace, channel: Channel, django_capture_on_commit_callbacks: object
) -> None:
    customers(workspace, ["Léa", "Bob"])
    campaign = launch(draft(workspace, LINKED), django_capture_on_commit_callbacks)
    with pytest.raises(ProtectedError):  # its channels are protected by their messages
        Workspace.objects.filter(id=workspace.id).delete()
    assert Message.objects.filter(workspace=workspace).count() == 2
    assert ShortLink.objects.filter(campaign=campaign).count() == 2
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 2
