"""Network allocation: order lines to sites (HiGHS MILP, greedy baseline), disruptions, shipping geography.

Engines only: depends on `fabgrid.domain`, `fabgrid.errors` and the data files; never on store,
services, api, web or cli.
"""
