"""Priorities Highest..Lowest, the default statuses, and a profile for every existing user."""

import uuid

from django.conf import settings
from django.db import migrations

PRIORITIES = [("Highest", "#FF5630"), ("High", "#FF7452"), ("Medium", "#FFAB00"), ("Low", "#2684FF"),
              ("Lowest", "#0065FF")]
STATUSES = [("To Do", "new"), ("In Progress", "indeterminate"), ("In Review", "indeterminate"), ("Done", "done")]


def forwards(apps, schema_editor):
    Priority = apps.get_model("jira", "Priority")
    Status = apps.get_model("jira", "Status")
    Profile = apps.get_model("jira", "Profile")
    User = apps.get_model("auth", "User")
    for position, (name, colour) in enumerate(PRIORITIES, start=1):
        Priority.objects.get_or_create(name=name, defaults={"position": position, "colour": colour})
    for name, category in STATUSES:
        Status.objects.get_or_create(name=name, defaults={"category": category})
    for user in User.objects.filter(jira_profile__isnull=True):
        account = "712020:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{settings.SITE_ADDRESS}/{user.username}"))
        name = f"{user.first_name} {user.last_name}".strip() or user.username
        Profile.objects.create(user=user, account_id=account, display_name=name)


class Migration(migrations.Migration):
    dependencies = [("jira", "0003_issues")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
