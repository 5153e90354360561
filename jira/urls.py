from __future__ import annotations

from django.urls import path

from jira import views

app_name = "jira"
urlpatterns = [
    path("manage-profile/security/api-tokens/", views.api_tokens_view, name="api-tokens"),
    path("manage-profile/security/api-tokens/<int:pk>/revoke/", views.api_token_revoke_view, name="api-token-revoke"),
]
