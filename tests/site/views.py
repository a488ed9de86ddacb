"""Views of the test site: one for each way a request can fail."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST


def ok(request):
    return HttpResponse("ok")


def pet(request, pk):
    if pk > 100:
        raise Http404("no such pet")
    return HttpResponse(f"pet {pk}")


def crash(request):
    pets = {"rex": 1}
    return HttpResponse(pets["missing-" + request.GET.get("name", "x")])


@sensitive_variables("card_number")
def crash_with_secret(request):
    card_number = request.POST.get("card_number", "")
    api_password = "hunter2-local-variable"  # noqa: F841  (a local the scrubber must hide)
    raise ValueError(f"payment failed for order {len(card_number)}")


@sensitive_post_parameters("pin")
def crash_sensitive_post(request):
    raise RuntimeError("could not save the form")


def crash_other(request):
    raise TypeError("unsupported operand")


def denied(request):
    raise PermissionDenied("not yours")


def suspicious(request):
    raise SuspiciousOperation("bad things")


def teapot(request):
    return HttpResponse("I'm a teapot", status=418)


def returns_500(request):
    return HttpResponse("upstream failed", status=503)


@require_POST
def form(request):
    return HttpResponse("saved")


def api_pet(request, pk):
    if pk > 100:
        raise Http404("no such pet")
    return JsonResponse({"id": pk})


def whoami(request):
    request.user.is_authenticated  # evaluates the lazy user, as most real views do
    raise RuntimeError("profile broken")


def crash_with_locals(request):
    creds = {"password": "locals-password-value", "note": "Bearer locals-bearer-value"}  # noqa: F841
    meta = request.META  # noqa: F841  (holds Cookie and Authorization)
    query = request.GET  # noqa: F841
    raise RuntimeError("token=message-token-value rejected for card 4111 1111 1111 1111")


def crash_form(request):
    fields = len(request.POST)  # parses the body, as a real form view does
    raise RuntimeError(f"could not save {fields} fields")


def deep(depth):
    raise RecursionError("too deep") if depth <= 0 else deep(depth - 1)


def crash_deep(request):
    deep(40)


@sensitive_post_parameters()
def crash_all_sensitive(request):
    raise RuntimeError("could not save the form")
