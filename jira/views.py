"""The pages a Jira user clicks: projects, a project's issues, create, the issue view, API tokens.

Views only parse what the browser sent and render: every change goes through `jira.services`
(which validates and reports problems by Jira field id), every read through `jira.selectors` or
`jira.browse`. Any signed-in person may use them, as on Jira (administrators may do more).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from jira import browse, services
from jira.adf import adf_to_text
from jira.fields import FieldErrors, custom_fields_by_id
from jira.models import ApiToken, Comment, CustomField, Issue, IssueType, Project, Status
from jira.panels import issue_panels_render
from jira.selectors import issue_changelog, issue_comments, issue_get, issue_remote_links, priorities
from jira.signals import Origin
from jira.templatetags.jira_pages import CATEGORY_LOZENGE

PAGE_SIZE = 50
LABEL_SPLIT = re.compile(r"[\s,]+")


def _origin(request: HttpRequest) -> Origin:
    return Origin.person(request.user.pk)


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # every view here requires a signed-in person
    return user


def _issue_or_404(key: str) -> Issue:
    issue = issue_get(key)
    if issue is None:
        raise Http404("Issue does not exist or you do not have permission to see it.")
    return issue


# --- Projects and the issue list ---------------------------------------------------------------


@login_required
def project_list_view(request: HttpRequest) -> HttpResponse:
    return render(request, "jira/projects.html", {"projects": browse.projects_with_counts()})


@login_required
def issue_list_view(request: HttpRequest, key: str | None = None) -> HttpResponse:
    project = None
    if key is not None:
        project = Project.objects.filter(key=key.upper()).first()
        if project is None:
            raise Http404("No project could be found with this key.")
    flt = browse.issue_filter_from(request.GET, project)
    page = Paginator(browse.issue_list(flt), PAGE_SIZE).get_page(request.GET.get("page"))
    # Rows as plain strings, the issue address reversed once for the page: the markup only prints them.
    placeholder = "KEY-0"
    url = reverse("jira:issue", kwargs={"key": placeholder})
    rows = [{"key": row["key"], "url": url.replace(placeholder, row["key"]), "summary": row["summary"],
             "type": row["issue_type__name"], "assignee": browse.row_assignee(row),
             "priority": row["priority__name"] or "", "priority_colour": row["priority__colour"] or "",
             "status": row["status__name"], "lozenge": CATEGORY_LOZENGE.get(row["status__category"], "default"),
             "updated": row["updated"]} for row in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "jira/issue_list.html", {
        "project": project, "filter": flt, "page": page, "rows": rows, "query": query.urlencode(),
        "statuses": Status.objects.all(), "issue_types": IssueType.objects.filter(subtask=False),
        "people": [(browse.account_id(u), browse.person_name(u)) for u in browse.people()],
        "assignee_value": request.GET.get("assignee", ""), "unassigned": browse.UNASSIGNED,
    })


# --- Create and edit ---------------------------------------------------------------------------


def _text(post: QueryDict, name: str) -> str:
    return str(post.get(name, "")).replace("\r\n", "\n")


def _labels(text: str) -> list[str]:
    return [label for label in LABEL_SPLIT.split(text) if label]


def _custom_value(cf: CustomField, raw: str) -> Any:
    """What the page sent for a custom field, as the service takes it (Jira's JSON)."""
    raw = raw.strip()
    if not raw:
        return None
    kind = cf.field_type
    if kind == CustomField.FieldType.SELECT:
        return {"value": raw}
    if kind == CustomField.FieldType.USER:
        return {"accountId": raw}
    if kind == CustomField.FieldType.LABELS:
        return _labels(raw)
    return raw  # text, number (a string the service parses), date (yyyy-mm-dd)


def _fields_from(post: QueryDict, cfs: Mapping[str, CustomField], *, issue: Issue | None) -> dict[str, Any]:
    """The Jira `fields` the create or edit form asks for. On edit, a description whose text did not
    change is left out, so a rich document is not flattened to plain paragraphs by saving the form."""
    fields: dict[str, Any] = {}
    if issue is None and post.get("project"):
        fields["project"] = {"key": str(post["project"])}
    if post.get("issuetype") or issue is None:
        fields["issuetype"] = {"id": str(post.get("issuetype", ""))} if post.get("issuetype") else None
    fields["summary"] = _text(post, "summary")
    description = _text(post, "description")
    if issue is None:
        if description.strip():
            fields["description"] = description
    elif description.strip() != adf_to_text(issue.description).strip():
        fields["description"] = description if description.strip() else None
    if post.get("priority"):
        fields["priority"] = {"name": str(post["priority"])}
    fields["labels"] = _labels(_text(post, "labels"))
    fields["assignee"] = {"accountId": str(post["assignee"])} if post.get("assignee") else None
    fields["duedate"] = str(post.get("duedate") or "").strip() or None
    for field_id, cf in cfs.items():
        if field_id in post:
            fields[field_id] = _custom_value(cf, str(post[field_id]))
    if issue is None:
        fields = {k: v for k, v in fields.items() if v is not None}
    return fields


def _form_values(issue: Issue | None, cfs: Mapping[str, CustomField]) -> dict[str, str]:
    """The form's initial text, for a new issue or from an existing one."""
    if issue is None:
        return {"priority": services.DEFAULT_PRIORITY}
    values = {
        "issuetype": str(issue.issue_type_id), "summary": issue.summary,
        "description": adf_to_text(issue.description), "priority": issue.priority.name if issue.priority else "",
        "labels": " ".join(issue.labels), "assignee": browse.account_id(issue.assignee),
        "duedate": issue.due_date.isoformat() if issue.due_date else "",
    }
    for field_id in cfs:
        value = issue.custom_fields.get(field_id)
        if isinstance(value, list):
            value = " ".join(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        values[field_id] = "" if value is None else str(value)
    return values


def _form_context(values: dict[str, str], errors: FieldErrors | None, cfs: Mapping[str, CustomField]) -> dict[str, Any]:
    errs = errors.errors if errors else {}
    custom = [{"id": fid, "name": cf.name, "type": cf.field_type, "options": cf.options,
               "value": values.get(fid, ""), "error": errs.get(fid, "")} for fid, cf in cfs.items()]
    known = {"project", "issuetype", "summary", "description", "priority", "labels", "assignee", "duedate", *cfs}
    # Problems the form has no field for (a stale edit, a permission) show in the banner.
    general = list(errors.messages) if errors else []
    general += [message for field_id, message in errs.items() if field_id not in known]
    return {
        "values": values, "errors": errs, "general_errors": general, "custom_fields": custom,
        "projects": Project.objects.all(), "issue_types": IssueType.objects.filter(subtask=False),
        "priorities": priorities(),
        "people": [(browse.account_id(u), browse.person_name(u)) for u in browse.people()],
    }


@login_required
def issue_create_view(request: HttpRequest) -> HttpResponse:
    cfs = custom_fields_by_id()
    errors: FieldErrors | None = None
    if request.method == "POST":
        values = {k: _text(request.POST, k) for k in request.POST if k != "csrfmiddlewaretoken"}
        try:
            issue = services.issue_create(actor=_actor(request), origin=_origin(request),
                                          fields=_fields_from(request.POST, cfs, issue=None), plain_text=True)
        except FieldErrors as e:
            errors = e
        else:
            messages.success(request, f"{issue.key} has been created.")
            return redirect("jira:issue", key=issue.key)
    else:
        values = _form_values(None, cfs)
        project = request.GET.get("project")
        if project:
            values["project"] = project.upper()
        default_type = services.issue_type_default()
        if default_type is not None:
            values["issuetype"] = str(default_type.pk)
    context = _form_context(values, errors, cfs)
    return render(request, "jira/issue_create.html", context, status=400 if errors else 200)


@login_required
def issue_edit_view(request: HttpRequest, key: str) -> HttpResponse:
    issue = _issue_or_404(key)
    cfs = custom_fields_by_id()
    errors: FieldErrors | None = None
    if request.method == "POST":
        values = {k: _text(request.POST, k) for k in request.POST if k != "csrfmiddlewaretoken"}
        version = str(request.POST.get("version", ""))
        try:
            services.issue_update(actor=_actor(request), origin=_origin(request), issue=issue,
                                  fields=_fields_from(request.POST, cfs, issue=issue), plain_text=True,
                                  expected_version=int(version) if version.isdigit() else None)
        except FieldErrors as e:
            errors = e
        else:
            messages.success(request, f"{issue.key} has been updated.")
            return redirect("jira:issue", key=issue.key)
    else:
        values = _form_values(issue, cfs)
        values["version"] = str(issue.version)
    context = _form_context(values, errors, cfs)
    context["issue"] = issue
    return render(request, "jira/issue_edit.html", context, status=(errors.status if errors else 200))


# --- The issue view ----------------------------------------------------------------------------


def _issue_page(request: HttpRequest, issue: Issue, *, status: int = 200, **extra: Any) -> HttpResponse:
    user = _actor(request)
    comments = [{"comment": c, "author": browse.person_name(c.author),
                 "mine": user.is_staff or c.author_id == user.pk} for c in issue_comments(issue)]
    cfs = list(CustomField.objects.all())
    return render(request, "jira/issue_detail.html", {
        "issue": issue, "project": issue.project,
        "assignee": browse.person_name(issue.assignee), "reporter": browse.person_name(issue.reporter),
        "transitions": services.transitions_available(issue),
        "comments": comments, "history": browse.history(issue_changelog(issue)),
        "custom_values": browse.custom_values(issue, cfs), "remote_links": issue_remote_links(issue),
        "panels": issue_panels_render(request, issue), **extra,
    }, status=status)


@login_required
def issue_detail_view(request: HttpRequest, key: str) -> HttpResponse:
    issue = _issue_or_404(key)
    if issue.key != key:
        return redirect("jira:issue", key=issue.key)  # `alpha-1` and ids land on the canonical address
    return _issue_page(request, issue)


@login_required
@require_POST
def issue_summary_view(request: HttpRequest, key: str) -> HttpResponse:
    """Edit the summary in place (the issue page's heading)."""
    issue = _issue_or_404(key)
    summary = _text(request.POST, "summary")
    version = str(request.POST.get("version", ""))
    try:
        services.issue_update(actor=_actor(request), origin=_origin(request), issue=issue,
                              fields={"summary": summary},
                              expected_version=int(version) if version.isdigit() else None)
    except FieldErrors as e:
        error = e.errors.get("summary") or str(e)
        return _issue_page(request, _issue_or_404(key), status=e.status, summary_error=error, summary_value=summary)
    return redirect("jira:issue", key=issue.key)


@login_required
@require_POST
def issue_transition_view(request: HttpRequest, key: str) -> HttpResponse:
    issue = _issue_or_404(key)
    try:
        issue = services.issue_transition(actor=_actor(request), origin=_origin(request), issue=issue,
                                          transition_id=str(request.POST.get("transition", ""))[:20])
    except FieldErrors as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"{issue.key} is now {issue.status.name}.")
    return redirect("jira:issue", key=issue.key)


@login_required
@require_POST
def comment_add_view(request: HttpRequest, key: str) -> HttpResponse:
    issue = _issue_or_404(key)
    body = _text(request.POST, "body")
    try:
        services.comment_add(actor=_actor(request), origin=_origin(request), issue=issue,
                             body=body if body.strip() else "", plain_text=True)
    except FieldErrors as e:
        return _issue_page(request, issue, status=e.status, comment_error=e.errors.get("comment") or str(e),
                           comment_value=body)
    return redirect(reverse("jira:issue", kwargs={"key": issue.key}) + "#comments")


def _comment_or_404(issue: Issue, comment_id: int) -> Comment:
    comment = Comment.objects.filter(pk=comment_id, issue=issue).first()
    if comment is None:
        raise Http404("This comment does not exist.")
    return comment


@login_required
@require_POST
def comment_edit_view(request: HttpRequest, key: str, comment_id: int) -> HttpResponse:
    issue = _issue_or_404(key)
    comment = _comment_or_404(issue, comment_id)
    body = _text(request.POST, "body")
    try:
        services.comment_update(actor=_actor(request), origin=_origin(request), comment=comment,
                                body=body if body.strip() else "", plain_text=True)
    except FieldErrors as e:
        if e.status == 403:
            messages.error(request, str(e))
            return redirect("jira:issue", key=issue.key)
        return _issue_page(request, issue, status=e.status, editing_comment=comment.pk,
                           editing_error=e.errors.get("comment") or str(e), editing_value=body)
    return redirect(reverse("jira:issue", kwargs={"key": issue.key}) + f"#comment-{comment.pk}")


@login_required
@require_POST
def comment_delete_view(request: HttpRequest, key: str, comment_id: int) -> HttpResponse:
    issue = _issue_or_404(key)
    comment = _comment_or_404(issue, comment_id)
    try:
        services.comment_delete(actor=_actor(request), origin=_origin(request), comment=comment)
    except FieldErrors as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "The comment has been deleted.")
    return redirect(reverse("jira:issue", kwargs={"key": issue.key}) + "#comments")


# --- API tokens (Atlassian's account security page) --------------------------------------------


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
