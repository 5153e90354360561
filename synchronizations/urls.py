from __future__ import annotations

from django.urls import path

from synchronizations import views

BASE = "plugins/servlet/ac/issue-sync/synchronizations/"
app_name = "synchronizations"
urlpatterns = [
    path("", views.home, name="home"),
    path(BASE, views.synchronization_list_view, name="list"),
    path(BASE + "new/", views.synchronization_create_view, name="create"),
    path(BASE + "<uuid:pk>/", views.synchronization_detail_view, name="detail"),
    path(BASE + "<uuid:pk>/next/", views.synchronization_next_view, name="next"),
    path(BASE + "<uuid:pk>/scope/", views.synchronization_scope_view, name="scope"),
    path(BASE + "<uuid:pk>/reject/", views.synchronization_reject_view, name="reject"),
    path(BASE + "<uuid:pk>/delete/", views.synchronization_delete_view, name="delete"),
    path(BASE + "<uuid:pk>/remove/", views.synchronization_remove_view, name="remove"),
    path(BASE + "<uuid:pk>/retry/", views.synchronization_retry_view, name="retry"),
]
