

from typing import Any

from django.db import migrations


def links_from_synchronizations(apps: Any, schema_editor: Any) -> None:
    """The partner, its pinned key and the sequence counters move to the wire's own tables."""
    Synchronization = apps.get_model("synchronizations", "Synchronization")
    Link = apps.get_model("invitations", "Link")
    LinkStream = apps.get_model("invitations", "LinkStream")
    for sync in Synchronization.objects.all().iterator():
        link, _ = Link.objects.get_or_create(id=sync.id, defaults={
            "partner_address": sync.partner_address, "partner_key_id": sync.partner_key_id,
            "partner_public_key_pem": sync.partner_public_key_pem})
        LinkStream.objects.get_or_create(link=link, stream="", defaults={
            "last_sent": sync.last_sent_sequence, "last_received": sync.last_received_sequence})


def synchronizations_from_links(apps: Any, schema_editor: Any) -> None:
    Synchronization = apps.get_model("synchronizations", "Synchronization")
    LinkStream = apps.get_model("invitations", "LinkStream")
    for counter in LinkStream.objects.filter(stream="").select_related("link").iterator():
        Synchronization.objects.filter(pk=counter.link_id).update(
            partner_key_id=counter.link.partner_key_id, partner_public_key_pem=counter.link.partner_public_key_pem,
            last_sent_sequence=counter.last_sent, last_received_sequence=counter.last_received)


class Migration(migrations.Migration):

    dependencies = [
        ('synchronizations', '0002_list_indexes'),
        ('invitations', '0004_links_and_streams'),
    ]

    operations = [
        migrations.RunPython(links_from_synchronizations, synchronizations_from_links),
        migrations.RemoveField(
            model_name='synchronization',
            name='last_received_sequence',
        ),
        migrations.RemoveField(
            model_name='synchronization',
            name='last_sent_sequence',
        ),
        migrations.RemoveField(
            model_name='synchronization',
            name='partner_key_id',
        ),
        migrations.RemoveField(
            model_name='synchronization',
            name='partner_public_key_pem',
        ),
    ]
