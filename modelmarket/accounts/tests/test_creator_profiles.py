from __future__ import annotations

import pytest

from modelmarket.accounts import roles
from modelmarket.accounts.models import CreatorProfile
from modelmarket.accounts.selectors import user_is_creator
from modelmarket.accounts.services import creator_profile_apply, creator_profile_review
from modelmarket.core.exceptions import BadRequest, NotFound, PermissionDenied

pytestmark = pytest.mark.django_db


def test_verification_grants_the_creator_role_and_tells_the_applicant(
    buyer, moderator, mailoutbox, django_capture_on_commit_callbacks
):
    profile = creator_profile_apply(
        user=buyer, display_name="Ada Labs", bio="Vision models", website="https://ada.dev"
    )
    assert profile.status == CreatorProfile.Status.PENDING
    assert not user_is_creator(buyer)
    with django_capture_on_commit_callbacks(execute=True):
        creator_profile_review(actor=moderator, profile_id=profile.pk, approve=True, note="Welcome")
    profile.refresh_from_db()
    assert profile.status == CreatorProfile.Status.VERIFIED
    assert profile.reviewed_by == moderator
    assert buyer.groups.filter(name=roles.CREATOR).exists()
    assert [message.to for message in mailoutbox] == [[buyer.email]]
    assert "verified" in mailoutbox[0].subject
    assert "Welcome" in mailoutbox[0].body


def test_rejection_removes_the_role_and_a_new_application_goes_back_to_review(creator, admin_user):
    profile = creator.creator_profile
    creator_profile_review(actor=admin_user, profile_id=profile.pk, approve=False, note="Links are broken")
    assert not creator.groups.filter(name=roles.CREATOR).exists()
    again = creator_profile_apply(user=creator, display_name="Fixed", bio="Now with working links")
    assert again.status == CreatorProfile.Status.PENDING
    assert again.pk == profile.pk


def test_buyers_cannot_review_and_see_nothing(buyer, creator):
    with pytest.raises(NotFound):
        creator_profile_review(actor=buyer, profile_id=creator.creator_profile.pk, approve=False)
    assert CreatorProfile.objects.get(user=creator).status == CreatorProfile.Status.VERIFIED


def test_moderators_cannot_review_themselves(moderator):
    profile = creator_profile_apply(user=moderator, display_name="Me", bio="Myself")
    with pytest.raises(PermissionDenied):
        creator_profile_review(actor=moderator, profile_id=profile.pk, approve=True)
    assert CreatorProfile.objects.get(pk=profile.pk).status == CreatorProfile.Status.PENDING


@pytest.mark.parametrize(
    "fields",
    [
        {"display_name": " ", "bio": "x"},
        {"display_name": "x", "bio": "x", "website": "javascript:alert(1)"},
        {"display_name": "x", "bio": "x", "links": ["http://insecure.example"]},
        {"display_name": "x", "bio": "x", "links": [f"https://e.example/{n}" for n in range(6)]},
    ],
)
def test_bad_applications_are_refused_and_write_nothing(buyer, fields):
    with pytest.raises(BadRequest):
        creator_profile_apply(user=buyer, **fields)
    assert not CreatorProfile.objects.exists()
