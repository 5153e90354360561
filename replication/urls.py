from __future__ import annotations

from django.urls import path

from replication import api, views

app_name = "replication"

urlpatterns = [
    path("synchronizations/<uuid:pk>/issue-errors/", views.issue_errors_view, name="errors"),
    path("synchronizations/<uuid:pk>/issue-errors/<int:link_pk>/retry/", views.issue_error_action_view,
         {"action": "retry"}, name="retry"),
    path("synchronizations/<uuid:pk>/issue-errors/<int:link_pk>/skip/", views.issue_error_action_view,
         {"action": "skip"}, name="skip"),
    path("synchronizations/<uuid:pk>/issue-sync/pause/", views.pause_view, {"paused": True}, name="pause"),
    path("synchronizations/<uuid:pk>/issue-sync/resume/", views.pause_view, {"paused": False}, name="resume"),
    path("synchronizations/<uuid:pk>/existing-issues/", views.run_start_view, name="run-start"),
    path("synchronizations/<uuid:pk>/existing-issues/<uuid:run_pk>/<str:action>/", views.run_action_view,
         name="run-action"),
    path("issue/<str:key>/panel/", views.issue_panel_view, name="panel"),
    path("issue/<str:key>/sync-now/", views.issue_sync_now_view, name="sync-now"),
]

api_urlpatterns = [
    path("synchronizations/<uuid:sync_pk>/issue-errors/", api.issue_errors, name="api-issue-errors"),
    path("synchronizations/<uuid:sync_pk>/issue-errors/<int:link_pk>/retry/", api.issue_error_retry,
         name="api-issue-error-retry"),
    path("synchronizations/<uuid:sync_pk>/issue-errors/<int:link_pk>/skip/", api.issue_error_skip,
         name="api-issue-error-skip"),
    path("synchronizations/<uuid:sync_pk>/issue-sync/", api.issue_sync_summary, name="api-issue-sync"),
    path("synchronizations/<uuid:sync_pk>/issue-sync/pause/", api.issue_sync_pause, name="api-issue-sync-pause"),
    path("synchronizations/<uuid:sync_pk>/issue-sync/resume/", api.issue_sync_resume, name="api-issue-sync-resume"),
    path("synchronizations/<uuid:sync_pk>/existing-issues/", api.issue_sync_runs, name="api-runs"),
    path("synchronizations/<uuid:sync_pk>/existing-issues/<uuid:run_pk>/", api.issue_sync_run, name="api-run"),
    path("synchronizations/<uuid:sync_pk>/existing-issues/<uuid:run_pk>/pause/", api.issue_sync_run_action,
         {"action": "pause"}, name="api-run-pause"),
    path("synchronizations/<uuid:sync_pk>/existing-issues/<uuid:run_pk>/resume/", api.issue_sync_run_action,
         {"action": "resume"}, name="api-run-resume"),
    path("synchronizations/<uuid:sync_pk>/existing-issues/<uuid:run_pk>/cancel/", api.issue_sync_run_action,
         {"action": "cancel"}, name="api-run-cancel"),
]
