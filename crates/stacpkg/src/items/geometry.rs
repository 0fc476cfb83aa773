//! GeoJSON geometry → ISO WKB, WKB inspection, and the GeoParquet 1.1 `geo` metadata.
//!
//! Z coordinates are kept (ISO WKB `… Z` types, code + 1000) and GeometryCollection is supported,
//! fixing the original's 2D-only writer (SPEC §3). Positions of a 3D geometry that lack a Z get
//! NaN, the WKB convention for "no value". Positions with more than three numbers are rejected
//! rather than silently cut.
//!
//! See: <https://geoparquet.org/releases/v1.1.0/>

use std::collections::BTreeSet;

use serde_json::json;

use super::value::Json;

const NAMES: [&str; 7] = [
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
    "GeometryCollection",
];

/// What one geometry contributes to the `geo` metadata.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GeomInfo {
    /// GeoParquet geometry type name, `Polygon` or `Polygon Z`.
    pub(crate) type_name: String,
    /// 2D extent; `None` for empty geometries.
    pub(crate) bbox: Option<[f64; 4]>,
}

/// Geometry types and extent of a whole column.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GeoStats {
    types: BTreeSet<String>,
    bbox: Option<[f64; 4]>,
}

impl GeoStats {
    pub(crate) fn add(&mut self, info: &GeomInfo) {
        if !self.types.contains(&info.type_name) {
            self.types.insert(info.type_name.clone());
        }
        if let Some(b) = info.bbox {
            self.bbox = Some(union(self.bbox, b));
        }
    }

    /// Join the statistics of another part of the column.
    pub(crate) fn merge(&mut self, other: &GeoStats) {
        for t in &other.types {
            if !self.types.contains(t) {
                self.types.insert(t.clone());
            }
        }
        if let Some(b) = other.bbox {
            self.bbox = Some(union(self.bbox, b));
        }
    }

    /// The `geo` metadata JSON (compact, sorted keys). Without statistics, `geometry_types` is
    /// empty (GeoParquet's "unknown") and `bbox` is left out. `covering` points at the `bbox`
    /// struct column when the table has one. Without a declared `crs` (PROJJSON) it is left out:
    /// absent means OGC:CRS84, the CRS of GeoJSON, whereas the original's `crs: null` means
    /// "unknown".
    pub(crate) fn metadata_json(
        &self,
        has_bbox_column: bool,
        crs: Option<&serde_json::Value>,
    ) -> String {
        let mut column = json!({
            "encoding": "WKB",
            "geometry_types": self.types.iter().collect::<Vec<_>>(),
        });
        if let Some(crs) = crs {
            column["crs"] = crs.clone();
        }
        if let Some(bbox) = self.bbox {
            column["bbox"] = json!(bbox);
        }
        if has_bbox_column {
            column["covering"] = json!({"bbox": {
                "xmin": ["bbox", "xmin"],
                "ymin": ["bbox", "ymin"],
                "xmax": ["bbox", "xmax"],
                "ymax": ["bbox", "ymax"],
            }});
        }
        json!({
            "columns": {"geometry": column},
            "primary_column": "geometry",
            "version": "1.1.0",
        })
        .to_string()
    }
}

fn union(a: Option<[f64; 4]>, b: [f64; 4]) -> [f64; 4] {
    match a {
        None => b,
        Some(a) => [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ],
    }
}

struct Extent(Option<[f64; 4]>);

impl Extent {
    fn add(&mut self, x: f64, y: f64) {
        if x.is_nan() || y.is_nan() {
            return;
        }
        self.0 = Some(match self.0 {
            None => [x, y, x, y],
            Some(b) => [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)],
        });
    }
}

/// Check a GeoJSON geometry and describe it, without keeping the WKB.
pub(crate) fn inspect(geometry: &Json<'_>) -> Result<GeomInfo, String> {
    let mut scratch = Vec::new();
    encode(geometry, &mut scratch)
}

/// Append the ISO WKB (little endian) of a GeoJSON geometry to `out`.
pub(crate) fn encode(geometry: &Json<'_>, out: &mut Vec<u8>) -> Result<GeomInfo, String> {
    let z = has_z(geometry)?;
    let mut extent = Extent(None);
    let code = write_geometry(geometry, z, out, &mut extent)?;
    let mut type_name = NAMES[code as usize - 1].to_string();
    if z {
        type_name.push_str(" Z");
    }
    Ok(GeomInfo {
        type_name,
        bbox: extent.0,
    })
}

fn kind(geometry: &Json<'_>) -> Result<u32, String> {
    let Some(name) = geometry.get("type").and_then(Json::as_str) else {
        return Err("`geometry` has no `type`".into());
    };
    NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u32 + 1)
        .ok_or_else(|| format!("unsupported GeoJSON geometry type `{name}`"))
}

fn has_z(geometry: &Json<'_>) -> Result<bool, String> {
    if kind(geometry)? == 7 {
        let members = geometry
            .get("geometries")
            .and_then(Json::as_array)
            .ok_or("GeometryCollection has no `geometries` list")?;
        for member in members {
            if has_z(member)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    fn walk(v: &Json<'_>) -> Result<bool, String> {
        match v {
            Json::Array(items) if items.first().is_some_and(Json::is_number) => match items.len() {
                2 => Ok(false),
                3 => Ok(true),
                n => Err(format!(
                    "geometry position has {n} numbers; only 2 (x, y) or 3 (x, y, z) are supported"
                )),
            },
            Json::Array(items) => {
                let mut z = false;
                for item in items {
                    z |= walk(item)?;
                }
                Ok(z)
            }
            _ => Err("geometry `coordinates` must be nested lists of numbers".into()),
        }
    }
    let coordinates = geometry
        .get("coordinates")
        .ok_or("`geometry` has no `coordinates`")?;
    walk(coordinates)
}

fn header(out: &mut Vec<u8>, code: u32, z: bool) {
    out.push(1);
    let code = if z { code + 1000 } else { code };
    out.extend_from_slice(&code.to_le_bytes());
}

fn write_position(
    v: &Json<'_>,
    z: bool,
    out: &mut Vec<u8>,
    extent: &mut Extent,
) -> Result<(), String> {
    let Json::Array(numbers) = v else {
        return Err("geometry position must be a list of numbers".into());
    };
    let mut xyz = [f64::NAN; 3];
    if numbers.len() < 2 || numbers.len() > 3 {
        return Err(format!(
            "geometry position has {} numbers; only 2 (x, y) or 3 (x, y, z) are supported",
            numbers.len()
        ));
    }
    for (slot, n) in xyz.iter_mut().zip(numbers) {
        *slot = n
            .as_f64()
            .ok_or("geometry position holds a value that is not a number")?;
    }
    extent.add(xyz[0], xyz[1]);
    let dims = if z { 3 } else { 2 };
    for value in &xyz[..dims] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    Ok(())
}

fn as_list<'v, 'a>(v: &'v Json<'a>) -> Result<&'v Vec<Json<'a>>, String> {
    v.as_array()
        .ok_or_else(|| "geometry `coordinates` must be nested lists of numbers".to_string())
}

fn write_count(out: &mut Vec<u8>, n: usize) -> Result<(), String> {
    let n = u32::try_from(n).map_err(|_| "geometry has too many parts for WKB".to_string())?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn write_points(
    v: &Json<'_>,
    z: bool,
    out: &mut Vec<u8>,
    extent: &mut Extent,
) -> Result<(), String> {
    let points = as_list(v)?;
    write_count(out, points.len())?;
    for p in points {
        write_position(p, z, out, extent)?;
    }
    Ok(())
}

fn write_rings(
    v: &Json<'_>,
    z: bool,
    out: &mut Vec<u8>,
    extent: &mut Extent,
) -> Result<(), String> {
    let rings = as_list(v)?;
    write_count(out, rings.len())?;
    for ring in rings {
        write_points(ring, z, out, extent)?;
    }
    Ok(())
}

fn write_body(
    code: u32,
    coordinates: &Json<'_>,
    z: bool,
    out: &mut Vec<u8>,
    extent: &mut Extent,
) -> Result<(), String> {
    match code {
        1 => {
            if as_list(coordinates)?.is_empty() {
                // POINT EMPTY is NaN coordinates in WKB.
                let dims = if z { 3 } else { 2 };
                for _ in 0..dims {
                    out.extend_from_slice(&f64::NAN.to_le_bytes());
                }
                Ok(())
            } else {
                write_position(coordinates, z, out, extent)
            }
        }
        2 => write_points(coordinates, z, out, extent),
        3 => write_rings(coordinates, z, out, extent),
        4..=6 => {
            let parts = as_list(coordinates)?;
            write_count(out, parts.len())?;
            for part in parts {
                header(out, code - 3, z);
                write_body(code - 3, part, z, out, extent)?;
            }
            Ok(())
        }
        _ => unreachable!("collections are written by write_geometry"),
    }
}

fn write_geometry(
    geometry: &Json<'_>,
    z: bool,
    out: &mut Vec<u8>,
    extent: &mut Extent,
) -> Result<u32, String> {
    let code = kind(geometry)?;
    header(out, code, z);
    if code == 7 {
        let members = geometry
            .get("geometries")
            .and_then(Json::as_array)
            .ok_or("GeometryCollection has no `geometries` list")?;
        write_count(out, members.len())?;
        for member in members {
            write_geometry(member, z, out, extent)?;
        }
    } else {
        let coordinates = geometry
            .get("coordinates")
            .ok_or("`geometry` has no `coordinates`")?;
        write_body(code, coordinates, z, out, extent)?;
    }
    Ok(code)
}

/// Describe a WKB value (ISO or EWKB flags, either byte order), for `geo` statistics of tables
/// that did not come from GeoJSON.
pub(crate) fn inspect_wkb(wkb: &[u8]) -> Result<GeomInfo, String> {
    let mut reader = WkbReader { bytes: wkb, pos: 0 };
    let mut extent = Extent(None);
    let (code, z) = reader.geometry(&mut extent, 0)?;
    let mut type_name = NAMES[code as usize - 1].to_string();
    if z {
        type_name.push_str(" Z");
    }
    Ok(GeomInfo {
        type_name,
        bbox: extent.0,
    })
}

struct WkbReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl WkbReader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.pos + N;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or("WKB value is truncated")?;
        self.pos = end;
        Ok(slice.try_into().expect("slice has length N"))
    }

    fn u32(&mut self, le: bool) -> Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, le: bool) -> Result<f64, String> {
        let b = self.take::<8>()?;
        Ok(if le {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    fn geometry(&mut self, extent: &mut Extent, depth: usize) -> Result<(u32, bool), String> {
        if depth > 64 {
            return Err("WKB value nests too deeply".into());
        }
        let le = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            other => return Err(format!("WKB value has unknown byte order {other}")),
        };
        let raw = self.u32(le)?;
        let ewkb_z = raw & 0x8000_0000 != 0;
        let ewkb_m = raw & 0x4000_0000 != 0;
        if raw & 0x2000_0000 != 0 {
            self.u32(le)?; // EWKB SRID
        }
        let iso = raw & 0x0fff_ffff;
        let (code, z, m) = (
            iso % 1000,
            ewkb_z || matches!(iso / 1000, 1 | 3),
            ewkb_m || matches!(iso / 1000, 2 | 3),
        );
        if !(1..=7).contains(&code) {
            return Err(format!("WKB value has unknown geometry type {raw}"));
        }
        let dims = 2 + usize::from(z) + usize::from(m);
        let mut point = |r: &mut Self| -> Result<(), String> {
            let x = r.f64(le)?;
            let y = r.f64(le)?;
            for _ in 2..dims {
                r.f64(le)?;
            }
            extent.add(x, y);
            Ok(())
        };
        match code {
            1 => point(self)?,
            2 => {
                for _ in 0..self.u32(le)? {
                    point(self)?;
                }
            }
            3 => {
                for _ in 0..self.u32(le)? {
                    for _ in 0..self.u32(le)? {
                        point(self)?;
                    }
                }
            }
            _ => {
                for _ in 0..self.u32(le)? {
                    self.geometry(extent, depth + 1)?;
                }
            }
        }
        Ok((code, z))
    }
}

/// Append the GeoJSON of a WKB geometry (ISO or EWKB flags, either byte order) to `out`.
///
/// Z is kept as a third number; a NaN z (a position that had none, in a 3D geometry) is left
/// out, and a point of NaN x and y is the empty point `[]`, as [`encode`] writes them. M values
/// have no place in GeoJSON and are an error rather than silently dropped.
pub(crate) fn write_geojson(wkb: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut reader = WkbReader { bytes: wkb, pos: 0 };
    reader.geojson(out, 0)
}

fn write_number(value: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !value.is_finite() {
        return Err(format!("geometry coordinate {value} has no JSON form"));
    }
    out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    Ok(())
}

impl WkbReader<'_> {
    /// Byte order, type code (1–7) and whether positions carry z, of the next geometry.
    fn header(&mut self) -> Result<(bool, u32, bool), String> {
        let le = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            other => return Err(format!("WKB value has unknown byte order {other}")),
        };
        let raw = self.u32(le)?;
        if raw & 0x2000_0000 != 0 {
            self.u32(le)?; // EWKB SRID
        }
        let iso = raw & 0x0fff_ffff;
        let z = raw & 0x8000_0000 != 0 || matches!(iso / 1000, 1 | 3);
        let m = raw & 0x4000_0000 != 0 || matches!(iso / 1000, 2 | 3);
        let code = iso % 1000;
        if !(1..=7).contains(&code) {
            return Err(format!("WKB value has unknown geometry type {raw}"));
        }
        if m {
            return Err("geometry has M values, which GeoJSON cannot hold".into());
        }
        Ok((le, code, z))
    }

    fn position(&mut self, le: bool, z: bool, out: &mut Vec<u8>) -> Result<(), String> {
        let x = self.f64(le)?;
        let y = self.f64(le)?;
        let z = if z { Some(self.f64(le)?) } else { None };
        out.push(b'[');
        write_number(x, out)?;
        out.push(b',');
        write_number(y, out)?;
        if let Some(z) = z.filter(|z| !z.is_nan()) {
            out.push(b',');
            write_number(z, out)?;
        }
        out.push(b']');
        Ok(())
    }

    fn positions(&mut self, le: bool, z: bool, out: &mut Vec<u8>) -> Result<(), String> {
        out.push(b'[');
        for n in 0..self.u32(le)? {
            if n > 0 {
                out.push(b',');
            }
            self.position(le, z, out)?;
        }
        out.push(b']');
        Ok(())
    }

    fn rings(&mut self, le: bool, z: bool, out: &mut Vec<u8>) -> Result<(), String> {
        out.push(b'[');
        for n in 0..self.u32(le)? {
            if n > 0 {
                out.push(b',');
            }
            self.positions(le, z, out)?;
        }
        out.push(b']');
        Ok(())
    }

    /// The coordinates of a member of a Multi* geometry, whose own header is checked.
    fn member(&mut self, expected: u32, out: &mut Vec<u8>) -> Result<(), String> {
        let (le, code, z) = self.header()?;
        if code != expected {
            return Err(format!(
                "a {} holds a {}",
                NAMES[expected as usize + 2],
                NAMES[code as usize - 1]
            ));
        }
        match code {
            1 => self.point(le, z, out),
            2 => self.positions(le, z, out),
            _ => self.rings(le, z, out),
        }
    }

    fn point(&mut self, le: bool, z: bool, out: &mut Vec<u8>) -> Result<(), String> {
        let start = self.pos;
        let x = self.f64(le)?;
        let y = self.f64(le)?;
        if x.is_nan() && y.is_nan() {
            if z {
                self.f64(le)?;
            }
            out.extend_from_slice(b"[]");
            return Ok(());
        }
        self.pos = start;
        self.position(le, z, out)
    }

    fn geojson(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
        if depth > 64 {
            return Err("WKB value nests too deeply".into());
        }
        let (le, code, z) = self.header()?;
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(NAMES[code as usize - 1].as_bytes());
        if code == 7 {
            out.extend_from_slice(b"\",\"geometries\":[");
            for n in 0..self.u32(le)? {
                if n > 0 {
                    out.push(b',');
                }
                self.geojson(out, depth + 1)?;
            }
            out.extend_from_slice(b"]}");
            return Ok(());
        }
        out.extend_from_slice(b"\",\"coordinates\":");
        match code {
            1 => self.point(le, z, out)?,
            2 => self.positions(le, z, out)?,
            3 => self.rings(le, z, out)?,
            _ => {
                out.push(b'[');
                for n in 0..self.u32(le)? {
                    if n > 0 {
                        out.push(b',');
                    }
                    self.member(code - 3, out)?;
                }
                out.push(b']');
            }
        }
        out.push(b'}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::value::from_value;

    #[test]
    fn polygon_round_trips_through_wkb_with_type_and_extent() {
        let polygon = from_value(
            json!({"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 3], [0, 0]]]}),
        );
        let mut wkb = Vec::new();
        let info = encode(&polygon, &mut wkb).unwrap();
        assert_eq!(info.type_name, "Polygon");
        assert_eq!(info.bbox, Some([0.0, 0.0, 2.0, 3.0]));
        assert_eq!(&wkb[..5], &[1, 3, 0, 0, 0]);
        assert_eq!(inspect_wkb(&wkb).unwrap(), info);
    }

    #[test]
    fn z_coordinates_are_kept_with_iso_z_codes() {
        let point = from_value(json!({"type": "Point", "coordinates": [1.0, 2.0, 3.5]}));
        let mut wkb = Vec::new();
        let info = encode(&point, &mut wkb).unwrap();
        assert_eq!(info.type_name, "Point Z");
        assert_eq!(u32::from_le_bytes(wkb[1..5].try_into().unwrap()), 1001);
        assert_eq!(f64::from_le_bytes(wkb[21..29].try_into().unwrap()), 3.5);
    }

    #[test]
    fn geometry_collection_is_supported() {
        let gc = from_value(json!({"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [1, 1]},
            {"type": "LineString", "coordinates": [[0, 0], [5, 5]]}
        ]}));
        let mut wkb = Vec::new();
        let info = encode(&gc, &mut wkb).unwrap();
        assert_eq!(info.type_name, "GeometryCollection");
        assert_eq!(info.bbox, Some([0.0, 0.0, 5.0, 5.0]));
        assert_eq!(inspect_wkb(&wkb).unwrap(), info);
    }

    #[test]
    fn unknown_types_and_four_number_positions_are_errors() {
        assert!(
            inspect(&from_value(
                json!({"type": "Circle", "coordinates": [0, 0]})
            ))
            .is_err()
        );
        assert!(
            inspect(&from_value(
                json!({"type": "Point", "coordinates": [0, 0, 0, 0]})
            ))
            .is_err()
        );
    }

    #[test]
    fn geo_metadata_is_geoparquet_1_1_without_null_crs() {
        let mut stats = GeoStats::default();
        stats.add(&GeomInfo {
            type_name: "Polygon".into(),
            bbox: Some([1.0, 2.0, 3.0, 4.0]),
        });
        let geo: serde_json::Value =
            serde_json::from_str(&stats.metadata_json(true, None)).unwrap();
        assert_eq!(geo["version"], "1.1.0");
        let column = &geo["columns"]["geometry"];
        assert_eq!(column["geometry_types"], json!(["Polygon"]));
        assert_eq!(column["bbox"], json!([1.0, 2.0, 3.0, 4.0]));
        assert_eq!(column["covering"]["bbox"]["xmin"], json!(["bbox", "xmin"]));
        assert!(column.get("crs").is_none());
    }
}
