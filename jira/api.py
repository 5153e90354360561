"""Jira Cloud's REST API for the site's own data: `/rest/api/3/...` (ADF bodies) and `/rest/api/2/...`
(plain-text bodies), with Jira's shapes, paging and errors (`{"errorMessages": [...], "errors": {...}}`).

Auth: HTTP Basic `email:token` (jira.auth) or the browser session. Every change goes through
jira.services; reads through jira.selectors and jira.search.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.http import Http404
from django.urls import path
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jira import selectors, services
from jira.auth import JiraBasicAuthentication
from jira.fields import FieldErrors, field_options
from jira.jql import JqlError
from jira.models import Comment, CustomField, Issue, IssueType, Priority, Project, Status, StatusCategory
from jira.search import jql_search
from jira.shapes import Shaper, wanted_fields
from jira.signals import Origin

NOT_FOUND = "Issue does not exist or you do not have permission to see it."
SEARCH_MAX = 100
BULK_MAX = 50


def _error(messages: list[str] | None = None, errors: dict[str, str] | None = None, *, status_code: int) -> Response:
    return Response({"errorMessages": messages or [], "errors": errors or {}}, status=status_code)


def jira_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every failure in Jira's error shape."""
    if isinstance(exc, FieldErrors):
        return _error(exc.messages, exc.errors, status_code=exc.status)
    if isinstance(exc, JqlError):
        return _error([f"Error in the JQL Query: {exc}"], status_code=400)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response = _error(["You are not authenticated. Authentication required to perform this operation."],
                          status_code=401)
        response["WWW-Authenticate"] = 'Basic realm="Jira"'
        return response
    if isinstance(exc, exceptions.PermissionDenied):
        return _error(["You do not have permission to perform this operation."], status_code=403)
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return _error([str(exc) or NOT_FOUND], status_code=404)
    if isinstance(exc, exceptions.ParseError):
        return _error([f"The request body is not valid JSON: {exc.detail}"], status_code=400)
    if isinstance(exc, exceptions.APIException):
        return _error([str(exc.detail)], status_code=exc.status_code)
    return None


class JiraView(APIView):
    schema = None  # Jira's own API, documented in docs/jira-api.md; not part of the admin API's schema
    # Jira's Basic email:token and the browser session; also the admin API's token
    # (`Authorization: Token ...`, manage.py admin_token), so one script can read both APIs.
    authentication_classes = [JiraBasicAuthentication, SessionAuthentication, TokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return jira_exception_handler

    @property
    def shaper(self) -> Shaper:
        if not hasattr(self, "_shaper"):
            base = f"{self.request.scheme}://{self.request.get_host()}"
            self._shaper = Shaper(base=base, version="3" if self.kwargs.get("api_version") == "3" else "2")
        return self._shaper

    @property
    def plain_text(self) -> bool:
        return self.shaper.plain_text

    @property
    def origin(self) -> Origin:
        """An API token's call, or a person's own (the browser session calling the API)."""
        if isinstance(self.request.auth, int):
            return Origin.api_token(self.request.user.pk, self.request.auth)
        return Origin.person(self.request.user.pk)

    @property
    def actor(self) -> User:
        user = self.request.user
        assert isinstance(user, User)
        return user

    def body(self) -> dict[str, Any]:
        data = self.request.data
        if not isinstance(data, dict):
            raise FieldErrors(messages=["The request body must be a JSON object."])
        return data

    def issue(self, id_or_key: str, *, people: bool = True) -> Issue:
        issue = selectors.issue_get(id_or_key, people=people)
        if issue is None:
            raise Http404(NOT_FOUND)
        return issue


def _int(value: Any, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value))) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _listed(request: Request, name: str) -> list[str]:
    values = request.query_params.getlist(name)
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


# --- Site information -------------------------------------------------------------------------


class ServerInfo(JiraView):
    permission_classes = [AllowAny]

    def get(self, request: Request, **kwargs: Any) -> Response:
        now = self.shaper.when(timezone.now())
        return Response({"baseUrl": self.shaper.base, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                         "deploymentType": "Cloud", "buildNumber": 100292, "buildDate": "2026-11-01T00:00:00.000+0000",
                         "serverTime": now, "scmInfo": "issuesync", "serverTitle": "Jira",
                         "defaultLocale": {"locale": "en_US"}})


class Myself(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(self.shaper.user(self.actor))


class UserSearch(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        start = _int(request.query_params.get("startAt"), 0, 0, 10**6)
        size = _int(request.query_params.get("maxResults"), 50, 1, 1000)
        query = request.query_params.get("query") or request.query_params.get("username") or ""
        users = selectors.users_search(query)[start:start + size]
        return Response([self.shaper.user(u) for u in users])


class UserDetail(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        from jira.fields import user_resolve

        wanted = request.query_params.get("accountId") or request.query_params.get("username") or ""
        user = user_resolve({"accountId": wanted}) or user_resolve(wanted)
        if user is None:
            raise Http404(f"The user with account ID '{wanted}' does not exist.")
        return Response(self.shaper.user(user))


class FieldList(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response(self.shaper.field_list())


class PriorityList(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response([self.shaper.priority(p) for p in selectors.priorities()])


class PriorityDetail(JiraView):
    def get(self, request: Request, pk: str, **kwargs: Any) -> Response:
        priority = Priority.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
        if priority is None:
            raise Http404(f"The priority with ID '{pk}' does not exist.")
        return Response(self.shaper.priority(priority))


class StatusList(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response([self.shaper.status(s) for s in Status.objects.all()])


class StatusDetail(JiraView):
    def get(self, request: Request, id_or_name: str, **kwargs: Any) -> Response:
        found = (Status.objects.filter(pk=int(id_or_name)) if id_or_name.isdigit()
                 else Status.objects.filter(name__iexact=id_or_name)).first()
        if found is None:
            raise Http404(f"The status with ID or name '{id_or_name}' does not exist.")
        return Response(self.shaper.status(found))


class StatusCategoryList(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response([self.shaper.status_category(key) for key in StatusCategory.values])


# --- Projects and issue types -----------------------------------------------------------------


class ProjectSearch(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        start = _int(request.query_params.get("startAt"), 0, 0, 10**9)
        size = _int(request.query_params.get("maxResults"), 50, 1, 100)
        qs = Project.objects.all()
        keys = _listed(request, "keys")
        if keys:
            qs = qs.filter(key__in=[k.upper() for k in keys])
        if request.query_params.get("query"):
            text = request.query_params["query"]
            qs = qs.filter(key__icontains=text) | qs.filter(name__icontains=text)
        total = qs.count()
        values = [self.shaper.project(p) for p in qs[start:start + size]]
        is_last = start + len(values) >= total
        body: dict[str, Any] = {"self": request.build_absolute_uri(), "startAt": start, "maxResults": size,
                                "total": total, "isLast": is_last, "values": values}
        if not is_last:
            body["nextPage"] = f"{self.shaper.api}/project/search?startAt={start + size}&maxResults={size}"
        return Response(body)


class ProjectList(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response([self.shaper.project(p) for p in Project.objects.all()])


def _project(id_or_key: str) -> Project:
    project = (Project.objects.filter(pk=int(id_or_key)) if id_or_key.isdigit()
               else Project.objects.filter(key__iexact=id_or_key)).first()
    if project is None:
        raise Http404(f"No project could be found with key '{id_or_key}'.")
    return project


class ProjectDetail(JiraView):
    def get(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        return Response(self.shaper.project(_project(id_or_key), issue_types=list(IssueType.objects.all())))


class ProjectStatuses(JiraView):
    def get(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        project = _project(id_or_key)
        services.workflow_ensure(project=project)
        ids = {project.workflow.initial_status_id}
        for t in project.transitions.all():
            ids.add(t.to_status_id)
        statuses = [self.shaper.status(s) for s in Status.objects.filter(pk__in=ids)]
        return Response([{"self": f"{self.shaper.api}/issuetype/{t.pk}", "id": str(t.pk), "name": t.name,
                          "subtask": t.subtask, "statuses": statuses} for t in IssueType.objects.all()])


class IssueTypeList(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response([self.shaper.issue_type(t) for t in IssueType.objects.all()])


class IssueTypeDetail(JiraView):
    def get(self, request: Request, pk: str, **kwargs: Any) -> Response:
        found = IssueType.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
        if found is None:
            raise Http404(f"The issue type with ID '{pk}' does not exist.")
        return Response(self.shaper.issue_type(found))


class IssueTypesForProject(JiraView):
    def get(self, request: Request, **kwargs: Any) -> Response:
        _project(request.query_params.get("projectId") or "")
        return Response([self.shaper.issue_type(t) for t in IssueType.objects.all()])


def _create_fields_meta(shaper: Shaper, required: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in shaper.field_list():
        if f["id"] in ("status", "created", "updated", "comment"):
            continue
        entry = {"fieldId": f["id"], "key": f["id"], "name": f["name"], "schema": f["schema"],
                 "required": f["id"] in ("project", "issuetype", "summary"), "hasDefaultValue": f["id"] == "priority",
                 "operations": ["add", "set", "remove"] if f["id"] == "labels" else ["set"]}
        if f["id"] == "priority":
            entry["allowedValues"] = [shaper.priority(p) for p in selectors.priorities()]
        if f.get("custom"):
            cf = shaper.custom[f["id"]]
            if cf.field_type == CustomField.FieldType.SELECT:
                entry["allowedValues"] = field_options(cf)
        out.append(entry)
    return out


class CreateMetaIssueTypes(JiraView):
    def get(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        _project(id_or_key)
        types = list(IssueType.objects.all())
        return Response(_page(request, [self.shaper.issue_type(t) for t in types]))


class CreateMetaFields(JiraView):
    def get(self, request: Request, id_or_key: str, type_id: str, **kwargs: Any) -> Response:
        _project(id_or_key)
        if not type_id.isdigit() or not IssueType.objects.filter(pk=int(type_id)).exists():
            raise Http404(f"The issue type with ID '{type_id}' does not exist.")
        return Response(_page(request, _create_fields_meta(self.shaper)))


def _page(request: Request, values: list[Any], key: str = "values") -> dict[str, Any]:
    start = _int(request.query_params.get("startAt"), 0, 0, 10**9)
    size = _int(request.query_params.get("maxResults"), 50, 1, 1000)
    chunk = values[start:start + size]
    return {"startAt": start, "maxResults": size, "total": len(values), "isLast": start + len(chunk) >= len(values),
            key: chunk}


# --- Issues -----------------------------------------------------------------------------------


class IssueCreate(JiraView):
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = self.body()
        fields = data.get("fields")
        if not isinstance(fields, dict):
            raise FieldErrors(messages=["The request must have 'fields'."])
        update = data.get("update") or {}
        comments = _comment_adds(update)
        with transaction.atomic():
            issue = services.issue_create(actor=self.actor, origin=self.origin, fields=fields,
                                          plain_text=self.plain_text)
            for body in comments:
                services.comment_add(actor=self.actor, origin=self.origin, issue=issue, body=body,
                                     plain_text=self.plain_text)
        return Response({"id": str(issue.pk), "key": issue.key, "self": f"{self.shaper.api}/issue/{issue.pk}"},
                        status=status.HTTP_201_CREATED)


def _comment_adds(update: Any) -> list[Any]:
    """`update: {"comment": [{"add": {"body": ...}}]}`, taken out of the update (it is not a field)."""
    if not isinstance(update, dict) or "comment" not in update:
        return []
    operations = update.pop("comment")
    bodies = []
    for operation in operations if isinstance(operations, list) else []:
        add = operation.get("add") if isinstance(operation, dict) else None
        if not isinstance(add, dict) or "body" not in add:
            raise FieldErrors(errors={"comment": "A comment is added with {\"add\": {\"body\": ...}}."})
        bodies.append(add["body"])
    return bodies


class IssueBulk(JiraView):
    def post(self, request: Request, **kwargs: Any) -> Response:
        updates = self.body().get("issueUpdates")
        if not isinstance(updates, list) or not updates:
            raise FieldErrors(messages=["The request must have a non-empty 'issueUpdates' list."])
        if len(updates) > BULK_MAX:
            raise FieldErrors(messages=[f"At most {BULK_MAX} issues may be created in one request."])
        created, failed = services.issues_create_bulk(actor=self.actor, origin=self.origin, updates=updates,
                                                      plain_text=self.plain_text)
        issues = [{"id": str(i.pk), "key": i.key, "self": f"{self.shaper.api}/issue/{i.pk}"} for i in created]
        errors = [{"status": 400, "elementErrors": {"errorMessages": e.messages, "errors": e.errors},
                   "failedElementNumber": position} for position, e in failed]
        return Response({"issues": issues, "errors": errors}, status=status.HTTP_201_CREATED if issues else 400)


class IssueDetail(JiraView):
    def get(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key)
        expand = set(_listed(request, "expand"))
        wanted = wanted_fields(request.query_params.getlist("fields"), default="*all", custom_ids=self.shaper.custom)
        comments = list(selectors.issue_comments(issue)) if wanted is None or "comment" in wanted else None
        histories = list(selectors.issue_changelog(issue)) if "changelog" in expand else None
        return Response(self.shaper.issue(issue, wanted=wanted, expand=expand, comments=comments,
                                          histories=histories))

    def put(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key, people=False)  # the edit reads it again under its lock
        data = self.body()
        update = data.get("update") or {}
        comments = _comment_adds(update)
        # The edit and the comments it adds commit together; an edit alone is one transaction already.
        with transaction.atomic() if comments else nullcontext():
            issue = services.issue_update(actor=self.actor, origin=self.origin, issue=issue,
                                          fields=data.get("fields") or {}, update=update, plain_text=self.plain_text)
            for body in comments:
                services.comment_add(actor=self.actor, origin=self.origin, issue=issue, body=body,
                                     plain_text=self.plain_text)
        if request.query_params.get("returnIssue") == "true":
            return self.get(request, id_or_key=str(issue.pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def delete(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        services.issue_delete(actor=self.actor, origin=self.origin, issue=self.issue(id_or_key))
        return Response(status=status.HTTP_204_NO_CONTENT)


class IssueTransitions(JiraView):
    def get(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key)
        transitions = services.transitions_available(issue)
        wanted = request.query_params.get("transitionId")
        if wanted:
            transitions = [t for t in transitions if str(t.pk) == wanted]
        return Response({"expand": "transitions", "transitions": [self.shaper.transition(t) for t in transitions]})

    def post(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key)
        data = self.body()
        ref = data.get("transition")
        if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
            raise FieldErrors(messages=["The request must name a transition: {\"transition\": {\"id\": ...}}."])
        transition_id = ref.get("id")
        if not transition_id:
            named = next((t for t in services.transitions_available(issue)
                          if t.name.casefold() == str(ref["name"]).casefold()), None)
            transition_id = named.pk if named else f"name:{ref['name']}"
        update = data.get("update") or {}
        comments = _comment_adds(update)
        with transaction.atomic():
            issue = services.issue_transition(actor=self.actor, origin=self.origin, issue=issue,
                                              transition_id=transition_id, fields=data.get("fields") or {},
                                              update=update, plain_text=self.plain_text)
            for body in comments:
                services.comment_add(actor=self.actor, origin=self.origin, issue=issue, body=body,
                                     plain_text=self.plain_text)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IssueComments(JiraView):
    def get(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key)
        start = _int(request.query_params.get("startAt"), 0, 0, 10**9)
        size = _int(request.query_params.get("maxResults"), 5000, 1, 5000)
        qs = selectors.issue_comments(issue)
        if request.query_params.get("orderBy", "").lstrip("+") == "-created":
            qs = qs.order_by("-created", "-pk")
        total = qs.count()
        page = [self.shaper.comment(c, issue.pk) for c in qs[start:start + size]]
        return Response({"self": request.build_absolute_uri(), "startAt": start, "maxResults": size, "total": total,
                         "comments": page})

    def post(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key)
        data = self.body()
        if "body" not in data:
            raise FieldErrors(errors={"comment": "Comment body can not be empty!"})
        comment = services.comment_add(actor=self.actor, origin=self.origin, issue=issue, body=data["body"],
                                       plain_text=self.plain_text)
        return Response(self.shaper.comment(comment, issue.pk), status=status.HTTP_201_CREATED)


class IssueComment(JiraView):
    def comment(self, id_or_key: str, pk: str) -> tuple[Issue, Comment]:
        issue = self.issue(id_or_key)
        comment = (Comment.objects.select_related("author__jira_profile").filter(issue=issue, pk=int(pk)).first()
                   if pk.isdigit() else None)
        if comment is None:
            raise Http404(f"Can not find a comment for key: {pk}.")
        return issue, comment

    def get(self, request: Request, id_or_key: str, pk: str, **kwargs: Any) -> Response:
        issue, comment = self.comment(id_or_key, pk)
        return Response(self.shaper.comment(comment, issue.pk))

    def put(self, request: Request, id_or_key: str, pk: str, **kwargs: Any) -> Response:
        issue, comment = self.comment(id_or_key, pk)
        data = self.body()
        if "body" not in data:
            raise FieldErrors(errors={"comment": "Comment body can not be empty!"})
        comment = services.comment_update(actor=self.actor, origin=self.origin, comment=comment, body=data["body"],
                                          plain_text=self.plain_text)
        return Response(self.shaper.comment(comment, issue.pk))

    def delete(self, request: Request, id_or_key: str, pk: str, **kwargs: Any) -> Response:
        _, comment = self.comment(id_or_key, pk)
        services.comment_delete(actor=self.actor, origin=self.origin, comment=comment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IssueChangelog(JiraView):
    def get(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key)
        start = _int(request.query_params.get("startAt"), 0, 0, 10**9)
        size = _int(request.query_params.get("maxResults"), 100, 1, 100)
        qs = selectors.issue_changelog(issue)
        total = qs.count()
        values = [self.shaper.history(h) for h in qs[start:start + size]]
        body: dict[str, Any] = {"self": request.build_absolute_uri(), "startAt": start, "maxResults": size,
                                "total": total, "isLast": start + len(values) >= total, "values": values}
        if not body["isLast"]:
            body["nextPage"] = (f"{self.shaper.api}/issue/{issue.key}/changelog?startAt={start + size}"
                                f"&maxResults={size}")
        return Response(body)


class IssueRemoteLinks(JiraView):
    def get(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key)
        links = selectors.issue_remote_links(issue)
        global_id = request.query_params.get("globalId")
        if global_id is not None:
            link = links.filter(global_id=global_id).first()
            if link is None:
                raise Http404(f"No remote link with globalId '{global_id}'.")
            return Response(self.shaper.remote_link(link))
        return Response([self.shaper.remote_link(link) for link in links])

    def post(self, request: Request, id_or_key: str, **kwargs: Any) -> Response:
        issue = self.issue(id_or_key)
        data = self.body()
        target = data.get("object")
        if not isinstance(target, dict):
            raise FieldErrors(errors={"object": "'object' with 'url' and 'title' is required."})
        link, created = services.remote_link_upsert(
            actor=self.actor, origin=self.origin, issue=issue, url=str(target.get("url") or ""),
            title=str(target.get("title") or ""),
            global_id=data.get("globalId") or "", summary=str(target.get("summary") or ""),
            relationship=str(data.get("relationship") or ""),
            application=data.get("application") if isinstance(data.get("application"), dict) else None,
            status=target.get("status") if isinstance(target.get("status"), dict) else None)
        return Response({"id": link.pk, "self": f"{self.shaper.api}/issue/{issue.pk}/remotelink/{link.pk}"},
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- Search -----------------------------------------------------------------------------------


def _token_encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _token_decode(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise FieldErrors(messages=["The nextPageToken is not valid."]) from None
    if not isinstance(offset, int) or offset < 0:
        raise FieldErrors(messages=["The nextPageToken is not valid."])
    return offset


class SearchBase(JiraView):
    default_fields = "*navigable"

    def params(self, request: Request) -> dict[str, Any]:
        if request.method == "POST":
            data = self.body()
            fields = data.get("fields")
            expand = data.get("expand")
            return {"jql": data.get("jql") or "", "fields": fields if isinstance(fields, list) else
                    ([fields] if isinstance(fields, str) else None),
                    "maxResults": data.get("maxResults"), "startAt": data.get("startAt"),
                    "nextPageToken": data.get("nextPageToken"),
                    "expand": expand if isinstance(expand, list) else str(expand or "").split(",")}
        q = request.query_params
        return {"jql": q.get("jql") or "", "fields": q.getlist("fields") or None, "maxResults": q.get("maxResults"),
                "startAt": q.get("startAt"), "nextPageToken": q.get("nextPageToken"),
                "expand": _listed(request, "expand")}

    def shaped(self, issues: list[Issue], p: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = wanted_fields(p["fields"], default=self.default_fields, custom_ids=self.shaper.custom)
        expand = {e.strip() for e in p["expand"] if e and e.strip()}
        return [self.shaper.issue(i, wanted=wanted, expand=expand) for i in issues]

    def search(self, request: Request) -> Response:
        raise NotImplementedError

    def get(self, request: Request, **kwargs: Any) -> Response:
        return self.search(request)

    def post(self, request: Request, **kwargs: Any) -> Response:
        return self.search(request)


class SearchJql(SearchBase):
    """`/search/jql`: token-paged like Jira's current search (no total)."""

    default_fields = "id"

    def search(self, request: Request) -> Response:
        p = self.params(request)
        size = _int(p["maxResults"], 50, 1, SEARCH_MAX)
        offset = _token_decode(str(p["nextPageToken"])) if p["nextPageToken"] else 0
        qs = jql_search(p["jql"], user=self.actor, queryset=selectors.issues_all())
        rows = selectors.with_people(list(qs[offset:offset + size + 1]))
        more = len(rows) > size
        body: dict[str, Any] = {"issues": self.shaped(rows[:size], p), "isLast": not more}
        if more:
            body["nextPageToken"] = _token_encode(offset + size)
        return Response(body)


class SearchPaged(SearchBase):
    """The older `/search`: `startAt`, `maxResults` and `total`, still what many clients call."""

    def search(self, request: Request) -> Response:
        p = self.params(request)
        start = _int(p["startAt"], 0, 0, 10**9)
        size = _int(p["maxResults"], 50, 0, SEARCH_MAX)
        qs = jql_search(p["jql"], user=self.actor, queryset=selectors.issues_all())
        total = qs.count()
        rows = selectors.with_people(list(qs[start:start + size])) if size else []
        return Response({"expand": "schema,names", "startAt": start, "maxResults": size, "total": total,
                         "issues": self.shaped(rows, p)})


urlpatterns = [
    path("serverInfo", ServerInfo.as_view(), name="jira-server-info"),
    path("myself", Myself.as_view(), name="jira-myself"),
    path("user", UserDetail.as_view(), name="jira-user"),
    path("user/search", UserSearch.as_view(), name="jira-user-search"),
    path("users/search", UserSearch.as_view(), name="jira-users-search"),
    path("field", FieldList.as_view(), name="jira-field"),
    path("priority", PriorityList.as_view(), name="jira-priority"),
    path("priority/<str:pk>", PriorityDetail.as_view(), name="jira-priority-detail"),
    path("status", StatusList.as_view(), name="jira-status"),
    path("status/<str:id_or_name>", StatusDetail.as_view(), name="jira-status-detail"),
    path("statuscategory", StatusCategoryList.as_view(), name="jira-statuscategory"),
    path("project", ProjectList.as_view(), name="jira-project"),
    path("project/search", ProjectSearch.as_view(), name="jira-project-search"),
    path("project/<str:id_or_key>", ProjectDetail.as_view(), name="jira-project-detail"),
    path("project/<str:id_or_key>/statuses", ProjectStatuses.as_view(), name="jira-project-statuses"),
    path("issuetype", IssueTypeList.as_view(), name="jira-issuetype"),
    path("issuetype/project", IssueTypesForProject.as_view(), name="jira-issuetype-project"),
    path("issuetype/<str:pk>", IssueTypeDetail.as_view(), name="jira-issuetype-detail"),
    path("issue", IssueCreate.as_view(), name="jira-issue-create"),
    path("issue/bulk", IssueBulk.as_view(), name="jira-issue-bulk"),
    path("issue/createmeta/<str:id_or_key>/issuetypes", CreateMetaIssueTypes.as_view(), name="jira-createmeta-types"),
    path("issue/createmeta/<str:id_or_key>/issuetypes/<str:type_id>", CreateMetaFields.as_view(),
         name="jira-createmeta-fields"),
    path("issue/<str:id_or_key>", IssueDetail.as_view(), name="jira-issue"),
    path("issue/<str:id_or_key>/transitions", IssueTransitions.as_view(), name="jira-issue-transitions"),
    path("issue/<str:id_or_key>/comment", IssueComments.as_view(), name="jira-issue-comments"),
    path("issue/<str:id_or_key>/comment/<str:pk>", IssueComment.as_view(), name="jira-issue-comment"),
    path("issue/<str:id_or_key>/changelog", IssueChangelog.as_view(), name="jira-issue-changelog"),
    path("issue/<str:id_or_key>/remotelink", IssueRemoteLinks.as_view(), name="jira-issue-remotelinks"),
    path("search/jql", SearchJql.as_view(), name="jira-search-jql"),
    path("search", SearchPaged.as_view(), name="jira-search"),
]
