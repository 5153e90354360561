"""The Synchronizations pages (Settings > Apps > Synchronizations)."""
from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from synchronizations.models import Synchronization
from synchronizations.selectors import synchronization_list


def home(request: HttpRequest) -> HttpResponse:
    return redirect("synchronizations:list")


@staff_member_required
def synchronization_list_view(request: HttpRequest) -> HttpResponse:
    rows = synchronization_list(status=request.GET.get("status") or None)[:50]
    return render(request, "synchronizations/list.html", {"rows": rows})


@staff_member_required
def synchronization_detail_view(request: HttpRequest, pk: str) -> HttpResponse:
    sync = get_object_or_404(Synchronization.listed, pk=pk)
    return render(request, "synchronizations/detail.html", {"sync": sync})
