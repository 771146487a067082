"""The production chapter's flows ("Effective Data Science Infrastructure", chapter 6: listings 6.1, 6.2, 6.7,
6.8 and 6.9), written as the chapter writes them, with Metaflow's import line (`harness.as_branchline` changes
it). `PROJECT` stands for the `@project` name, which must be the project's own.
"""

NAMESPACE_FLOW = """
    from metaflow import FlowSpec, step, get_namespace


    class NamespaceFlow(FlowSpec):

        @step
        def start(self):
            print('my namespace is', get_namespace())
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == '__main__':
        NamespaceFlow()
"""

FIRST_FLOW = """
    from metaflow import FlowSpec, step, project


    @project(name='PROJECT')
    class FirstFlow(FlowSpec):

        @step
        def start(self):
            self.model = 'this is a demo model'
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == '__main__':
        FirstFlow()
"""

SECOND_FLOW = """
    from metaflow import FlowSpec, Flow, step, project


    @project(name='PROJECT')
    class SecondFlow(FlowSpec):

        @step
        def start(self):
            self.model = Flow('FirstFlow').latest_run.data.model
            print('model:', self.model)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == '__main__':
        SecondFlow()
"""

SFN_TEST_FLOW = """
    from metaflow import FlowSpec, Parameter, step


    class SFNTestFlow(FlowSpec):

        num = Parameter('num',
                        help="Give a number",
                        default=1)

        @step
        def start(self):
            print("The number defined as a parameter is", self.num)
            self.next(self.end)

        @step
        def end(self):
            print('done!')


    if __name__ == '__main__':
        SFNTestFlow()
"""

DAILY_FLOW = """
    from metaflow import FlowSpec, Parameter, step, schedule


    @schedule(daily=True)
    class DailySFNTestFlow(FlowSpec):

        num = Parameter('num',
                        help="Give a number",
                        default=1)

        @step
        def start(self):
            print("The number defined as a parameter is", self.num)
            self.next(self.end)

        @step
        def end(self):
            print('done!')


    if __name__ == '__main__':
        DailySFNTestFlow()
"""
