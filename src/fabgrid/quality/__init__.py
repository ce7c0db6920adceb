"""Quality inspection engines: image anomaly detection, layer-vs-slice checks, SPC, traceability.

Modules: `anomaly` (detector), `anomaly_io` (model file, images, heat maps), `layer` (in-situ layer
check), `spc` (capability, control charts, Western Electric rules), `trace` (genealogy, HTML report).
Engines only: never import store, services, api, web or cli.
"""
