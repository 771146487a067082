"""@retry: `flaky` fails on its first attempt and succeeds on the second."""

from branchline import FlowSpec, current, retry, step


class RetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if not current.retry_count:
            raise RuntimeError("first attempt fails on purpose")
        self.attempt = current.retry_count  # 1
        self.next(self.end)

    @step
    def end(self):
        self.result = self.attempt


if __name__ == "__main__":
    RetryFlow()
