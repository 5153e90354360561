"""What each demo site holds: the two sites deliberately differ."""
from __future__ import annotations

from jira.models import Project

SITE_PROJECTS: dict[str, list[tuple[str, str, str]]] = {
    "alpha": [
        ("ALPHA", "Alpha Platform", Project.ProjectType.SOFTWARE),
        ("WEB", "Website", Project.ProjectType.SOFTWARE),
        ("OPS", "Operations", Project.ProjectType.BUSINESS),
        ("HELP", "Customer Help Desk", Project.ProjectType.SERVICE_DESK),
    ],
    "beta": [
        ("BETA", "Beta Mobile App", Project.ProjectType.SOFTWARE),
        ("API", "Public API", Project.ProjectType.SOFTWARE),
        ("MKT", "Marketing", Project.ProjectType.BUSINESS),
    ],
}
DEFAULT_PROJECTS = [("DEMO", "Demo Project", Project.ProjectType.SOFTWARE)]

# (name, subtask, hierarchy level)
SITE_ISSUE_TYPES: dict[str, list[tuple[str, bool, int]]] = {
    "alpha": [("Epic", False, 1), ("Story", False, 0), ("Task", False, 0), ("Bug", False, 0),
              ("Sub-task", True, -1)],
    "beta": [("Epic", False, 1), ("Task", False, 0), ("Bug", False, 0), ("Incident", False, 0),
             ("Improvement", False, 0), ("Sub-task", True, -1)],
}
DEFAULT_ISSUE_TYPES = [("Task", False, 0), ("Bug", False, 0), ("Sub-task", True, -1)]

# (name, type, options)
SITE_CUSTOM_FIELDS: dict[str, list[tuple[str, str, list[str]]]] = {
    "alpha": [("Customer", "text", []), ("Severity", "select", ["Critical", "Major", "Minor"]),
              ("Story points", "number", [])],
    "beta": [("Client", "text", []), ("Impact", "select", ["Critical", "High", "Low"]),
             ("Estimate", "number", []), ("Go-live", "date", [])],
}
