"""Each construct compiles to the ASL shape that runs it: chains, Parallel, Distributed Map, catch, retry, init."""

from __future__ import annotations

from branchline.aws.compile import SourceContext
from tests.aws_compile.support import (
    compile_flow,
    compile_graph,
    env_of,
    graph_from_source,
    make_ctx,
    resolve_payload,
    scope_of,
)


def _chain(states: dict, start: str) -> list[str]:
    """The states a first run walks (reuse Choices take their Default: nothing is reused)."""
    order, name = [], start
    while True:
        order.append(name)
        state = states[name]
        if state.get("End") or state["Type"] in ("Fail", "Succeed"):
            return order
        name = state.get("Next") or state.get("Default")


def _steps(states: dict, start: str) -> list[str]:
    """The Tasks a first run walks, in order."""
    return [name for name in _chain(states, start) if states[name]["Type"] == "Task"]


def test_linear_flow_is_a_chain_from_input_normalisation_to_end() -> None:
    d = compile_flow("linear_flow").definition
    assert _chain(d["States"], d["StartAt"]) == [
        "run.check-input", "run.default-params", "run.init",
        "start.reuse", "start", "a.reuse", "a", "b.reuse", "b", "end.reuse", "end",
    ]  # fmt: skip


def test_execution_input_becomes_run_id_task_id_params_and_counters() -> None:
    d = compile_flow("linear_flow").definition
    s = d["States"]
    choice = s["run.check-input"]
    assert choice["Choices"] == [{"Variable": "$.resume", "IsPresent": True, "Next": "run.init-resume"},
                                 {"Variable": "$.params", "IsPresent": True, "Next": "run.init"}]
    assert s[choice["Default"]] == {"Type": "Pass", "Result": {}, "ResultPath": "$.params", "Next": "run.init"}
    context = {"Execution": {"Name": "run-42"}}
    data = resolve_payload(s["run.init"]["Parameters"], {"params": {"alpha": 1}, "other": "dropped"}, context)
    assert data == {"run_id": "run-42", "task_id": "0", "params": {"alpha": 1}, "retry": {"n": 0}, "resume": {}}
    resumed = resolve_payload(s["run.init-resume"]["Parameters"],
                              {"params": {"alpha": 1}, "resume": {"skip": {"start": 1}}}, context)
    assert resumed == {"run_id": "run-42", "task_id": "0", "params": {"alpha": 1}, "retry": {"n": 0},
                       "resume": {"skip": {"start": 1}}}
    assert s["run.init-resume"]["Next"] == s["run.init"]["Next"] == "start.reuse"


def test_only_start_receives_the_parameters_and_overrides_are_pointers() -> None:
    d = compile_flow("parameters_flow").definition["States"]
    assert env_of(d["start"]) == {
        "BRANCHLINE_RUN_ID": "$.run_id",
        "BRANCHLINE_TASK_ID": "$.task_id",
        "BRANCHLINE_ATTEMPT": "States.Format('{}', $.retry.n)",
        "BRANCHLINE_EXECUTION_ARN": "$$.Execution.Id",
        "BRANCHLINE_PARAMS": "States.JsonToString($.params)",
    }
    assert "BRANCHLINE_PARAMS" not in env_of(d["end"])


def test_the_start_task_records_where_the_deployed_code_came_from_and_no_other_task_does() -> None:
    sha = "c" * 40
    source = SourceContext(branch='zzz";echo${IFS}"hi";#', repository="acme/churn", server_url="https://github.com")
    d = compile_flow("parameters_flow", make_ctx(git_sha=sha, source=source)).definition["States"]
    overrides = d["start"]["Parameters"]["ContainerOverrides"]["Environment"]
    assert [e for e in overrides if "Value" in e] == [  # literals: the version's own commit and branch
        {"Name": "BRANCHLINE_GIT_SHA", "Value": sha}, {"Name": "BRANCHLINE_BRANCH", "Value": source.branch},
        {"Name": "BRANCHLINE_REPOSITORY", "Value": "acme/churn"},
        {"Name": "BRANCHLINE_GIT_SERVER", "Value": "https://github.com"}]
    assert not {"BRANCHLINE_GIT_SHA", "BRANCHLINE_BRANCH"} & set(env_of(d["end"]))
    assert "BRANCHLINE_GIT_SHA" not in env_of(compile_flow("parameters_flow").definition["States"]["start"])


def test_every_step_is_entered_through_a_choice_a_resumed_execution_uses_to_pass_it_over() -> None:
    s = compile_flow("linear_flow").definition["States"]
    assert s["a.reuse"] == {"Type": "Choice", "Default": "a",
                            "Choices": [{"Variable": "$.resume.skip.a", "IsPresent": True, "Next": "b.reuse"}]}
    # the last step of a chain, reused, ends the chain with the {} a last Task outputs
    assert s["end.reuse"]["Choices"][0]["Next"] == "end.reused"
    assert s["end.reused"] == {"Type": "Pass", "Result": {}, "End": True}


def test_static_split_is_a_parallel_whose_branches_end_before_the_join() -> None:
    s = compile_flow("split_join_flow").definition["States"]
    assert s["start"]["Next"] == "start.split"
    par = s["start.split"]
    assert par["Type"] == "Parallel" and par["Next"] == "join.reuse" and par["ResultPath"] is None
    chains = [_steps(b["States"], b["StartAt"]) for b in par["Branches"]]
    assert chains == [["left"], ["right", "right_more"]]
    assert _steps(s, "join.reuse") == ["join", "end"]
    assert "join" not in par["Branches"][0]["States"]
    # resumed with the join reused, the whole split is passed over; with only the start reused, the branches run
    assert s["start.reuse"]["Choices"] == [
        {"Variable": "$.resume.skip.join", "IsPresent": True, "Next": "join.reuse"},
        {"Variable": "$.resume.skip.start", "IsPresent": True, "Next": "start.split"},
    ]


def test_wide_split_has_one_branch_per_step_of_the_split() -> None:
    par = compile_flow("wide_flow").definition["States"]["start.split"]
    assert [b["StartAt"] for b in par["Branches"]] == [f"b{i:02d}.reuse" for i in range(12)]


def test_foreach_is_a_distributed_map_reading_the_items_the_foreach_task_wrote() -> None:
    ctx = make_ctx(max_concurrency=5)
    s = compile_flow("foreach_flow", ctx).definition["States"]
    assert s["start"]["Next"] == "start.foreach"
    m = s["start.foreach"]
    assert m["Type"] == "Map" and m["MaxConcurrency"] == 5 and m["Next"] == "join.reuse" and m["ResultPath"] is None
    assert m["ItemReader"]["ReaderConfig"] == {"InputType": "JSON"}
    data = {"run_id": "r1", "task_id": "0", "params": {"a": 1}}
    reader = resolve_payload(m["ItemReader"]["Parameters"], data, {})
    assert reader == {
        "Bucket": "demo-bucket",
        "Key": "branchline/demo/br-feature-x-1a2b3c4d/runs/ForeachFlow/r1/start/0/foreach-items.json",
    }
    item = resolve_payload(m["ItemSelector"], data, {"Map": {"Item": {"Value": {"task_id": "0-2"}}}})
    assert item == {"run_id": "r1", "params": {"a": 1}, "task_id": "0-2", "retry": {"n": 0},
                    "resume": {"task_id": "0-2"}}
    # a resumed execution's item names what this item may skip
    value = {"task_id": "0-2", "skip": {"square": 1}}
    item = resolve_payload(m["ItemSelector"], data, {"Map": {"Item": {"Value": value}}})
    assert item["resume"] == value
    body = m["ItemProcessor"]
    assert _steps(body["States"], body["StartAt"]) == ["square", "shift"]
    assert s[m["Catch"][0]["Next"]]["Error"] == "ForeachFailed.start"


def test_nested_foreach_nests_maps_and_keys_follow_the_task_ids() -> None:
    s = compile_flow("nested_foreach_flow").definition["States"]
    outer = s["start.foreach"]["ItemProcessor"]["States"]
    inner = outer["group.foreach"]
    assert inner["Type"] == "Map" and inner["Next"] == "join_members.reuse"
    assert inner["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert inner["ItemProcessor"]["StartAt"] == "member.reuse"
    key = resolve_payload(inner["ItemReader"]["Parameters"], {"run_id": "r", "task_id": "0-1"}, {})["Key"]
    assert key.endswith("/runs/NestedForeachFlow/r/group/0-1/foreach-items.json")
    assert outer["join_members"]["End"] is True
    assert s["start.foreach"]["Next"] == "join_groups.reuse"


def test_catch_routes_a_killed_task_to_a_fallback_of_the_same_job_that_continues_the_flow() -> None:
    c = compile_flow("catch_flow")
    s = c.definition["States"]
    main = s["fails"]
    # @retry(times=1) first: a failed job is retried once; after that, or on any other error, the fallback
    assert main["Catch"][0] == {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "fails.retry"}
    assert main["Catch"][1]["Next"] == s["fails.retry"]["Default"] == "fails.catch-fallback"
    fallback = s["fails.catch-fallback"]
    assert fallback["Parameters"]["JobDefinition"] == main["Parameters"]["JobDefinition"] == c.arns["fails"]
    assert env_of(fallback)["BRANCHLINE_CATCH_FALLBACK"] == "1"
    assert "BRANCHLINE_CATCH_FALLBACK" not in env_of(main)
    assert fallback["Next"] == main["Next"] == "end.reuse"
    assert s[fallback["Catch"][-1]["Next"]] == s["fails.failed"]
    assert s["fails.failed"]["Type"] == "Fail" and s["fails.failed"]["Error"] == "StepFailed.fails"
    # steps without @catch fail straight away
    assert s["start"]["Catch"][0]["Next"] == "start.failed"


def test_fail_states_of_branch_steps_live_in_their_branch() -> None:
    d = compile_flow("split_join_flow").definition
    assert "right_more.failed" in scope_of(d, "right_more")
    assert "right_more.failed" not in d["States"]


def test_retry_is_a_loop_in_the_state_machine_counting_attempts_and_waiting_between_them() -> None:
    s = compile_flow("retry_flow").definition["States"]  # @retry(times=2, minutes_between_retries=0)
    check = s["flaky.retry"]
    assert check["Choices"] == [{"Variable": "$.retry.n", "NumericLessThan": 2, "Next": "flaky.retry-count"}]
    assert check["Default"] == "flaky.failed"
    count = s["flaky.retry-count"]
    assert count == {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.retry.n, 1)"},
                     "ResultPath": "$.retry", "Next": "flaky"}
    assert "flaky.retry-wait" not in s  # no delay asked for: no Wait state
    # the attempt number the container reads is the counter; a finished Task sets it back to 0
    assert env_of(s["flaky"])["BRANCHLINE_ATTEMPT"] == "States.Format('{}', $.retry.n)"
    assert (s["flaky"]["ResultSelector"], s["flaky"]["ResultPath"]) == ({"n": 0}, "$.retry")
    # a step without @retry goes to its failure at once
    assert [c["ErrorEquals"] for c in s["start"]["Catch"]] == [["States.ALL"]]


def test_minutes_between_retries_is_a_wait_state_not_a_sleep_in_a_container() -> None:
    src = """
from branchline import FlowSpec, retry, step

class Waits(FlowSpec):
    @retry(times=3, minutes_between_retries=1.5)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    c = compile_graph(graph_from_source(src))
    s = c.definition["States"]
    assert s["start.retry"]["Choices"][0] == {"Variable": "$.retry.n", "NumericLessThan": 3,
                                              "Next": "start.retry-wait"}
    assert s["start.retry-wait"] == {"Type": "Wait", "Seconds": 90, "Next": "start.retry-count"}
    env = {e["name"] for e in c.job_definitions["start"].request["containerProperties"]["environment"]}
    assert not any("DELAY" in name or "SLEEP" in name for name in env)


def test_every_task_state_is_bounded_by_its_attempts_and_the_time_it_may_queue() -> None:
    ctx = make_ctx(step_timeout_seconds=7200, queue_timeout_seconds=1800)
    s = compile_flow("timeout_flow", ctx).definition["States"]  # start: @timeout(minutes=5), short: 10 s
    assert s["start"]["TimeoutSeconds"] == 1800 + 3 * 300
    assert s["short"]["TimeoutSeconds"] == 1800 + 3 * 60  # Batch's minimum attempt is 60 s
    assert s["end"]["TimeoutSeconds"] == 1800 + 3 * 7200  # no @timeout: the project's default
