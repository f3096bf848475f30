"""Scope tests of the jit URLs (see tests/test_url_scope.py)."""

V = "tests.jit.test_views::"
W = "tests.jit.test_window_views::"
B = "tests.jit.test_batch::"
R = "tests.jit.test_report::"

SCOPE_TESTS = {
    "jit:requests": [
        V + "test_publisher_sees_requests_across_customers_and_can_ask",
        V + "test_reader_sees_requests_but_no_inbox",
        V + "test_other_customer_sees_none_of_them",
    ],
    "jit:request_detail": [
        V + "test_approver_sees_the_request_with_decision_buttons",
        V + "test_reader_sees_the_request_without_buttons",
        V + "test_other_tenant_gets_404_for_the_request",
    ],
    "jit:request_status": [
        V + "test_status_fragment_polls_while_submitting",
        V + "test_status_fragment_for_a_reader",
        V + "test_other_tenant_gets_404_for_the_request",
    ],
    "jit:decide": [
        V + "test_approver_records_a_decision_and_azure_is_watched_for_it",
        V + "test_reader_cannot_decide",
        V + "test_other_tenant_cannot_decide",
    ],
    "jit:decide_batch": [
        B + "test_approver_decides_two_requests_in_one_step_and_sees_what_to_click_in_azure",
        B + "test_reader_cannot_decide_a_batch",
        B + "test_other_tenant_cannot_decide_a_batch_and_learns_no_names",
    ],
    "jit:inbox_warnings": [
        B + "test_the_inbox_warnings_arrive_in_each_row",
        B + "test_reader_and_publisher_see_no_batch_form",
        B + "test_the_summary_without_a_batch_points_back_to_the_list",
    ],
    "jit:batch_done": [
        B + "test_approver_decides_two_requests_in_one_step_and_sees_what_to_click_in_azure",
        B + "test_the_summary_without_a_batch_points_back_to_the_list",
        B + "test_the_summary_shows_only_what_the_person_may_see",
    ],
    "jit:cancel": [
        V + "test_publisher_cancels",
        V + "test_customer_cannot_cancel_a_publisher_request",
        V + "test_other_tenant_cannot_cancel",
    ],
    "jit:revoke": [
        V + "test_admin_revokes_an_active_grant",
        V + "test_reader_cannot_revoke",
        V + "test_other_tenant_cannot_revoke",
    ],
    "jit:request_new": [
        V + "test_publisher_requests_elevation",
        V + "test_customers_cannot_request_elevation",
        V + "test_other_tenant_cannot_open_the_request_form",
    ],
    "jit:policy": [
        V + "test_admin_changes_the_policy",
        V + "test_reader_sees_the_policy_but_cannot_change_it",
        V + "test_publisher_and_other_tenant_get_404_for_the_policy",
    ],
    "jit:audit": [
        V + "test_customer_reads_the_audit_trail",
        V + "test_other_tenant_reads_none_of_the_audit_trail",
    ],
    "jit:audit_csv": [
        V + "test_audit_csv_export",
        V + "test_other_tenant_csv_has_only_the_header",
    ],
    "jit:windows": [
        W + "test_admin_adds_a_window_and_sees_when_it_opens_next",
        W + "test_reader_sees_the_schedule_but_cannot_change_it",
        W + "test_other_tenant_gets_404_for_the_windows",
        W + "test_publisher_gets_404_for_the_windows",
    ],
    "jit:window": [
        W + "test_admin_changes_a_window_and_it_acts_as_her",
        W + "test_admin_deletes_a_window",
        W + "test_reader_sees_the_schedule_but_cannot_change_it",
        W + "test_other_tenant_gets_404_for_the_windows",
    ],
    "jit:report": [
        R + "test_customer_admin_sees_her_tenants_report",
        R + "test_reader_sees_the_report_too",
        R + "test_publisher_sees_every_customer_and_filters_one",
        R + "test_tenant_a_sees_nothing_of_tenant_b_in_page_csv_or_pdf",
    ],
    "jit:report_csv": [
        R + "test_csv_has_one_row_per_request_and_neutralises_formulas",
        R + "test_tenant_a_sees_nothing_of_tenant_b_in_page_csv_or_pdf",
    ],
    "jit:report_pdf": [
        R + "test_pdf_download_holds_the_title_summary_and_rows",
        R + "test_tenant_a_sees_nothing_of_tenant_b_in_page_csv_or_pdf",
    ],
}
