"""`fabgrid inspect`: train and run the surface defect detector, check a layer image, SPC of a feature.

Calls services.inspection (imported inside the commands, with numpy, scipy, trimesh); never an engine.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fabgrid.cli._common import emit_json, table
from fabgrid.services.formats import FORMATS_TEXT

inspect_app = typer.Typer(help="Quality inspection: image anomaly detection, layer checks, SPC.",
                          no_args_is_help=True)


@inspect_app.command("train")
def train_cmd(
    images: Path = typer.Option(..., "--images", help="Folder of defect-free images, or a text file listing them."),
    model: Path = typer.Option(..., "--model", help="Model file to write (.npz)."),
    target_frr: float = typer.Option(0.05, "--target-frr", help="False-reject rate the threshold aims at."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Learn a defect detector from defect-free images only."""
    from fabgrid.services.inspection import train_detector

    t = train_detector(images, model, target_frr=target_frr)
    doc = {"model": str(t.model), "n_train": t.n_train, "threshold": t.threshold, "target_frr": t.target_frr,
           "loo_frr": t.loo_frr}
    if json_out:
        emit_json(doc)
    else:
        table("anomaly model", ["key", "value"], [(k, v) for k, v in doc.items()])


@inspect_app.command("run")
def run_cmd(
    images: list[Path] = typer.Argument(..., help="Images to inspect."),
    model: Path = typer.Option(..., "--model", help="Model file from `fabgrid inspect train`."),
    heatmap_dir: Path | None = typer.Option(None, "--heatmap-dir", help="Write <stem>.heatmap.png per image."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Score images: anomaly score, defect decision at the model's threshold, optional heat maps."""
    from fabgrid.services.inspection import score_images

    scored = score_images(images, model, heatmap_dir=heatmap_dir)
    docs: list[dict[str, object]] = [
        {"image": r.image, "score": r.score, "defect": r.defect, **({"heatmap": r.heatmap} if r.heatmap else {})}
        for r in scored.images]
    if json_out:
        emit_json(docs)
    else:
        table(f"inspection (threshold {scored.threshold:.3f})", ["image", "score", "result"],
              [(d["image"], f"{d['score']:.3f}", "DEFECT" if d["defect"] else "ok") for d in docs])


@inspect_app.command("layer")
def layer_cmd(
    mesh: Path = typer.Option(..., "--mesh", help=f"Part or build mesh ({FORMATS_TEXT}) in mm."),
    image: Path = typer.Option(..., "--image", help="Top camera image of the layer."),
    z_mm: float = typer.Option(..., "--z", help="Layer height in mm."),
    px_mm: float = typer.Option(..., "--px-mm", help="Pixel size of the calibrated camera in mm."),
    origin_x_mm: float = typer.Option(0.0, "--origin-x", help="Bed X of the image's top-left corner (mm)."),
    origin_y_mm: float = typer.Option(0.0, "--origin-y", help="Bed Y of the image's top-left corner (mm)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Compare a layer image with the mesh's cross-section: shift, missing/excess material, warping."""
    from fabgrid.services.inspection import check_layer_file

    res = check_layer_file(mesh, image, z_mm=z_mm, px_mm=px_mm, origin_mm=(origin_x_mm, origin_y_mm))
    if json_out:
        emit_json(res)
    else:
        rows = [("verdict", res.verdict.value), ("shift_mm", f"{res.shift_mm[0]:+.2f}, {res.shift_mm[1]:+.2f}"),
                ("missing_mm2", f"{res.missing_area_mm2:.1f}"), ("excess_mm2", f"{res.excess_area_mm2:.1f}"),
                ("iou", f"{res.iou:.3f}"), *((f.kind.value, f.message) for f in res.findings)]
        table(f"layer check z={z_mm} mm", ["item", "value"], rows)


@inspect_app.command("spc")
def spc_cmd(
    csv_file: Path = typer.Option(..., "--csv", help="CSV of measurements in production order, with a header."),
    feature: str = typer.Option(..., "--feature", help="Column (feature) to analyse."),
    lsl_mm: float | None = typer.Option(None, "--lsl", help="Lower specification limit (mm)."),
    usl_mm: float | None = typer.Option(None, "--usl", help="Upper specification limit (mm)."),
    nominal_mm: float | None = typer.Option(None, "--nominal", help="Nominal (mm); default mid-tolerance."),
    subgroup: int = typer.Option(1, "--subgroup", help="Subgroup size: 1 = individuals/MR, >1 = X-bar/R."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Capability (Cp/Cpk, Pp/Ppk), control charts with Western Electric rules, and alarms."""
    from fabgrid.services.inspection import spc_from_csv

    rep = spc_from_csv(csv_file, feature, lsl_mm=lsl_mm, usl_mm=usl_mm, nominal_mm=nominal_mm, subgroup=subgroup)
    if json_out:
        emit_json(rep)
        return
    c = rep.capability

    def f2(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    table(f"SPC {feature}", ["n", "mean_mm", "Cp", "Cpk", "Pp", "Ppk", "out_of_tol"],
          [(c.n, f"{c.mean_mm:.4f}", f2(c.cp), f2(c.cpk), f2(c.pp), f2(c.ppk), c.out_of_tolerance)])
    table("control limits", ["chart", "LCL", "CL", "UCL", "violations"],
          [(ch.kind, f"{ch.lcl:.4f}", f"{ch.center:.4f}", f"{ch.ucl:.4f}", len(ch.violations))
           for ch in (rep.location, rep.dispersion)])
    table("alarms", ["alarm"], [(a,) for a in rep.alarms] or [("none",)])


def register(app: typer.Typer) -> None:
    """Add the `inspect` command group."""
    app.add_typer(inspect_app, name="inspect")
