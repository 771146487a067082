"""Retry, timeout, catch and resume, driven by files under $FLOW_STATE so tests can count attempts."""

import os
import time
from pathlib import Path

from branchline import FlowSpec, catch, retry, step, timeout

STATE = Path(os.environ.get("FLOW_STATE", "."))


def bump(name: str) -> int:
    path = STATE / name
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


class ResilienceFlow(FlowSpec):
    @step
    def start(self):
        bump("start")
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        attempt = bump("flaky")
        if attempt < 3:
            raise RuntimeError(f"flaky failure {attempt}")
        self.attempts = attempt
        self.next(self.slow)

    @catch(var="slow_error")
    @timeout(seconds=1)
    @step
    def slow(self):
        bump("slow")
        time.sleep(30)
        self.next(self.broken)

    @catch(var="broken_error", print_exception=False)
    @step
    def broken(self):
        self.partial = "kept"
        raise ValueError("broken on purpose")
        self.next(self.gate)

    @step
    def gate(self):
        bump("gate")
        if (STATE / "fail_gate").exists():
            raise RuntimeError("gate refused")
        self.next(self.end)

    @step
    def end(self):
        bump("end")


if __name__ == "__main__":
    ResilienceFlow()
