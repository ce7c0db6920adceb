"""FDM process model: slice-based print time and filament mass, and the equivalent slicer profile.

Per layer (vectorised over layers): perimeters from contour length x wall count, sparse infill from
the inner area x density, top/bottom skins, supports under overhangs, travel, acceleration-aware
speeds (trapezoidal profile per segment), minimum layer time. Depends on domain, costing and
fabgrid.geometry.slice; never on store, services, api or cli.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from fabgrid.costing.base import register, setup_energy_kwh, trapezoid_time_s
from fabgrid.costing.part import Part, part_layers
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import MachineModel, Material, ProcessFamily
from fabgrid.domain.quote import Estimate
from fabgrid.errors import InputError
from fabgrid.geometry.slice import SliceSettings

_SECTION = "fdm"
_REQUIRED = ("nozzle_mm", "outer_wall_speed_mm_s", "inner_wall_speed_mm_s", "infill_speed_mm_s",
             "travel_speed_mm_s", "accel_mm_s2")


@dataclass(frozen=True)
class FdmProfile:
    """The print settings of one FDM machine model with one material (mm, mm/s, mm/s2, s)."""

    machine_id: str
    bed_mm: tuple[float, float, float]
    nozzle_mm: float
    layer_height_mm: float
    width_mm: float
    perimeters: int
    top_layers: int
    bottom_layers: int
    infill_density: float
    support_density: float
    support_interface_layers: int
    support_gap_mm: float
    support_threshold_deg: float
    bridge_extra_spacing_mm: float
    outer_wall_speed_mm_s: float
    inner_wall_speed_mm_s: float
    infill_speed_mm_s: float
    solid_infill_speed_mm_s: float
    support_speed_mm_s: float
    first_layer_speed_mm_s: float
    travel_speed_mm_s: float
    max_print_speed_mm_s: float
    accel_mm_s2: float
    jerk_mm_s: float
    max_volumetric_mm3_s: float
    min_layer_time_s: float
    min_print_speed_mm_s: float
    retract_mm: float
    retract_speed_mm_s: float
    retract_before_travel_mm: float
    z_speed_mm_s: float
    filament_diameter_mm: float
    filament_density_g_cm3: float
    heatup_s: float
    nozzle_c: float
    bed_c: float

    @property
    def spacing_mm(self) -> float:
        """Centre distance of adjacent extrusions (PrusaSlicer's rounded-rectangle flow model)."""
        return self.width_mm - self.layer_height_mm * (1.0 - math.pi / 4.0)

    @property
    def flow_area_mm2(self) -> float:
        """Cross-section of one extrusion: volume per mm of path."""
        return self.spacing_mm * self.layer_height_mm

    def slice_settings(self) -> SliceSettings:
        """How the part is sliced for this profile."""
        return SliceSettings(
            layer_height_mm=self.layer_height_mm,
            overhang_angle_deg=self.support_threshold_deg,
            shell_width_mm=self.perimeters * self.spacing_mm,
            top_layers=self.top_layers,
            bottom_layers=self.bottom_layers,
            support_gap_mm=self.support_gap_mm,
            support_cell_mm=self.width_mm / self.support_density,
        )


def fdm_profile(machine: MachineModel, material: Material | None, rates: Rates) -> FdmProfile:
    """The FDM profile of `machine` (params validated) printing `material` with the shared settings."""
    if machine.process is not ProcessFamily.FDM:
        raise InputError(f"machine model {machine.id!r} is {machine.process.value}, not fdm",
                         hint="pick an FDM machine model", code="costing.not_fdm")
    p = {k: rates.machine_param(_SECTION, machine, k) for k in _REQUIRED}
    num = rates.number
    flow = rates.machine_param(_SECTION, machine, "max_volumetric_flow_mm3_s")
    props = material.properties if material is not None else {}
    mat_flow = props.get("max_volumetric_flow_mm3_s")
    if isinstance(mat_flow, int | float):
        flow = min(flow, float(mat_flow))
    layer = machine.default_layer_height_mm or num(_SECTION, "layer_height_mm")
    infill = p["infill_speed_mm_s"]
    filament = props.get("filament_mm", num(_SECTION, "filament_diameter_mm"))
    return FdmProfile(
        machine_id=machine.id,
        bed_mm=machine.build_volume_mm,
        nozzle_mm=p["nozzle_mm"],
        layer_height_mm=float(layer),
        width_mm=p["nozzle_mm"] * num(_SECTION, "extrusion_width_factor"),
        perimeters=int(num(_SECTION, "perimeters")),
        top_layers=int(num(_SECTION, "top_layers")),
        bottom_layers=int(num(_SECTION, "bottom_layers")),
        infill_density=num(_SECTION, "infill_density"),
        support_density=num(_SECTION, "support_density"),
        support_interface_layers=int(num(_SECTION, "support_interface_layers")),
        support_gap_mm=num(_SECTION, "support_gap_mm"),
        support_threshold_deg=num(_SECTION, "support_threshold_deg"),
        bridge_extra_spacing_mm=num(_SECTION, "bridge_extra_spacing_mm"),
        outer_wall_speed_mm_s=p["outer_wall_speed_mm_s"],
        inner_wall_speed_mm_s=p["inner_wall_speed_mm_s"],
        infill_speed_mm_s=infill,
        solid_infill_speed_mm_s=infill * num(_SECTION, "solid_infill_speed_factor"),
        support_speed_mm_s=infill * num(_SECTION, "support_speed_factor"),
        first_layer_speed_mm_s=num(_SECTION, "first_layer_speed_mm_s"),
        travel_speed_mm_s=p["travel_speed_mm_s"],
        max_print_speed_mm_s=rates.machine_param(_SECTION, machine, "max_print_speed_mm_s"),
        accel_mm_s2=p["accel_mm_s2"],
        jerk_mm_s=num(_SECTION, "jerk_mm_s"),
        max_volumetric_mm3_s=flow,
        min_layer_time_s=num(_SECTION, "min_layer_time_s"),
        min_print_speed_mm_s=num(_SECTION, "min_print_speed_mm_s"),
        retract_mm=num(_SECTION, "retract_mm"),
        retract_speed_mm_s=num(_SECTION, "retract_speed_mm_s"),
        retract_before_travel_mm=num(_SECTION, "retract_before_travel_mm"),
        z_speed_mm_s=num(_SECTION, "z_speed_mm_s"),
        filament_diameter_mm=float(filament) if isinstance(filament, int | float) else 1.75,
        filament_density_g_cm3=material.density_g_cm3 if material is not None else 1.24,
        heatup_s=rates.machine_param(_SECTION, machine, "heatup_s"),
        nozzle_c=float(props.get("nozzle_c", 215)) if isinstance(props.get("nozzle_c", 215), int | float) else 215.0,
        bed_c=float(props.get("bed_c", 60)) if isinstance(props.get("bed_c", 60), int | float) else 60.0,
    )


@dataclass(frozen=True)
class FdmResult:
    """Print time and extruded volume of one part with one profile, by feature."""

    print_time_s: float
    volume_mm3: float
    support_volume_mm3: float
    time_by_feature_s: dict[str, float]
    volume_by_feature_mm3: dict[str, float]
    layers: int

    def mass_g(self, density_g_cm3: float) -> float:
        """Filament mass for the extruded volume."""
        return self.volume_mm3 * density_g_cm3 / 1000.0


def simulate(part: Part, prof: FdmProfile) -> FdmResult:
    """Print time and filament volume of one copy of `part` with profile `prof`."""
    st = part_layers(part, prof.slice_settings())
    h, s, fa = prof.layer_height_mm, prof.spacing_mm, prof.flow_area_mm2
    n = st.n_layers
    area, perim = st.area_mm2, st.perimeter_mm
    # loop k runs at offset d_k inside the contour: a smooth outer contour shrinks by 2*pi*d_k (a hole
    # grows by as much) and every sharp (taken as right-angle) corner adds 2*tan(45 deg) - pi/2
    offsets = prof.width_mm / 2.0 + s * np.arange(prof.perimeters)
    shrink = 2.0 * math.pi * st.euler + (2.0 - math.pi / 2.0) * st.corner_balance
    loop_len = np.maximum(perim[:, None] - shrink[:, None] * offsets[None, :], 0.0)
    shell_len = loop_len.sum(axis=1)
    thin = shell_len * s > area
    scale = np.where(thin, area / np.maximum(shell_len * s, 1e-9), 1.0)
    loop_len = loop_len * scale[:, None]
    shell = loop_len.sum(axis=1) * s
    inner = np.maximum(area - shell, 0.0)
    # an inner region narrower than one extrusion (mean chord below the spacing) gets no infill line
    inner_perim = loop_len[:, -1] if prof.perimeters > 0 else perim
    inner = np.where((inner_perim > 0) & (math.pi * inner >= s * inner_perim), inner, 0.0)
    solid = np.minimum(inner, st.top_skin_mm2 + st.bottom_skin_mm2)
    solid[0] = inner[0]
    sparse = inner - solid
    # the first skin layer over sparse infill or over air is a bridge (round, thicker extrusions)
    idx = np.arange(n)
    above = np.minimum(idx + prof.top_layers - 1, n - 1)
    top_bridge = np.where(idx + prof.top_layers - 1 < n, st.top_exposed_mm2[above], 0.0)
    bridge = np.minimum(solid, top_bridge + np.where(idx > 0, st.bottom_exposed_mm2, 0.0))
    bridge_pitch = prof.nozzle_mm + prof.bridge_extra_spacing_mm
    bridge_vol = bridge * (math.pi / 4.0 * prof.nozzle_mm**2) / bridge_pitch
    chord = np.where(perim > 0, math.pi * area / np.maximum(perim, 1e-9), 0.0)
    chord = np.maximum(chord, prof.width_mm)
    # infill fills the region inside the innermost loop: its mean chord (Cauchy: pi * area / perimeter)
    chord_in = np.maximum(np.where(inner_perim > 0, math.pi * inner / np.maximum(inner_perim, 1e-9), 0.0),
                          prof.width_mm)
    # infill lines are joined pairwise along the inner perimeter by a short connector (anchor)
    line_pitch = s / max(prof.infill_density, 1e-6)
    sparse_lines = sparse * prof.infill_density / s
    # partial skins are rings along the walls (their boundary runs on both sides), sparse infill
    # is what is left inside: mean chords of those sub-regions
    frac_solid = np.divide(solid, inner, out=np.ones_like(inner), where=inner > 0)
    perim_in = np.maximum(inner_perim, 1e-9)
    chord_solid = np.clip(math.pi * solid / (perim_in * (2.0 - frac_solid)), prof.width_mm, chord_in)
    chord_sparse = np.clip(math.pi * sparse / perim_in, prof.width_mm, chord_in)
    n_sparse = sparse_lines / chord_sparse
    solid_lines = (solid - bridge) * h / fa
    n_solid = solid_lines / chord_solid
    connector = math.sqrt(2.0) * np.array([line_pitch, s])
    # interface layers sit right under an overhang: overhang area of the next few layers up
    ov = np.concatenate([st.overhang_mm2[1:], [0.0]])
    c = np.concatenate(([0.0], np.cumsum(ov)))
    interface = c[np.minimum(idx + prof.support_interface_layers, n)] - c[idx]
    support = st.support_mm2
    interface = np.minimum(interface, support)
    sup_vol = ((support - interface) * prof.support_density + interface) * h

    length = {
        "outer_wall": loop_len[:, 0],
        "inner_wall": loop_len[:, 1:].sum(axis=1),
        "sparse_infill": sparse_lines + n_sparse * connector[0],
        "solid_infill": solid_lines + n_solid * connector[1],
        "bridge": bridge / bridge_pitch,
        "support": sup_vol / fa,
    }
    vol = {k: v * fa for k, v in length.items()}
    vol["bridge"] = bridge_vol
    first = idx == 0
    seg_loop = st.corners + np.maximum(st.loops, 1)

    def speed(v: float, flow_area_mm2: float = fa) -> np.ndarray:
        cap = min(v, prof.max_volumetric_mm3_s / flow_area_mm2, prof.max_print_speed_mm_s)
        return np.where(first, min(cap, prof.first_layer_speed_mm_s), cap)

    loops = np.maximum(st.loops, 1).astype(np.float64)
    # (length, segments, nominal speed) per feature; infill: lines then connectors
    feats: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
        "outer_wall": [(length["outer_wall"], seg_loop, speed(prof.outer_wall_speed_mm_s))],
        "inner_wall": [(length["inner_wall"], seg_loop * max(prof.perimeters - 1, 1),
                        speed(prof.inner_wall_speed_mm_s))],
        "sparse_infill": [(sparse_lines, n_sparse, speed(prof.infill_speed_mm_s)),
                          (n_sparse * connector[0], n_sparse, speed(prof.infill_speed_mm_s))],
        "solid_infill": [(solid_lines, n_solid, speed(prof.solid_infill_speed_mm_s)),
                         (n_solid * connector[1], n_solid, speed(prof.solid_infill_speed_mm_s))],
        "bridge": [(length["bridge"], length["bridge"] / chord_solid,
                    speed(prof.solid_infill_speed_mm_s, math.pi / 4.0 * prof.nozzle_mm**2))],
        "support": [(length["support"], length["support"] / np.maximum(np.sqrt(support), 1.0),
                     speed(prof.support_speed_mm_s))],
    }
    # travel: to and from each loop, into the infill and to the next layer's start (about half a
    # chord each), retracting when long
    moves = 2.0 * loops + 2.0 + (support > 0)
    travel_len = moves * chord / 2.0
    retracts = 1.0 + np.where(chord / 2.0 > prof.retract_before_travel_mm, moves, 0.0)
    retract_s = retracts * 2.0 * prof.retract_mm / prof.retract_speed_mm_s
    # cooling: the slicer slows extrusions so that the layer's feed-rate time (no acceleration)
    # reaches the minimum layer time
    naive_ext = sum(seg[0] / seg[2] for parts in feats.values() for seg in parts)
    naive_other = travel_len / prof.travel_speed_mm_s + retract_s
    need = prof.min_layer_time_s - naive_other
    slow = np.where((naive_ext > 0) & (naive_ext < need), naive_ext / np.maximum(need, 1e-9), 1.0)
    a, j = prof.accel_mm_s2, prof.jerk_mm_s
    t: dict[str, np.ndarray] = {}
    for name, parts in feats.items():
        t[name] = sum((trapezoid_time_s(ln, sg, np.maximum(v * slow, prof.min_print_speed_mm_s), a, j)
                       for ln, sg, v in parts), np.zeros(n))
    t["travel"] = trapezoid_time_s(travel_len, moves, prof.travel_speed_mm_s, a, 0.0) + retract_s
    t["layer_change"] = np.full(n, h / prof.z_speed_mm_s)
    by_feature = {k: float(v.sum()) for k, v in t.items()}
    return FdmResult(
        print_time_s=float(sum(by_feature.values())),
        volume_mm3=float(sum(float(v.sum()) for v in vol.values())),
        support_volume_mm3=float(sup_vol.sum()),
        time_by_feature_s=by_feature,
        volume_by_feature_mm3={k: float(v.sum()) for k, v in vol.items()},
        layers=st.n_layers,
    )


class FdmModel:
    """FDM: one part after another on the plate; heat-up once per plate."""

    families: tuple[ProcessFamily, ...] = (ProcessFamily.FDM,)

    def estimate(self, part: Part, machine: MachineModel, material: Material, quantity: int,
                 rates: Rates) -> Estimate:
        """Time, filament and energy of `quantity` copies on `machine`."""
        prof = fdm_profile(machine, material, rates)
        res = simulate(part, prof)
        per_plate = _copies_per_plate(part, prof)
        plates = math.ceil(quantity / per_plate)
        # a plate's heat-up and clearing is shared by the copies on it (never more per part with more copies)
        share = min(quantity, per_plate)
        setup_s = prof.heatup_s + rates.number(_SECTION, "bed_change_s")
        job_s = quantity * res.print_time_s + plates * setup_s
        density = material.density_g_cm3
        energy = (res.print_time_s * machine.power.producing_w / 3.6e6
                  + setup_energy_kwh(machine, prof.heatup_s) / share)
        details = {f"{k}_s": v for k, v in res.time_by_feature_s.items()}
        details.update(print_time_s=res.print_time_s, heatup_s=prof.heatup_s, layers=float(res.layers),
                       copies_per_plate=float(per_plate), plates=float(plates),
                       extruded_volume_mm3=res.volume_mm3)
        return Estimate(
            process=ProcessFamily.FDM, machine_model=machine.id, material=material.id, quantity=quantity,
            time_s=res.print_time_s + setup_s / share, job_time_s=job_s, builds=plates,
            material_g=res.mass_g(density), part_g=(res.volume_mm3 - res.support_volume_mm3) * density / 1000,
            support_g=res.support_volume_mm3 * density / 1000, energy_kwh=energy,
            operator_s=0.0, setup_s=setup_s / share, details=details,
        )


def _copies_per_plate(part: Part, prof: FdmProfile) -> int:
    """Copies that fit side by side on the plate (bounding boxes with a 5 mm gap)."""
    x, y, _ = part.bbox_mm
    gap = 5.0
    nx = max(int((prof.bed_mm[0] + gap) // (x + gap)), 1)
    ny = max(int((prof.bed_mm[1] + gap) // (y + gap)), 1)
    return nx * ny


def slicer_ini(prof: FdmProfile) -> str:
    """A PrusaSlicer 2.5 .ini profile with the settings of `prof` (to compare with the slicer)."""
    bx, by, bz = prof.bed_mm
    w = f"{prof.width_mm:.3f}"
    a = f"{prof.accel_mm_s2:g}"
    solid = min(prof.solid_infill_speed_mm_s, prof.max_print_speed_mm_s)
    v = {
        "printer_technology": "FFF", "gcode_flavor": "marlin2", "machine_limits_usage": "time_estimate_only",
        "bed_shape": f"0x0,{bx:g}x0,{bx:g}x{by:g},0x{by:g}", "max_print_height": f"{bz:g}",
        "nozzle_diameter": f"{prof.nozzle_mm:g}",
        "machine_max_acceleration_extruding": f"{a},{a}", "machine_max_acceleration_retracting": f"{a},{a}",
        "machine_max_acceleration_travel": f"{a},{a}", "machine_max_acceleration_x": f"{a},{a}",
        "machine_max_acceleration_y": f"{a},{a}", "machine_max_acceleration_z": "500,500",
        "machine_max_acceleration_e": "5000,5000",
        "machine_max_feedrate_x": f"{max(prof.travel_speed_mm_s, prof.max_print_speed_mm_s):g}," * 2,
        "machine_max_feedrate_y": f"{max(prof.travel_speed_mm_s, prof.max_print_speed_mm_s):g}," * 2,
        "machine_max_feedrate_z": f"{prof.z_speed_mm_s:g},{prof.z_speed_mm_s:g}",
        "machine_max_feedrate_e": "120,120",
        "machine_max_jerk_x": f"{prof.jerk_mm_s:g},{prof.jerk_mm_s:g}",
        "machine_max_jerk_y": f"{prof.jerk_mm_s:g},{prof.jerk_mm_s:g}",
        "machine_max_jerk_z": "0.4,0.4", "machine_max_jerk_e": "2.5,2.5",
        "machine_min_extruding_rate": "0,0", "machine_min_travel_rate": "0,0",
        "layer_height": f"{prof.layer_height_mm:g}", "first_layer_height": f"{prof.layer_height_mm:g}",
        "perimeters": str(prof.perimeters), "top_solid_layers": str(prof.top_layers),
        "bottom_solid_layers": str(prof.bottom_layers), "top_solid_min_thickness": "0",
        "bottom_solid_min_thickness": "0", "fill_density": f"{prof.infill_density * 100:g}%",
        "fill_pattern": "rectilinear", "top_fill_pattern": "monotonic", "bottom_fill_pattern": "monotonic",
        "extrusion_width": w, "external_perimeter_extrusion_width": w, "perimeter_extrusion_width": w,
        "infill_extrusion_width": w, "solid_infill_extrusion_width": w, "top_infill_extrusion_width": w,
        "first_layer_extrusion_width": w, "support_material_extrusion_width": w,
        "external_perimeter_speed": f"{prof.outer_wall_speed_mm_s:g}",
        "perimeter_speed": f"{prof.inner_wall_speed_mm_s:g}",
        "small_perimeter_speed": f"{prof.inner_wall_speed_mm_s:g}",
        "infill_speed": f"{prof.infill_speed_mm_s:g}", "solid_infill_speed": f"{solid:g}",
        "top_solid_infill_speed": f"{solid:g}", "bridge_speed": f"{solid:g}",
        "gap_fill_speed": f"{prof.inner_wall_speed_mm_s:g}",
        "support_material_speed": f"{prof.support_speed_mm_s:g}",
        "support_material_interface_speed": "100%",
        "first_layer_speed": f"{prof.first_layer_speed_mm_s:g}", "travel_speed": f"{prof.travel_speed_mm_s:g}",
        "travel_speed_z": f"{prof.z_speed_mm_s:g}", "max_volumetric_speed": f"{prof.max_volumetric_mm3_s:g}",
        "filament_max_volumetric_speed": f"{prof.max_volumetric_mm3_s:g}",
        "default_acceleration": "0", "perimeter_acceleration": "0", "infill_acceleration": "0",
        "bridge_acceleration": "0", "first_layer_acceleration": "0",
        "retract_length": f"{prof.retract_mm:g}", "retract_speed": f"{prof.retract_speed_mm_s:g}",
        "deretract_speed": "0", "retract_before_travel": f"{prof.retract_before_travel_mm:g}",
        "retract_lift": "0", "retract_layer_change": "1", "wipe": "0", "skirts": "0", "brim_width": "0",
        "support_material": "1", "support_material_auto": "1",
        "support_material_threshold": f"{prof.support_threshold_deg:g}",
        "support_material_pattern": "rectilinear",
        "support_material_spacing": f"{prof.width_mm / prof.support_density - prof.width_mm:.3f}",
        "support_material_interface_layers": str(prof.support_interface_layers),
        "support_material_interface_spacing": "0",
        "support_material_contact_distance": f"{prof.support_gap_mm:g}",
        "support_material_bottom_contact_distance": "0", "support_material_buildplate_only": "0",
        "support_material_with_sheath": "0", "support_material_style": "grid", "raft_layers": "0",
        "solid_infill_below_area": "0", "raft_first_layer_density": f"{prof.support_density * 100:g}%",
        "raft_first_layer_expansion": "0", "extra_perimeters": "0", "infill_only_where_needed": "0",
        "thick_bridges": "1", "bridge_flow_ratio": "1",
        "dont_support_bridges": "0", "cooling": "1", "fan_always_on": "1",
        "slowdown_below_layer_time": f"{prof.min_layer_time_s:g}", "min_print_speed": f"{prof.min_print_speed_mm_s:g}",
        "filament_diameter": f"{prof.filament_diameter_mm:g}",
        "filament_density": f"{prof.filament_density_g_cm3:g}", "extrusion_multiplier": "1",
        "temperature": f"{prof.nozzle_c:g}", "first_layer_temperature": f"{prof.nozzle_c:g}",
        "bed_temperature": f"{prof.bed_c:g}", "first_layer_bed_temperature": f"{prof.bed_c:g}",
        "ensure_vertical_shell_thickness": "0", "thin_walls": "0", "overhangs": "0",
        "avoid_crossing_perimeters": "0", "infill_every_layers": "1",
        "start_gcode": "G28 ; home\\nG1 Z5 F600", "end_gcode": "M104 S0\\nM140 S0\\nM84",
    }
    v["machine_max_feedrate_x"] = v["machine_max_feedrate_x"].rstrip(",")
    v["machine_max_feedrate_y"] = v["machine_max_feedrate_y"].rstrip(",")
    head = [f"# PrusaSlicer profile generated by fabgrid from machine model {prof.machine_id}",
            "# equivalent to fabgrid's FDM costing profile (fabgrid estimate --slicer-config)"]
    return "\n".join(head + [f"{k} = {val}" for k, val in v.items()]) + "\n"


def profile_dict(prof: FdmProfile) -> dict[str, object]:
    """The profile as a plain dict (JSON output)."""
    return asdict(prof)


register(FdmModel())
