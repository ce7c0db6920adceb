"""Site scheduling: a flexible job shop (builds, cool-down, follow-up steps) on machines and stations.

Modules: problem (the model), readers (JSPLIB / .fjs), dispatch (rule baselines), cpsat (CP-SAT with
interval variables), check (independent checker), site + workload (a site's work as a problem),
gantt (PNG), plan (baseline, solve, check in one call). Never imports store, services, api, web or cli;
importing this package does not import OR-Tools.
"""
