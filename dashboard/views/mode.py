"""The live/test switch (like Stripe's): stored in the session, read by `customer_view`."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_POST

from dashboard.customer import MODE_SESSION_KEY, back


@require_POST
@login_required
def switch_mode(request):
    # Not a change to the account, so a suspended account may switch too.
    livemode = request.POST.get("mode") != "test"
    request.session[MODE_SESSION_KEY] = livemode
    messages.info(request, "Viewing live data." if livemode else "Viewing test data: objects made with sk_test_ keys.")
    return back(request)
