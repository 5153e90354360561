"""The person's own pages: API tokens (create, list, revoke), as on Atlassian's account security page."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from jira import services
from jira.models import ApiToken


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens_view(request: HttpRequest) -> HttpResponse:
    """The list of the person's tokens; POST creates one and shows it this once (it is never stored)."""
    user = request.user
    assert isinstance(user, User)
    new_token, error, label = "", "", ""
    status = 200
    if request.method == "POST":
        label = request.POST.get("label", "").strip()
        if not label:
            error, status = "Give the token a label, so you can tell it apart later.", 400
        elif len(label) > 100:
            error, status = "The label must be 100 characters or fewer.", 400
        elif not user.email:
            error, status = "Your account needs an email address: API tokens are used with it.", 400
        else:
            _, new_token = services.api_token_create(user=user, label=label)
            label = ""
    tokens = ApiToken.objects.filter(user=user)
    return render(request, "jira/api_tokens.html", {"tokens": tokens, "new_token": new_token, "error": error,
                                                    "label": label}, status=status)


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if services.api_token_revoke(user=user, token_id=pk):
        messages.success(request, "The API token was revoked.")
    else:
        messages.error(request, "That API token does not exist.")
    return redirect("jira:api-tokens")
