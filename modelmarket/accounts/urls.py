from django.urls import path

from modelmarket.accounts import views

urlpatterns = [
    path("settings/", views.account_settings, name="account_settings"),
    path("keys/", views.api_keys, name="api_keys"),
    path("keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("creator/", views.creator_profile, name="creator_profile"),
    path("staff/creators/", views.staff_creators, name="staff_creators"),
    path("staff/creators/<int:profile_id>/review/", views.staff_creator_review, name="staff_creator_review"),
]
