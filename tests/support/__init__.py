"""Helpers the tests share, imported by name (`from tests.support.delivery import clients`):
no test module imports another's. Fixtures stay in the conftest.py that covers their users.

- api: GraphQL over HTTP (`GQL`, `error_of`) and the mailing input most API tests start from
- database: the test databases (which backends run, resetting and emptying them)
- engine: the delivery engine under test (`Engine`), waiting for conditions, forgetting keys
- delivery: clients and mailings for the engine, and reading what happened to them
- procs: `herald` processes signalled like an operator or a deploy would
- cli: the `herald` console script run once, as a user would
"""
