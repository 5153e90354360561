from __future__ import annotations

from django.urls import path

from synchronizations import views

app_name = "synchronizations"
urlpatterns = [
    path("", views.home, name="home"),
    path("plugins/servlet/ac/issue-sync/synchronizations/", views.synchronization_list_view, name="list"),
    path("plugins/servlet/ac/issue-sync/synchronizations/<uuid:pk>/", views.synchronization_detail_view,
         name="detail"),
]
