"""@timeout + @retry: the first attempt of `slow` runs past its timeout; the retry succeeds."""

import time

from branchline import FlowSpec, current, retry, step, timeout


class TimeoutRetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow)

    @retry(times=1, minutes_between_retries=0)
    @timeout(seconds=60)
    @step
    def slow(self):
        if current.retry_count == 0:
            time.sleep(300)
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        self.result = self.attempt


if __name__ == "__main__":
    TimeoutRetryFlow()
