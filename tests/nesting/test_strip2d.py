"""Strip packing by sparrow: every copy placed once, no overlap, spacing kept, inside the strip;
checked here with shapely independently of `strip2d.verify`."""

from __future__ import annotations

import itertools

import pytest
import shapely
from shapely.geometry import Polygon

from fabgrid.nesting.strip2d import LayoutError, Piece, Placement, StripLayout, pack_strip, placed_polygons, verify

L_SHAPE = Polygon([(0, 0), (40, 0), (40, 10), (10, 10), (10, 40), (0, 40)])


def _check(pieces: list[Piece], layout: StripLayout, height: float, spacing: float) -> list[Polygon]:
    polys = placed_polygons(pieces, layout)
    assert len(polys) == sum(p.demand for p in pieces)
    assert sorted(p.piece for p in layout.placements) == sorted(k for k, p in enumerate(pieces)
                                                                  for _ in range(p.demand))
    for pl in layout.placements:
        assert any(abs((pl.angle_deg - a + 180) % 360 - 180) < 1e-6 for a in pieces[pl.piece].angles_deg)
    strip = shapely.box(0, 0, layout.length, height).buffer(-spacing + 1e-6 * height, join_style="mitre")
    for p in polys:
        assert strip.contains(p)
    for a, b in itertools.combinations(polys, 2):
        if spacing > 0:
            assert a.distance(b) >= spacing - 1e-6 * height
        else:
            assert a.intersection(b).area <= 1e-9 * height * height
    assert layout.density == pytest.approx(sum(p.area for p in polys) / (layout.length * height))
    return polys


def test_squares_fill_two_rows() -> None:
    # sparrow needs a little room: a strip of exactly 2 does not take two rows of unit squares
    pieces = [Piece(shapely.box(0, 0, 1, 1), (0.0,), 8)]
    layout = pack_strip(pieces, 2.001, time_limit_s=2.0, workers=1)
    _check(pieces, layout, 2.001, 0.0)
    # the optimum is 4; sparrow's search is bounded by time, so a loaded machine may leave a small gap
    assert 4.0 - 1e-6 <= layout.length <= 4.3


def test_spacing_between_pieces_and_to_the_edges() -> None:
    pieces = [Piece(L_SHAPE, (0.0, 90.0, 180.0, 270.0), 5), Piece(shapely.box(0, 0, 30, 20), (0.0, 90.0), 4)]
    layout = pack_strip(pieces, 100.0, spacing=2.0, time_limit_s=1.0, workers=1)
    polys = _check(pieces, layout, 100.0, 2.0)
    assert min(p.bounds[0] for p in polys) >= 2.0 - 1e-4
    # Ls interlock: better than their bounding boxes side by side (5 x 42 x 42 + 4 x 32 x 22 over 96)
    assert layout.length < (5 * 42 * 42 + 4 * 32 * 22) / 96 + 2


def test_piece_taller_than_the_strip_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        pack_strip([Piece(shapely.box(0, 0, 5, 30), (0.0,), 1)], 20.0, time_limit_s=0.1)
    # rotated it fits; with the spacing to both edges it does not
    pack_strip([Piece(shapely.box(0, 0, 5, 30), (0.0, 90.0), 1)], 20.0, time_limit_s=0.1, workers=1)
    with pytest.raises(ValueError, match="does not fit"):
        pack_strip([Piece(shapely.box(0, 0, 5, 30), (0.0, 90.0), 1)], 20.0, spacing=8.0, time_limit_s=0.1)


def test_verify_rejects_bad_layouts() -> None:
    sq = [Piece(shapely.box(0, 0, 10, 10), (0.0,), 2)]

    def layout(*xy: tuple[float, float], spacing: float = 0.0, angle: float = 0.0) -> StripLayout:
        return StripLayout(placements=tuple(Placement(0, angle, x, y) for x, y in xy), height=12.0,
                           length=30.0, spacing=spacing, area=200.0)

    verify(sq, layout((0, 0), (10, 2)))  # touching is fine
    verify(sq, layout((1, 1), (13, 1), spacing=1.0))
    bad = [layout((0, 0), (9, 2)),  # overlap
           layout((0, 0), (11, 3)),  # over the top edge
           layout((1, 1), (11.5, 1), spacing=1.0),  # gap 0.5 < 1
           layout((0.5, 1), (13, 1), spacing=1.0),  # 0.5 from the start
           layout((0, 0)),  # a copy missing
           layout((0, 0), (15, 0), angle=90.0)]  # angle not allowed
    for lay in bad:
        with pytest.raises(LayoutError):
            verify(sq, lay)


def test_sharp_tips_and_few_small_pieces_keep_the_spacing() -> None:
    # a 15-degree sliver: its mitred halo is clipped, never thinner than half the spacing; two small
    # squares in a tall strip with a wide spacing (sparrow's own separation panics on that one)
    tip = Polygon([(0, 0), (40, 0), (40, 40 * 0.2679)])
    pieces = [Piece(tip, (0.0, 180.0), 4), Piece(shapely.box(0, 0, 10, 10), (0.0,), 2)]
    layout = pack_strip(pieces, 210.0, spacing=5.0, time_limit_s=0.5, workers=1)
    _check(pieces, layout, 210.0, 5.0)
