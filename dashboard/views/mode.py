"""The live/test switch (like Stripe's): stored in the session, read by `customer_view`."""

from django.contrib import messages
from django.views.decorators.http import require_POST

from dashboard.customer import MODE_SESSION_KEY, back, customer_view


@require_POST
@customer_view
def switch_mode(request):
    livemode = request.POST.get("mode") != "test"
    request.session[MODE_SESSION_KEY] = livemode
    messages.info(request, "Viewing live data." if livemode else "Viewing test data: objects made with sk_test_ keys.")
    return back(request)
