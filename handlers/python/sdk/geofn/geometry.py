"""Geometries as PostGIS hands them over: EWKB. Points are decoded into
`Point`; any other geometry stays `Geometry` (its EWKB), which can be sent
back as a parameter or passed to SQL functions such as `ST_AsGeoJSON`."""

import struct

WGS84 = 4326
_POINT = 1
_SRID_FLAG = 0x20000000
_Z_FLAG = 0x80000000
_M_FLAG = 0x40000000


class Geometry:
    """Any geometry, as EWKB bytes."""

    __slots__ = ("ewkb",)

    def __init__(self, ewkb):
        self.ewkb = bytes(ewkb)

    def __repr__(self):
        return f"Geometry({len(self.ewkb)} bytes of EWKB)"


class Point:
    """A 2D point in `srid` (WGS 84 longitude/latitude by default)."""

    __slots__ = ("x", "y", "srid")

    def __init__(self, x, y, srid=WGS84):
        self.x, self.y, self.srid = float(x), float(y), srid

    @property
    def longitude(self):
        return self.x

    @property
    def latitude(self):
        return self.y

    def ewkb(self):
        return struct.pack("<BIIdd", 1, _POINT | _SRID_FLAG, self.srid, self.x, self.y)

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y, self.srid) == (other.x, other.y, other.srid)

    def __repr__(self):
        return f"Point({self.x}, {self.y}, srid={self.srid})"


def from_ewkb(data):
    """A `Point` for a 2D point, a `Geometry` for anything else."""
    if len(data) >= 5:
        order = "<" if data[0] == 1 else ">"
        (kind,) = struct.unpack_from(order + "I", data, 1)
        if kind & 0xFFFF == _POINT and not kind & (_Z_FLAG | _M_FLAG):
            if kind & _SRID_FLAG and len(data) == 25:
                srid, x, y = struct.unpack_from(order + "Idd", data, 5)
                return Point(x, y, srid)
            if not kind & _SRID_FLAG and len(data) == 21:
                x, y = struct.unpack_from(order + "dd", data, 5)
                return Point(x, y, 0)
    return Geometry(data)
