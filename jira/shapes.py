"""The site's data in Jira Cloud's REST shapes (v3 with ADF bodies, v2 with plain text).

`self` links use the address the request came to, so clients that follow them keep working
whether they call the public `https://NAME.atlassian.net` or the local `http://127.0.0.1:PORT`.
"""
from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.contrib.auth.models import User

from jira.adf import adf_to_text
from jira.fields import CUSTOM_SCHEMA, SYSTEM_FIELDS, custom_fields_by_id, field_options, profile_for
from jira.models import (
    STATUS_CATEGORY_COLOURS,
    STATUS_CATEGORY_IDS,
    Changelog,
    Comment,
    CustomField,
    Issue,
    IssueType,
    Priority,
    Project,
    RemoteLink,
    Status,
    StatusCategory,
    Transition,
)

NAVIGABLE_EXCLUDED = {"comment"}


@dataclass
class Shaper:
    """Everything a response needs: the base address, the API version and the site's custom fields."""

    base: str  # e.g. http://127.0.0.1:8001
    version: str  # "2" or "3"
    _custom: Mapping[str, CustomField] | None = field(default=None, repr=False)
    # A page of issues names the same people, statuses and projects again and again: shape each once.
    _seen: dict[tuple[str, Any], Any] = field(default_factory=dict, repr=False)

    def _once(self, kind: str, key: Any, make: Any) -> Any:
        found = self._seen.get((kind, key))
        if found is None:
            found = self._seen[(kind, key)] = make()
        return found

    @property
    def api(self) -> str:
        return f"{self.base}/rest/api/{self.version}"

    @property
    def plain_text(self) -> bool:
        return self.version != "3"

    @property
    def custom(self) -> Mapping[str, CustomField]:
        if self._custom is None:
            self._custom = custom_fields_by_id()
        return self._custom

    # --- small things -------------------------------------------------------------------------

    @staticmethod
    def when(moment: datetime.datetime | None) -> str | None:
        if moment is None:
            return None
        moment = moment.astimezone(datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"

    def body(self, doc: Any) -> Any:
        return adf_to_text(doc) if self.plain_text else doc

    def user(self, user: User | None) -> dict[str, Any] | None:
        if user is None:
            return None
        return self._once("user", user.pk, lambda: self._user(user))  # type: ignore[no-any-return]

    def _user(self, user: User) -> dict[str, Any]:
        profile = profile_for(user)
        avatar = f"{self.base}/static/img/avatar.svg"
        return {"self": f"{self.api}/user?accountId={quote(profile.account_id)}", "accountId": profile.account_id,
                "accountType": "atlassian", "emailAddress": user.email,
                "avatarUrls": {size: avatar for size in ("48x48", "24x24", "16x16", "32x32")},
                "displayName": profile.display_name or user.username, "active": user.is_active,
                "timeZone": "UTC", "locale": "en_US"}

    def status_category(self, key: str) -> dict[str, Any]:
        ident = STATUS_CATEGORY_IDS[StatusCategory(key)]
        return {"self": f"{self.api}/statuscategory/{ident}", "id": ident, "key": key,
                "colorName": STATUS_CATEGORY_COLOURS[StatusCategory(key)], "name": StatusCategory(key).label}

    def status(self, status: Status) -> dict[str, Any]:
        return {"self": f"{self.api}/status/{status.pk}", "description": "", "iconUrl": "", "name": status.name,
                "id": str(status.pk), "statusCategory": self.status_category(status.category)}

    def priority(self, priority: Priority | None) -> dict[str, Any] | None:
        if priority is None:
            return None
        return {"self": f"{self.api}/priority/{priority.pk}", "iconUrl": "", "name": priority.name,
                "id": str(priority.pk), "statusColor": priority.colour, "description": ""}

    def issue_type(self, issue_type: IssueType) -> dict[str, Any]:
        return {"self": f"{self.api}/issuetype/{issue_type.pk}", "id": str(issue_type.pk), "description": "",
                "iconUrl": "", "name": issue_type.name, "subtask": issue_type.subtask,
                "hierarchyLevel": issue_type.hierarchy_level}

    def project(self, project: Project, *, issue_types: list[IssueType] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"self": f"{self.api}/project/{project.pk}", "id": str(project.pk), "key": project.key,
                               "name": project.name, "projectTypeKey": project.project_type, "simplified": False,
                               "avatarUrls": {}}
        if issue_types is not None:
            out["issueTypes"] = [self.issue_type(t) for t in issue_types]
            out["description"] = ""
            out["style"] = "classic"
        return out

    def transition(self, transition: Transition) -> dict[str, Any]:
        return {"id": str(transition.pk), "name": transition.name, "to": self.status(transition.to_status),
                "hasScreen": False, "isGlobal": transition.from_status_id is None, "isInitial": False,
                "isAvailable": True, "isConditional": False, "fields": {}}

    def comment(self, comment: Comment, issue_id: int | None = None) -> dict[str, Any]:
        author = self.user(comment.author)
        return {"self": f"{self.api}/issue/{issue_id or comment.issue_id}/comment/{comment.pk}", "id": str(comment.pk),
                "author": author, "updateAuthor": author, "body": self.body(comment.body),
                "created": self.when(comment.created), "updated": self.when(comment.updated), "jsdPublic": True}

    def history(self, entry: Changelog) -> dict[str, Any]:
        return {"id": str(entry.pk), "author": self.user(entry.author), "created": self.when(entry.created),
                "items": entry.items}

    def remote_link(self, link: RemoteLink) -> dict[str, Any]:
        out: dict[str, Any] = {"id": link.pk, "self": f"{self.api}/issue/{link.issue_id}/remotelink/{link.pk}",
                               "object": {"url": link.url, "title": link.title, "summary": link.summary,
                                          "icon": {}, "status": link.status or {}}}
        if link.global_id:
            out["globalId"] = link.global_id
        if link.relationship:
            out["relationship"] = link.relationship
        if link.application:
            out["application"] = link.application
        return out

    # --- fields -------------------------------------------------------------------------------

    def field_list(self) -> list[dict[str, Any]]:
        out = []
        for fid, name, schema, _ in SYSTEM_FIELDS:
            out.append({"id": fid, "key": fid, "name": name, "custom": False, "orderable": True, "navigable": True,
                        "searchable": True, "clauseNames": [fid], "schema": {"type": schema, "system": fid}})
        for cf in self.custom.values():
            number = cf.field_id.split("_")[1]
            schema_type = CUSTOM_SCHEMA[cf.field_type]
            cf_schema: dict[str, Any] = {"type": schema_type, "customId": int(number),
                                         "custom": f"com.atlassian.jira.plugin.system.customfieldtypes:{cf.field_type}"}
            if schema_type == "array":
                cf_schema["items"] = "string"
            out.append({"id": cf.field_id, "key": cf.field_id, "name": cf.name, "custom": True, "orderable": True,
                        "navigable": True, "searchable": True, "clauseNames": [f"cf[{number}]", cf.name],
                        "schema": cf_schema})
        return out

    def custom_value(self, cf: CustomField, value: Any) -> Any:
        if value is None:
            return None
        if cf.field_type == CustomField.FieldType.SELECT:
            option = next((o for o in field_options(cf) if o["value"] == value), None)
            return {"self": f"{self.api}/customFieldOption/{option['id']}", **option} if option else {"value": value}
        if cf.field_type == CustomField.FieldType.USER:
            from jira.fields import user_resolve

            return self.user(user_resolve({"accountId": value}))
        return value

    def issue(self, issue: Issue, *, wanted: set[str] | None = None, expand: set[str] | frozenset[str] = frozenset(),
              comments: list[Comment] | None = None, histories: list[Changelog] | None = None) -> dict[str, Any]:
        """An issue with the fields in `wanted` (None: all of them)."""
        def want(fid: str) -> bool:
            return wanted is None or fid in wanted

        fields: dict[str, Any] = {}
        if want("summary"):
            fields["summary"] = issue.summary
        if want("description"):
            fields["description"] = self.body(issue.description) if issue.description is not None else None
        if want("project"):
            fields["project"] = self._once("project", issue.project_id, lambda: self.project(issue.project))
        if want("issuetype"):
            fields["issuetype"] = self._once("issuetype", issue.issue_type_id,
                                             lambda: self.issue_type(issue.issue_type))
        if want("status"):
            fields["status"] = self._once("status", issue.status_id, lambda: self.status(issue.status))
            fields["statusCategory"] = fields["status"]["statusCategory"]
        if want("priority"):
            fields["priority"] = self._once("priority", issue.priority_id, lambda: self.priority(issue.priority))
        if want("labels"):
            fields["labels"] = issue.labels
        if want("assignee"):
            fields["assignee"] = self.user(issue.assignee)
        if want("reporter"):
            fields["reporter"] = self.user(issue.reporter)
            if wanted is None:
                fields["creator"] = fields["reporter"]
        if want("duedate"):
            fields["duedate"] = issue.due_date.isoformat() if issue.due_date else None
        if want("created"):
            fields["created"] = self.when(issue.created)
        if want("updated"):
            fields["updated"] = self.when(issue.updated)
        if wanted is None:
            fields.update({"resolution": None, "resolutiondate": None, "issuelinks": [], "subtasks": [],
                           "attachment": [], "fixVersions": [], "versions": [], "components": [], "watches": {
                               "self": f"{self.api}/issue/{issue.key}/watchers", "watchCount": 0, "isWatching": False}})
        for fid, cf in self.custom.items():
            if want(fid):
                fields[fid] = self.custom_value(cf, issue.custom_fields.get(fid))
        if comments is not None and want("comment"):
            fields["comment"] = {"comments": [self.comment(c, issue.pk) for c in comments], "maxResults": len(comments),
                                 "total": len(comments), "startAt": 0,
                                 "self": f"{self.api}/issue/{issue.pk}/comment"}
        out: dict[str, Any] = {"expand": "renderedFields,names,schema,operations,editmeta,changelog",
                               "id": str(issue.pk), "self": f"{self.api}/issue/{issue.pk}", "key": issue.key,
                               "fields": fields}
        if "names" in expand:
            names = {fid: name for fid, name, _, _ in SYSTEM_FIELDS}
            names.update({fid: cf.name for fid, cf in self.custom.items()})
            out["names"] = {fid: names.get(fid, fid) for fid in fields}
        if "changelog" in expand and histories is not None:
            out["changelog"] = {"startAt": 0, "maxResults": len(histories), "total": len(histories),
                                "histories": [self.history(h) for h in histories]}
        return out


def wanted_fields(values: list[str] | None, *, default: str, custom_ids: Iterable[str]) -> set[str] | None:
    """Jira's `fields` parameter (comma-separated and/or repeated): None means every field."""
    tokens = [t.strip() for v in (values or []) for t in str(v).split(",") if t.strip()] or [default]
    everything = {fid for fid, _, _, _ in SYSTEM_FIELDS} | {"*custom"}
    chosen: set[str] = set()
    all_fields = False
    for token in tokens:
        if token == "*all":
            all_fields = True
        elif token == "*navigable":
            chosen |= everything - NAVIGABLE_EXCLUDED
        elif not token.startswith("-"):
            chosen.add(token)
    if "*custom" in chosen or all_fields or "*navigable" in tokens:
        chosen |= set(custom_ids)
    excluded = {t[1:] for t in tokens if t.startswith("-")}
    if all_fields and not excluded:
        return None
    if all_fields:
        chosen |= everything
    return chosen - excluded - {"*custom"}
