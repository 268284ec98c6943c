"""Billing pages. Each area keeps its routes beside its views (`views/<area>.py`); they are listed here."""

from modelmarket.billing.views import (
    analytics,
    checkout,
    earnings,
    invoices,
    plans,
    refunds,
    sandbox,
    staff_payments,
    subscriptions,
    wallet,
)

urlpatterns = [
    *plans.urlpatterns,
    *checkout.urlpatterns,
    *sandbox.urlpatterns,
    *wallet.urlpatterns,
    *subscriptions.urlpatterns,
    *invoices.urlpatterns,
    *refunds.urlpatterns,
    *earnings.urlpatterns,
    *analytics.urlpatterns,
    *staff_payments.urlpatterns,
]
