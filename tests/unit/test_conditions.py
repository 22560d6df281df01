from promptflow_netiso import conditions as c


def test_transition_time_kept_when_status_unchanged():
    first = c.merge([], [c.condition("WorkspaceFound", True, "Found", "ok")], generation=1, now="2026-01-01T00:00:00Z")
    again = c.merge(first, [c.condition("WorkspaceFound", True, "Found", "still ok")], generation=2, now="2026-01-02T00:00:00Z")
    assert again[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert again[0]["observedGeneration"] == 2
    assert again[0]["message"] == "still ok"


def test_transition_time_moves_when_status_flips():
    first = c.merge([], [c.condition("Ready", True, "Ready")], generation=1, now="2026-01-01T00:00:00Z")
    flipped = c.merge(first, [c.condition("Ready", False, "AuthorizationFailed", "AuthorizationFailed: no")], 1, now="2026-01-03T00:00:00Z")
    assert flipped[0]["lastTransitionTime"] == "2026-01-03T00:00:00Z"
    assert flipped[0]["status"] == "False"


def test_merge_keeps_order_and_adds_new_types():
    out = c.merge([], [c.condition("A", True, "X"), c.condition("B", False, "Y")], 1)
    out = c.merge(out, [c.condition("C", True, "Z"), c.condition("A", False, "W")], 1)
    assert [x["type"] for x in out] == ["A", "B", "C"]


def test_ready_summary_reports_first_failing_step():
    conds = [c.condition("WorkspaceFound", True, "Found"), c.condition("LimitsSatisfied", False, "HubCannotBringOwnVNet", "hub")]
    ready = c.ready_summary(conds, ["WorkspaceFound", "LimitsSatisfied", "IsolationApplied"])
    assert ready["status"] == "False" and ready["reason"] == "HubCannotBringOwnVNet" and ready["message"] == "hub"


def test_ready_summary_true_only_when_all_steps_true():
    steps = ["A", "B"]
    assert c.ready_summary([c.condition("A", True, "Ok")], steps)["status"] == "Unknown"
    assert c.ready_summary([c.condition("A", True, "Ok"), c.condition("B", True, "Ok")], steps)["status"] == "True"
