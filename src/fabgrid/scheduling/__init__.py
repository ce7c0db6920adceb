"""Site scheduling: a flexible job shop (builds, cool-down, follow-up steps) on machines and stations.

Modules: problem (the model), readers (JSPLIB / .fjs), dispatch (rule baselines), cpsat (CP-SAT with
interval variables; a classic job shop runs it beside tabu, a tabu search on critical blocks), check
(independent checker), site + workload (a site's work as a problem), gantt (PNG), plan (baseline, solve,
check in one call), pool (a machine pool's queued builds sequenced by the dispatch rules, for the network
simulator). Never imports store, services, api, web or cli; importing this package does not import OR-Tools.
"""
