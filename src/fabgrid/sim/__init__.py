"""Network simulator (SimPy): demand, machines, logistics and disruptions run against the real engines
(costing, allocation, nesting density, build sequencing, disruption handling, ISO 22400 KPIs) to compare
operating policies.

Entry points: `sim.run.compare`, `sim.run.run_policy`, `sim.run.live_events`. Never imports store,
services, api, web or cli.
"""
