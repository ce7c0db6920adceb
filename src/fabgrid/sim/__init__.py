"""Network simulator (SimPy): demand, machines, logistics and disruptions run against the real engines
(costing, allocation, nesting density, build sequencing, disruption handling, ISO 22400 KPIs) to compare
operating policies.

Entry points: `sim.run.compare`, `sim.run.run_policy`, `sim.export.write_jsonl` and `sim.export.live_events`
(telemetry events of a run, a file or the web platform's live demo data). Never imports store,
services, api, web or cli.
"""
