"""bromsync engine: Bromcom -> mappings -> DuckDB -> plan -> ParentPay.

The stages are one module each (config, sources, mapping, stage, diff, plan, report,
targets) and `pipeline` wires them. The engine never prints and never imports the
simulators: it returns results and raises `engine.errors.BromsyncError`.
"""

__version__ = "0.1.0"
