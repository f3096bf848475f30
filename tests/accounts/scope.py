"""Scope tests of the accounts URLs (see tests/test_url_scope.py)."""

SCOPE_TESTS = {
    "accounts:profile": [
        "tests.accounts.test_views::test_profile_shows_only_your_own_memberships",
        "tests.accounts.test_views::test_profile_needs_sign_in",
        "tests.accounts.test_views::test_profile_of_a_reader_says_they_change_nothing",
    ],
    "accounts:no_access": [
        "tests.accounts.test_views::test_no_access_page_explains_what_to_ask_for"
    ],
}
