"""Just enough GraphQL for `gh issue create` and `gh issue list` (gh 2.23), recognised by operation name."""

from __future__ import annotations

import re

from . import search

from .render import Urls
from .routes import Api, Response
from .state import Invalid, Issue, iso

OPERATION = re.compile(r"\b(query|mutation)\s+(\w+)")
LABEL_ALIAS = re.compile(r'(\w+):\s*label\(name:\s*"([^"]*)"\)')


def _issue_node(api: Api, issue: Issue, urls: Urls) -> dict:
    labels = [api.repo.label(name) for name in issue.labels]
    return {
        "id": f"I_{issue.id}", "number": issue.number, "title": issue.title, "body": issue.body or "",
        "url": f"{urls.html}/{api.repo.full_name}/issues/{issue.number}", "state": issue.state.upper(),
        "stateReason": issue.state_reason.upper() if issue.state_reason else None,
        "createdAt": iso(issue.created_at), "updatedAt": iso(issue.updated_at),
        "labels": {"nodes": [{"id": f"LA_{label.id}", "name": label.name, "description": label.description or "",
                              "color": label.color} for label in labels], "totalCount": len(labels)},
    }


def _repository_info(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    repo = api.repo
    info = {"id": f"R_{repo.id}", "name": repo.name, "owner": {"login": repo.owner}, "hasIssuesEnabled": True,
            "description": "", "hasWikiEnabled": False, "viewerPermission": "ADMIN",
            "defaultBranchRef": {"name": "main"}}
    return {"repository": {**info, "parent": None, "mergeCommitAllowed": True, "rebaseMergeAllowed": True,
                           "squashMergeAllowed": True}}


def _issue_list(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    states = {state.lower() for state in variables.get("states") or ["OPEN"]}
    issues = [issue for issue in api.repo.list_issues("all") if issue.state in states]
    start = int(variables.get("endCursor") or 0)
    limit = int(variables.get("limit") or 30)
    page = issues[start:start + limit]
    more = start + limit < len(issues)
    return {"repository": {"hasIssuesEnabled": True, "issues": {
        "totalCount": len(issues), "nodes": [_issue_node(api, issue, urls) for issue in page],
        "pageInfo": {"hasNextPage": more, "endCursor": str(start + limit) if more else None}}}}


def _issue_create(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    data = variables.get("input") or {}
    by_id = {f"LA_{label.id}": label.name for label in api.repo.labels.values()}
    labels = [by_id[label_id] for label_id in data.get("labelIds") or () if label_id in by_id]
    issue = api.repo.create_issue(data.get("title"), data.get("body"), labels)
    if not api.search_lag:
        api.searchable.add(issue.number)
    return {"createIssue": {"issue": _issue_node(api, issue, urls)}}


def _resolve_metadata(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    repository = {}
    for alias, name in LABEL_ALIAS.findall(query):
        label = api.repo.find_label(name)
        repository[alias] = {"id": f"LA_{label.id}", "name": label.name} if label else None
    return {"repository": repository}


def _issue_search(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    parsed = search.parse(variables.get("query", ""))
    hits = [issue for number, issue in sorted(api.repo.issues.items(), reverse=True)
            if number in api.searchable and search.matches(parsed, issue, api.repo.comments_of(number),
                                                               api.repo.full_name)]
    start = int(variables.get("after") or 0)
    limit = int(variables.get("limit") or 30)
    more = start + limit < len(hits)
    return {"repository": {"hasIssuesEnabled": True}, "search": {
        "issueCount": len(hits), "nodes": [_issue_node(api, issue, urls) for issue in hits[start:start + limit]],
        "pageInfo": {"hasNextPage": more, "endCursor": str(start + limit) if more else None}}}


def _issue_by_number(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    issue = api.repo.get_issue(int(variables.get("number", 0)))
    node = {"__typename": "Issue", **_issue_node(api, issue, urls)} if issue else None
    return {"repository": {"hasIssuesEnabled": True, "issue": node}}


def _by_node_id(api: Api, node_id) -> Issue:
    for issue in api.repo.issues.values():
        if f"I_{issue.id}" == node_id:
            return issue
    raise Invalid("issueId", message=f"Could not resolve to a node with the global id of '{node_id}'")


def _issue_close(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    data = variables.get("input") or {}
    issue = _by_node_id(api, data.get("issueId"))
    reason = (data.get("stateReason") or "COMPLETED").lower()
    api.repo.edit_issue(issue.number, {"state": "closed", "state_reason": reason})
    return {"closeIssue": {"issue": {"id": f"I_{issue.id}"}}}


def _issue_reopen(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    issue = _by_node_id(api, (variables.get("input") or {}).get("issueId"))
    api.repo.edit_issue(issue.number, {"state": "open"})
    return {"reopenIssue": {"issue": {"id": f"I_{issue.id}"}}}


def _comment_create(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    data = variables.get("input") or {}
    issue = _by_node_id(api, data.get("subjectId"))
    comment = api.repo.add_comment(issue.number, data.get("body"))
    url = f"{urls.html}/{api.repo.full_name}/issues/{issue.number}#issuecomment-{comment.id}"
    return {"addComment": {"commentEdge": {"node": {"url": url}}}}


def _label_nodes(api: Api, variables: dict, urls: Urls, query: str) -> dict:
    nodes = [{"id": f"LA_{label.id}", "name": label.name, "color": label.color,
              "description": label.description or ""} for label in api.repo.labels.values()]
    return {"repository": {"labels": {"totalCount": len(nodes), "nodes": nodes,
                                      "pageInfo": {"hasNextPage": False, "endCursor": None}}}}


OPERATIONS = {
    "RepositoryInfo": _repository_info,
    "RepositoryLabelList": _label_nodes,
    "IssueList": _issue_list,
    "IssueCreate": _issue_create,
    "RepositoryResolveMetadataIDs": _resolve_metadata,
    "IssueSearch": _issue_search,
    "IssueByNumber": _issue_by_number,
    "IssueClose": _issue_close,
    "IssueReopen": _issue_reopen,
    "CommentCreate": _comment_create,
    "LabelList": _label_nodes,
}


def handle(api: Api, payload, urls: Urls) -> Response:
    """Answer a GraphQL POST; an operation gh 2.23's issue commands do not send is a GraphQL error."""
    query = payload.get("query", "") if isinstance(payload, dict) else ""
    found = OPERATION.search(query)
    name = found.group(2) if found else "(anonymous)"
    operation = OPERATIONS.get(name)
    if operation is None:
        return Response(200, {"errors": [{"type": "NOT_SUPPORTED",
                                          "message": f"the GitHub stand-in does not implement GraphQL {name}"}]})
    try:
        return Response(200, {"data": operation(api, payload.get("variables") or {}, urls, query)})
    except Invalid as exc:
        return Response(200, {"errors": [{"type": "UNPROCESSABLE", "message": str(exc)}]})
