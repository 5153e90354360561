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

# Seeded people besides admin and member: (username, first name, last name); they cannot log in.
SITE_PEOPLE = [("grace", "Grace", "Hopper"), ("alan", "Alan", "Turing"), ("ada", "Ada", "Lovelace"),
               ("edsger", "Edsger", "Dijkstra"), ("barbara", "Barbara", "Liskov")]
ISSUES_PER_PROJECT = 30

SUBJECTS = ["Login page", "Checkout", "Search results", "Settings screen", "Export to CSV", "Password reset",
            "Notifications", "Dashboard", "Billing page", "Profile photo upload", "Dark mode", "Onboarding tour",
            "Invoice PDF", "Audit log", "Single sign-on", "Mobile menu", "Release notes", "Status page"]
PROBLEMS = ["times out on slow networks", "shows the wrong total", "is slow with many items", "needs an empty state",
            "loses the draft on reload", "is not readable by screen readers", "breaks on narrow screens",
            "should remember the last filter", "fails for names with accents", "needs keyboard shortcuts"]
COMMENTS = ["I can reproduce this on the latest build.", "Looks related to last week's change.",
            "Customer reported it again today.", "Fix is ready for review.", "Could we add a test for this?",
            "Moving this to the next sprint.", "Confirmed fixed on staging.", "Needs input from design."]
LABELS = ["frontend", "backend", "customer", "regression", "ux", "performance", "security", "docs"]
