from __future__ import annotations

from django.urls import path

from mappings import views

app_name = "mappings"
urlpatterns = [
    path("add/", views.mapping_edit_view, name="add"),
    path("<uuid:mapping_id>/", views.mapping_edit_view, name="edit"),
    path("<uuid:mapping_id>/enabled/", views.mapping_enable_view, name="enabled"),
    path("<uuid:mapping_id>/delete/", views.mapping_delete_view, name="delete"),
]
