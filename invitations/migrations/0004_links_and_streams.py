

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('invitations', '0003_outbox_claim'),
    ]

    operations = [
        migrations.CreateModel(
            name='Link',
            fields=[
                ('id', models.UUIDField(primary_key=True, serialize=False)),
                ('partner_address', models.CharField(max_length=200)),
                ('partner_key_id', models.CharField(db_index=True, max_length=300)),
                ('partner_public_key_pem', models.TextField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name='LinkStream',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('stream', models.CharField(blank=True, max_length=80)),
                ('last_sent', models.PositiveIntegerField(default=0)),
                ('last_received', models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name='outboxmessage',
            name='outbox_unique_sequence',
        ),
        migrations.AddField(
            model_name='inboundmessage',
            name='error',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='inboundmessage',
            name='outcome',
            field=models.CharField(choices=[('applied', 'Applied'), ('absorbed', 'Absorbed'), ('refused', 'Refused')], default='applied', max_length=10),
        ),
        migrations.AddField(
            model_name='inboundmessage',
            name='stream',
            field=models.CharField(blank=True, default='', max_length=80),
        ),
        migrations.AddField(
            model_name='outboxmessage',
            name='stream',
            field=models.CharField(blank=True, default='', max_length=80),
        ),
        migrations.AddIndex(
            model_name='inboundmessage',
            index=models.Index(fields=['synchronization_id', '-received_at'], name='inbound_history'),
        ),
        migrations.AddIndex(
            model_name='outboxmessage',
            index=models.Index(fields=['synchronization_id', '-created_at'], name='outbox_history'),
        ),
        migrations.AddConstraint(
            model_name='outboxmessage',
            constraint=models.UniqueConstraint(fields=('synchronization_id', 'stream', 'sequence'), name='outbox_unique_stream_sequence'),
        ),
        migrations.AddField(
            model_name='linkstream',
            name='link',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='streams', to='invitations.link'),
        ),
        migrations.AddConstraint(
            model_name='linkstream',
            constraint=models.UniqueConstraint(fields=('link', 'stream'), name='link_stream_unique'),
        ),
    ]
