from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from invitations import views as wire
from issuesync.health import healthz
from jira import api as jira_api
from mappings.api import MappingViewSet
from replication.urls import api_urlpatterns as issue_sync_api
from synchronizations.api import SynchronizationViewSet

router = DefaultRouter()
router.register("synchronizations", SynchronizationViewSet, basename="synchronization")
mapping_router = DefaultRouter(trailing_slash=True)
mapping_router.include_root_view = False
mapping_router.register("mappings", MappingViewSet, basename="mapping")

urlpatterns = [
    path(".well-known/issue-sync", wire.discovery, name="discovery"),
    path("wire/v1/messages", wire.inbox, name="inbox"),
    path("wire/v1/batches", wire.inbox_batch, name="inbox-batch"),
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("django-admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api/synchronizations/<uuid:sync_pk>/", include(mapping_router.urls)),
    path("api/", include(issue_sync_api)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("rest/api/3/", include(jira_api.urlpatterns), {"api_version": "3"}),
    path("rest/api/2/", include(jira_api.urlpatterns), {"api_version": "2"}),
    path("rest/api/latest/", include(jira_api.urlpatterns), {"api_version": "2"}),
    path("plugins/servlet/ac/issue-sync/synchronizations/<uuid:pk>/mappings/", include("mappings.urls")),
    path("plugins/servlet/ac/issue-sync/", include("replication.urls")),
    path("", include("jira.urls")),
    path("", include("synchronizations.urls")),
]
