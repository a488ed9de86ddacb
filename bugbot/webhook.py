"""The GitHub `issues` webhook: signed, deduplicated by delivery id, applied in one short transaction."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bugbot import conf, sync

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def github_webhook(request: HttpRequest) -> HttpResponse:
    """Verify X-Hub-Signature-256, then apply the delivery once; anything unsigned or mis-signed gets 403."""
    secret = conf.get()["GITHUB_WEBHOOK_SECRET"]
    if not secret:
        log.warning("bugbot: webhook delivery refused: GITHUB_WEBHOOK_SECRET is not set")
    if not sync.signature_ok(secret, request.body, request.headers.get("X-Hub-Signature-256")):
        return HttpResponseForbidden("bad or missing signature", content_type="text/plain")
    event = request.headers.get("X-GitHub-Event", "")
    delivery = request.headers.get("X-GitHub-Delivery", "").strip()
    if event == "ping":
        return JsonResponse({"ok": True, "pong": True})
    if not delivery or len(delivery) > 64:
        return JsonResponse({"ok": False, "error": "missing X-GitHub-Delivery"}, status=400)
    try:
        payload = json.loads(request.body)
    except ValueError:
        return JsonResponse({"ok": False, "error": "body is not JSON"}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"ok": False, "error": "body is not a JSON object"}, status=400)
    outcome = sync.apply_delivery(delivery, event, payload)
    return JsonResponse({"ok": True, "outcome": outcome}, status=200)
