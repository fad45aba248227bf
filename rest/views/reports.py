"""Reports: `POST /reports` and `GET /reports` (a user's own), and the moderators' side of the
admin API (`GET /admin/reports`, `PUT /admin/reports/{id}`; docs/admin-api.md). The rules are
`ReportService`'s (models/services/reports.py); the routes are in rest/routes.py."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from models.reports import ReportPage
from rest.auth import admin_requester, user_requester
from rest.keys import services_key
from rest.params import all_params, body_params, json_response, query_params
from rest.schemas.filters import page_params
from rest.schemas.reports import (admin_report_to_json, report_draft, report_id_from_path,
                                  report_query, report_review, report_to_json)


def _page(page: ReportPage, items: list[dict[str, Any]]) -> web.Response:
    return json_response({"total_entries": page.total, "skip": page.skip, "limit": page.limit,
                          "items": items})


async def create_report(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    draft = report_draft(await body_params(request))
    report = await request.app[services_key].reports.file(caller, draft)
    return json_response(report_to_json(report), status=201)


async def list_reports(request: web.Request) -> web.Response:
    caller = await user_requester(request)
    services = request.app[services_key]
    skip, limit = page_params(query_params(request), 100, services.settings.limits.max_list_limit)
    page = await services.reports.mine(caller, skip, limit)
    return _page(page, [report_to_json(r) for r in page.items])


async def admin_list_reports(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    services = request.app[services_key]
    query = report_query(await all_params(request), services.settings.limits.max_list_limit)
    page = await services.reports.list(caller, query)
    return _page(page, [admin_report_to_json(r) for r in page.items])


async def admin_review_report(request: web.Request) -> web.Response:
    caller = await admin_requester(request)
    review = report_review(await body_params(request))
    report = await request.app[services_key].reports.review(
        caller, report_id_from_path(request.match_info["report_id"]), review)
    return json_response(admin_report_to_json(report))
