"""The pages of the simulated Jira site, at addresses shaped like Jira Cloud's."""
from __future__ import annotations

from django.urls import path

from jira import views

app_name = "jira"
urlpatterns = [
    path("jira/projects/", views.project_list_view, name="projects"),
    path("jira/projects/<str:key>/issues/", views.issue_list_view, name="project-issues"),
    path("jira/issues/", views.issue_list_view, name="issues"),
    path("jira/issues/create/", views.issue_create_view, name="issue-create"),
    path("browse/<str:key>", views.issue_detail_view, name="issue"),
    path("browse/<str:key>/edit/", views.issue_edit_view, name="issue-edit"),
    path("browse/<str:key>/summary/", views.issue_summary_view, name="issue-summary"),
    path("browse/<str:key>/transition/", views.issue_transition_view, name="issue-transition"),
    path("browse/<str:key>/comments/", views.comment_add_view, name="comment-add"),
    path("browse/<str:key>/comments/<int:comment_id>/edit/", views.comment_edit_view, name="comment-edit"),
    path("browse/<str:key>/comments/<int:comment_id>/delete/", views.comment_delete_view, name="comment-delete"),
    path("manage-profile/security/api-tokens/", views.api_tokens_view, name="api-tokens"),
    path("manage-profile/security/api-tokens/<int:pk>/revoke/", views.api_token_revoke_view, name="api-token-revoke"),
]
