"""@schedule: a daily run at 06:30 Paris time (production only on AWS)."""

from branchline import FlowSpec, schedule, step


@schedule(cron="30 6 * * *", timezone="Europe/Paris")
class ScheduleFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        self.result = self.x


if __name__ == "__main__":
    ScheduleFlow()
