"""Part intake engine: load (formats, units, limits), analyze (mesh facts), intersect, thickness,
orient, dfm (rule registry per process), repair, report (the whole pipeline); slice (layer sections).

Engines here never import store, services, api, web or cli.
"""
