"""Each construct compiles to the ASL shape that runs it: chains, Parallel, Distributed Map, catch, init."""

from __future__ import annotations

from tests.aws_compile.support import compile_flow, env_of, make_ctx, resolve_payload, scope_of


def _chain(states: dict, start: str) -> list[str]:
    order, name = [], start
    while True:
        order.append(name)
        state = states[name]
        if state.get("End") or state["Type"] in ("Fail", "Succeed"):
            return order
        name = state.get("Next") or state.get("Default")


def test_linear_flow_is_a_chain_from_input_normalisation_to_end() -> None:
    d = compile_flow("linear_flow").definition
    assert _chain(d["States"], d["StartAt"]) == [
        "run.check-input", "run.default-params", "run.init", "start", "a", "b", "end"
    ]


def test_execution_input_becomes_run_id_task_id_and_params() -> None:
    d = compile_flow("linear_flow").definition
    s = d["States"]
    choice = s["run.check-input"]
    assert choice["Choices"] == [{"Variable": "$.params", "IsPresent": True, "Next": "run.init"}]
    assert s[choice["Default"]] == {"Type": "Pass", "Result": {}, "ResultPath": "$.params", "Next": "run.init"}
    data = resolve_payload(s["run.init"]["Parameters"], {"params": {"alpha": 1}, "other": "dropped"},
                           {"Execution": {"Name": "run-42"}})
    assert data == {"run_id": "run-42", "task_id": "0", "params": {"alpha": 1}}


def test_only_start_receives_the_parameters_and_overrides_are_pointers() -> None:
    d = compile_flow("parameters_flow").definition["States"]
    assert env_of(d["start"]) == {
        "BRANCHLINE_RUN_ID": "$.run_id",
        "BRANCHLINE_TASK_ID": "$.task_id",
        "BRANCHLINE_EXECUTION_ARN": "$$.Execution.Id",
        "BRANCHLINE_PARAMS": "States.JsonToString($.params)",
    }
    assert "BRANCHLINE_PARAMS" not in env_of(d["end"])


def test_static_split_is_a_parallel_whose_branches_end_before_the_join() -> None:
    s = compile_flow("split_join_flow").definition["States"]
    assert s["start"]["Next"] == "start.split"
    par = s["start.split"]
    assert par["Type"] == "Parallel" and par["Next"] == "join" and par["ResultPath"] is None
    chains = [_chain(b["States"], b["StartAt"]) for b in par["Branches"]]
    assert chains == [["left"], ["right", "right_more"]]
    assert _chain(s, "join") == ["join", "end"]
    assert "join" not in par["Branches"][0]["States"]


def test_wide_split_has_one_branch_per_step_of_the_split() -> None:
    par = compile_flow("wide_flow").definition["States"]["start.split"]
    assert [b["StartAt"] for b in par["Branches"]] == [f"b{i:02d}" for i in range(12)]


def test_foreach_is_a_distributed_map_reading_the_items_the_foreach_task_wrote() -> None:
    ctx = make_ctx(max_concurrency=5)
    s = compile_flow("foreach_flow", ctx).definition["States"]
    assert s["start"]["Next"] == "start.foreach"
    m = s["start.foreach"]
    assert m["Type"] == "Map" and m["MaxConcurrency"] == 5 and m["Next"] == "join" and m["ResultPath"] is None
    assert m["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    data = {"run_id": "r1", "task_id": "0", "params": {"a": 1}}
    reader = resolve_payload(m["ItemReader"]["Parameters"], data, {})
    assert reader == {
        "Bucket": "demo-bucket",
        "Key": "branchline/demo/br-feature-x-1a2b3c4d/runs/ForeachFlow/r1/start/0/foreach-items.json",
    }
    item = resolve_payload(m["ItemSelector"], data, {"Map": {"Item": {"Value": {"task_id": "0-2"}}}})
    assert item == {"run_id": "r1", "params": {"a": 1}, "task_id": "0-2"}
    body = m["ItemProcessor"]
    assert _chain(body["States"], body["StartAt"]) == ["square", "shift"]
    assert s[m["Catch"][0]["Next"]]["Error"] == "ForeachFailed.start"


def test_nested_foreach_nests_maps_and_keys_follow_the_task_ids() -> None:
    s = compile_flow("nested_foreach_flow").definition["States"]
    outer = s["start.foreach"]["ItemProcessor"]["States"]
    inner = outer["group.foreach"]
    assert inner["Type"] == "Map" and inner["Next"] == "join_members"
    assert inner["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert next(iter(inner["ItemProcessor"]["States"])) == "member"
    key = resolve_payload(inner["ItemReader"]["Parameters"], {"run_id": "r", "task_id": "0-1"}, {})["Key"]
    assert key.endswith("/runs/NestedForeachFlow/r/group/0-1/foreach-items.json")
    assert outer["join_members"]["End"] is True
    assert s["start.foreach"]["Next"] == "join_groups"


def test_catch_routes_a_killed_task_to_a_fallback_of_the_same_job_that_continues_the_flow() -> None:
    c = compile_flow("catch_flow")
    s = c.definition["States"]
    main = s["fails"]
    fallback = s[main["Catch"][0]["Next"]]
    assert main["Catch"][0]["Next"] == "fails.catch-fallback"
    assert fallback["Parameters"]["JobDefinition"] == main["Parameters"]["JobDefinition"] == c.arns["fails"]
    assert env_of(fallback)["BRANCHLINE_CATCH_FALLBACK"] == "1"
    assert "BRANCHLINE_CATCH_FALLBACK" not in env_of(main)
    assert fallback["Next"] == main["Next"] == "end"
    assert s[fallback["Catch"][0]["Next"]] == s["fails.failed"]
    assert s["fails.failed"]["Type"] == "Fail" and s["fails.failed"]["Error"] == "StepFailed.fails"
    # steps without @catch fail straight away
    assert s["start"]["Catch"][0]["Next"] == "start.failed"


def test_fail_states_of_branch_steps_live_in_their_branch() -> None:
    d = compile_flow("split_join_flow").definition
    assert "right_more.failed" in scope_of(d, "right_more")
    assert "right_more.failed" not in d["States"]
