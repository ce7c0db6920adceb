"""The catalog's names in Chinese (issue 17, item 9): `name_zh` of each stored process, material and finish, and the
vendor's and model's Chinese names of the machine models (`vendor_zh`, `model_zh`), which pages and documents show
in zh-CN. A database seeded before holds the records without them; this revision adds them (copied here, as a
migration is a snapshot) where a record has none. Records edited since, or not in the snapshot, are kept.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

PROCESSES: dict[str, str] = {'cnc': '数控铣削（三轴 CNC）',
 'fdm': '熔融沉积成型（FDM/FFF）',
 'metal_pbf': '金属激光粉末床熔融（LPBF / SLM）',
 'mjf': '多射流熔融（MJF）',
 'sla': '光固化成型（SLA / MSLA）',
 'sls': '选择性激光烧结（SLS）'}
MATERIALS: dict[str, str] = {'cnc_al6061': '6061-T6 铝合金',
 'cnc_steel_45': '45 钢（GB/T 699，约 C45 / AISI 1045）',
 'fdm_pa12_cf': 'PA12-CF（碳纤维增强尼龙 12）',
 'metal_316l': '316L 不锈钢',
 'metal_alsi10mg': '铝合金 AlSi10Mg',
 'metal_ti6al4v': '钛合金 Ti6Al4V（5/23 级）',
 'mjf_pa11': 'PA11（MJF，HP 3D 高重复利用率）',
 'mjf_pa12': 'PA12（MJF，HP 3D 高重复利用率）',
 'sla_high_temp': '耐高温树脂',
 'sla_standard': '标准树脂（灰/白）',
 'sla_tough': '韧性树脂（类 ABS）',
 'sls_pa11': 'PA11（SLS，生物基）',
 'sls_pa12': 'PA12（SLS）',
 'sls_tpu': 'TPU（SLS，柔性）'}
FINISHES: dict[str, str] = {'anodising': '阳极氧化（铝，II 型，本色或黑色）',
 'bead_blasting': '喷砂（玻璃或陶瓷介质）',
 'cmm_report': '尺寸检测报告（三坐标或三维扫描）',
 'cnc_finishing': '功能面 CNC 精加工（打印件后加工）',
 'deburring': '去毛刺与倒棱',
 'depowdering': '清粉（取件与喷气清粉）',
 'dyeing_black': '染黑（尼龙）',
 'heat_treatment': '固溶/时效硬化或热等静压（金属，按需）',
 'plate_removal': '从基板上切下零件（线切割或带锯）',
 'sanding_painting': '打磨、底漆与喷漆',
 'stress_relief': '去应力热处理（随基板，氩气炉）',
 'support_removal': '去除支撑与清理',
 'vapour_smoothing': '蒸汽抛光（尼龙、TPU）',
 'wash_cure': 'IPA 清洗与紫外二次固化（SLA）'}
MACHINE_MODELS: dict[str, dict[str, str]] = {'bambu_p1s': {'vendor_zh': '拓竹科技'},
 'bambu_x1c': {'vendor_zh': '拓竹科技'},
 'blt_s310': {'vendor_zh': '铂力特（西安）'},
 'blt_s400': {'vendor_zh': '铂力特（西安）'},
 'creality_k1max': {'vendor_zh': '创想三维（深圳）'},
 'dmgmori_cmx600v': {'vendor_zh': '德马吉森精机 DMG MORI'},
 'farsoon_fs273m': {'vendor_zh': '华曙高科（长沙）'},
 'farsoon_fs421m': {'model_zh': 'FS421M（双激光）', 'vendor_zh': '华曙高科（长沙）'},
 'farsoon_ht1001p': {'vendor_zh': '华曙高科（长沙）'},
 'farsoon_ht403p': {'vendor_zh': '华曙高科（长沙）'},
 'hp_mjf4200': {'vendor_zh': '惠普 HP'},
 'hp_mjf5200': {'vendor_zh': '惠普 HP'},
 'prusa_xl': {'model_zh': 'Original Prusa XL（单喷头）'},
 'uniontech_lite600': {'vendor_zh': '联泰科技（上海）'},
 'uniontech_rspro800': {'vendor_zh': '联泰科技（上海）'},
 'vmc850': {'vendor_zh': '国产 VMC850 级立式加工中心（如宝鸡机床、大连机床）'}}

_SPEC_TABLES = {"processes": PROCESSES, "materials": MATERIALS}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    conn = op.get_bind()
    for name, names in _SPEC_TABLES.items():
        t = sa.table(name, sa.column("id", sa.String), sa.column("spec", sa.JSON))
        for rid, spec in conn.execute(sa.select(t.c.id, t.c.spec)).all():
            doc = dict(_json(spec) or {})
            if rid in names and not doc.get("name_zh"):
                conn.execute(t.update().where(t.c.id == rid).values(spec=doc | {"name_zh": names[rid]}))
    t = sa.table("machine_models", sa.column("id", sa.String), sa.column("spec", sa.JSON))
    for rid, spec in conn.execute(sa.select(t.c.id, t.c.spec)).all():
        doc = dict(_json(spec) or {})
        extra = {k: v for k, v in MACHINE_MODELS.get(rid, {}).items() if not doc.get(k)}
        if extra:
            conn.execute(t.update().where(t.c.id == rid).values(spec=doc | extra))
    d = sa.table("datasets", sa.column("name", sa.String), sa.column("doc", sa.JSON))
    row = conn.execute(sa.select(d.c.doc).where(d.c.name == "finishes")).first()
    if row is not None:
        doc = dict(_json(row[0]) or {})
        for fid, f in doc.items():
            if isinstance(f, dict) and fid in FINISHES and not f.get("name_zh"):
                doc[fid] = f | {"name_zh": FINISHES[fid]}
        conn.execute(d.update().where(d.c.name == "finishes").values(doc=doc))


def downgrade() -> None:
    conn = op.get_bind()
    for name in ("processes", "materials", "machine_models"):
        t = sa.table(name, sa.column("id", sa.String), sa.column("spec", sa.JSON))
        for rid, spec in conn.execute(sa.select(t.c.id, t.c.spec)).all():
            doc = dict(_json(spec) or {})
            kept = {k: v for k, v in doc.items() if k not in ("name_zh", "vendor_zh", "model_zh")}
            if kept != doc:
                conn.execute(t.update().where(t.c.id == rid).values(spec=kept))
    d = sa.table("datasets", sa.column("name", sa.String), sa.column("doc", sa.JSON))
    row = conn.execute(sa.select(d.c.doc).where(d.c.name == "finishes")).first()
    if row is not None:
        doc = {k: ({kk: vv for kk, vv in f.items() if kk != "name_zh"} if isinstance(f, dict) else f)
               for k, f in dict(_json(row[0]) or {}).items()}
        conn.execute(d.update().where(d.c.name == "finishes").values(doc=doc))
