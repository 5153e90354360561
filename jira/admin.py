from __future__ import annotations

from django.contrib import admin

from jira.models import CustomField, IssueType, Priority, Profile, Project, SiteConfiguration, Status, Transition


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "project_type")
    search_fields = ("key", "name")


@admin.register(IssueType)
class IssueTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "subtask", "hierarchy_level")


@admin.register(SiteConfiguration)
class SiteConfigurationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "issue_sync_installed", "issue_sync_active")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return not SiteConfiguration.objects.exists()

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ("name", "field_type")


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):
    list_display = ("name", "category")


@admin.register(Priority)
class PriorityAdmin(admin.ModelAdmin):
    list_display = ("name", "position")


@admin.register(Transition)
class TransitionAdmin(admin.ModelAdmin):
    list_display = ("project", "name", "from_status", "to_status")
    list_filter = ("project",)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("display_name", "account_id", "user")
    search_fields = ("display_name", "account_id", "user__email")
