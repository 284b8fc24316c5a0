"""Usage: the last 12 months of jobs and data against the plan (live mode, as
the quotas count), and the last 30 days of jobs in the mode being viewed."""

from __future__ import annotations

from datetime import date

from django.shortcuts import render

from dashboard.charts import bar_chart
from dashboard.customer import customer_view
from dashboard.selectors import format_bytes
from accounts.plans import limits_for
from jobs.reports import account_metrics
from quotas.selectors import monthly_usage
from core.timefmt import month_start

MONTHS = 12
HALF = {"width": 460, "height": 220}  # drawn at about this size in a two-column card, so text stays legible


def _months_back(start: date, count: int) -> list[date]:
    months, year, month = [], start.year, start.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(months))


@customer_view
def usage(request):
    customer = request.customer
    months = [monthly_usage(customer.account, m) for m in _months_back(month_start(), MONTHS)]
    metrics = account_metrics(customer.account, livemode=customer.livemode, period="30d")
    days = metrics["jobs"]["by_day"]
    limits = limits_for(customer.account)
    return render(
        request,
        "dashboard/usage.html",
        {
            "section": "usage",
            "limits": limits,
            "data_limit_text": format_bytes(limits.data_bytes_per_month),
            "this_month_jobs": f"{months[-1].jobs_count:,}",
            "jobs_limit_text": f"{limits.jobs_per_month:,}",
            "this_month_data": format_bytes(months[-1].data_bytes),
            "jobs_chart": bar_chart(
                "Jobs per month (live)", [(m.month.strftime("%b"), m.jobs_count) for m in months], **HALF
            ),
            "data_chart": bar_chart(
                "Data per month (live)", [(m.month.strftime("%b"), m.data_bytes) for m in months], format_bytes, **HALF
            ),
            "daily_chart": bar_chart(
                "Jobs created per day, last 30 days", [(d["date"][5:], d["created"]) for d in days],
                width=960, height=200, label_every=5,
            ),
            "metrics": metrics,
        },
    )
