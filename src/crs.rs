//! Coordinate reference systems: parse what files and users say, check it against the
//! coordinates, and move between the input CRS and the metric working frame (via `proj`).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use geo::{Coord, Rect};
use proj::Proj;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::offset::OffsetCrs;

/// A coordinate reference system as named by a file or a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CrsSpec {
    /// An EPSG code, e.g. 4547 (CGCS2000 / 3-degree Gauss–Kruger CM 114E).
    Epsg(u32),
    /// OGC CRS84: WGS84 longitude, latitude (the GeoJSON default).
    Crs84,
    /// Any other definition PROJ understands (WKT, PROJ string, `AUTHORITY:CODE`).
    Definition(String),
    /// Longitude, latitude in a Chinese offset system (GCJ-02 of Amap/Tencent, BD-09 of Baidu):
    /// WGS84 shifted by the public algorithm (see [`crate::offset`]).
    Offset(OffsetCrs),
}

impl CrsSpec {
    /// Parses `EPSG:4547`, `4547`, `urn:ogc:def:crs:EPSG::4547`, `OGC:CRS84`, `CRS84`, `WGS84`,
    /// or keeps the text as a PROJ definition.
    pub fn parse(text: &str) -> CrsSpec {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        if lower.ends_with("crs84") || lower == "wgs84" || lower == "wgs 84" {
            return CrsSpec::Crs84;
        }
        if let Some(o) = OffsetCrs::parse(t) {
            return CrsSpec::Offset(o);
        }
        if let Ok(code) = t.parse::<u32>() {
            return CrsSpec::Epsg(code);
        }
        for prefix in ["epsg:", "urn:ogc:def:crs:epsg:", "http://www.opengis.net/def/crs/epsg/0/"] {
            if let Some(rest) = lower.strip_prefix(prefix) {
                // urn:ogc:def:crs:EPSG::4547 and urn:ogc:def:crs:EPSG:6.6:4547 both end in the code.
                let code = rest.rsplit(':').next().unwrap_or(rest);
                if let Ok(code) = code.parse::<u32>() {
                    return CrsSpec::Epsg(code);
                }
            }
        }
        CrsSpec::Definition(t.to_string())
    }

    /// Reads the legacy GeoJSON `crs` member (`{"type":"name","properties":{"name":...}}` or
    /// `{"type":"EPSG","properties":{"code":...}}`).
    pub fn from_geojson_member(member: &Value, path: &str) -> Result<CrsSpec> {
        let props = member.get("properties");
        let kind = member.get("type").and_then(Value::as_str).unwrap_or("");
        let found = match kind.to_ascii_lowercase().as_str() {
            "name" => props.and_then(|p| p.get("name")).and_then(Value::as_str).map(CrsSpec::parse),
            "epsg" => props
                .and_then(|p| p.get("code"))
                .and_then(|c| c.as_u64().or_else(|| c.as_str().and_then(|s| s.parse().ok())))
                .map(|c| CrsSpec::Epsg(c as u32)),
            _ => None,
        };
        found.ok_or_else(|| Error::Crs {
            path: path.into(),
            crs: member.to_string(),
            message: "the 'crs' member is neither {\"type\":\"name\"} nor {\"type\":\"EPSG\"}; use --crs".into(),
        })
    }

    /// The legacy GeoJSON `crs` member naming this CRS, or None for lon/lat (RFC 7946 default).
    pub fn geojson_member(&self) -> Option<Value> {
        let name = match self {
            CrsSpec::Crs84 | CrsSpec::Epsg(4326) => return None,
            CrsSpec::Epsg(code) => format!("urn:ogc:def:crs:EPSG::{code}"),
            CrsSpec::Offset(o) => o.name().to_ascii_lowercase().replace('-', ""),
            CrsSpec::Definition(d) => d.clone(),
        };
        Some(json!({"type": "name", "properties": {"name": name}}))
    }

    /// The definition handed to PROJ.
    pub fn proj_definition(&self) -> String {
        match self {
            CrsSpec::Epsg(code) => format!("EPSG:{code}"),
            CrsSpec::Crs84 | CrsSpec::Offset(_) => "OGC:CRS84".into(),
            CrsSpec::Definition(d) => d.clone(),
        }
    }

    /// The offset system, for GCJ-02 and BD-09.
    pub fn offset(&self) -> Option<OffsetCrs> {
        match self {
            CrsSpec::Offset(o) => Some(*o),
            _ => None,
        }
    }

    /// True for CRS84 and EPSG:4326, whose GeoJSON coordinates are lon, lat.
    pub fn is_wgs84_lonlat(&self) -> bool {
        matches!(self, CrsSpec::Crs84 | CrsSpec::Epsg(4326))
    }

    /// True for lon/lat systems that need no PROJ lookup (WGS84 and the offset systems).
    pub fn is_lonlat_shortcut(&self) -> bool {
        self.is_wgs84_lonlat() || self.offset().is_some()
    }
}

impl std::fmt::Display for CrsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrsSpec::Epsg(code) => write!(f, "EPSG:{code}"),
            CrsSpec::Crs84 => write!(f, "OGC:CRS84"),
            CrsSpec::Offset(o) => write!(f, "{}", o.name()),
            CrsSpec::Definition(d) => {
                let short: String = d.chars().take(60).collect();
                write!(f, "{short}")
            }
        }
    }
}

/// What kind of coordinates a CRS has.
#[derive(Debug, Clone, PartialEq)]
pub enum CrsKind {
    /// Longitude and latitude in degrees.
    Geographic,
    /// Easting and northing in a linear unit of `metres_per_unit` metres.
    Projected {
        /// Length of one unit in metres (1 for metre-based CRSs).
        metres_per_unit: f64,
    },
}

/// Switches PROJ's own logging off, once, before any PROJ object is made: PROJ would print its
/// parse errors ("proj_create: missing ]") on stderr, where wangge reports them in its own
/// messages instead. Contexts created later copy the default context's level.
pub fn quiet_proj() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: a null context means PROJ's default context; setting its log level has no other effect.
    ONCE.call_once(|| unsafe {
        proj_sys::proj_log_level(std::ptr::null_mut(), proj_sys::PJ_LOG_LEVEL_PJ_LOG_NONE);
    });
}

/// Asks PROJ what kind of CRS `spec` is.
pub fn classify(spec: &CrsSpec, path: &str) -> Result<CrsKind> {
    quiet_proj();
    if spec.is_lonlat_shortcut() {
        return Ok(CrsKind::Geographic);
    }
    let crs_err = |message: String| Error::Crs { path: path.into(), crs: spec.to_string(), message };
    let proj = Proj::new(&spec.proj_definition())
        .map_err(|e| crs_err(format!("PROJ does not know it ({e})")))?;
    let text = proj
        .to_projjson(Some(false), None, None)
        .map_err(|e| crs_err(format!("PROJ cannot describe it ({e})")))?;
    let json: Value = serde_json::from_str(&text).map_err(|e| crs_err(e.to_string()))?;
    let mut node = &json;
    // A compound CRS (horizontal + vertical): look at its horizontal part.
    if node.get("type").and_then(Value::as_str) == Some("CompoundCRS") {
        if let Some(first) = node.get("components").and_then(|c| c.get(0)) {
            node = first;
        }
    }
    // A bound CRS (with +towgs84): look at its source.
    if node.get("type").and_then(Value::as_str) == Some("BoundCRS") {
        if let Some(src) = node.get("source_crs") {
            node = src;
        }
    }
    match node.get("type").and_then(Value::as_str).unwrap_or("") {
        "GeographicCRS" | "GeodeticCRS" => Ok(CrsKind::Geographic),
        "ProjectedCRS" => {
            let unit = node.pointer("/coordinate_system/axis/0/unit");
            let metres_per_unit = match unit {
                None => 1.0,
                Some(Value::String(s)) if s == "metre" || s == "meter" => 1.0,
                Some(Value::String(s)) => return Err(crs_err(format!("unsupported unit '{s}'"))),
                Some(obj) => obj.get("conversion_factor").and_then(Value::as_f64).unwrap_or(1.0),
            };
            Ok(CrsKind::Projected { metres_per_unit })
        }
        other => Err(crs_err(format!("a {other} is not a horizontal coordinate system"))),
    }
}

/// Checks that coordinates with bounding box `bounds` are plausible in a CRS of `kind`:
/// lon/lat must lie within ±180/±90, and metres must not look like degrees.
pub fn check_plausible(kind: &CrsKind, spec: &CrsSpec, bounds: Rect<f64>, path: &str) -> Result<()> {
    let (min, max) = (bounds.min(), bounds.max());
    let looks_like_degrees =
        min.x >= -180.0 && max.x <= 180.0 && min.y >= -90.0 && max.y <= 90.0;
    match kind {
        CrsKind::Geographic if !looks_like_degrees => Err(Error::Crs {
            path: path.into(),
            crs: spec.to_string(),
            message: format!(
                "coordinates span x {:.1}..{:.1}, y {:.1}..{:.1}, which are not longitudes and latitudes; \
                 they look like metres: name the projected CRS with --crs (e.g. EPSG:4547)",
                min.x, max.x, min.y, max.y
            ),
        }),
        CrsKind::Projected { .. } if looks_like_degrees && bounds.width() < 2.0 && bounds.height() < 2.0 => {
            Err(Error::Crs {
                path: path.into(),
                crs: spec.to_string(),
                message: format!(
                    "coordinates span only x {:.6}..{:.6}, y {:.6}..{:.6}: they look like longitudes and \
                     latitudes, not metres; pass --crs EPSG:4326 (or fix the file's crs member)",
                    min.x, max.x, min.y, max.y
                ),
            })
        }
        CrsKind::Projected { .. } => check_area_of_use(spec, bounds, path),
        _ => Ok(()),
    }
}

/// How far (degrees) data may lie beyond its projected CRS's area of use: zones are often used
/// a little past their edge, but not by this much.
const AREA_OF_USE_MARGIN_DEG: f64 = 10.0;

/// Runs `f` on a PROJ context and the object PROJ creates from `definition`, then destroys
/// both. `None` when the context or the object cannot be created (an unknown definition).
fn with_proj_object<T>(definition: &str, f: impl FnOnce(*mut proj_sys::PJ_CONTEXT, *mut proj_sys::PJ) -> T) -> Option<T> {
    use proj_sys::*;
    let def = std::ffi::CString::new(definition).ok()?;
    quiet_proj();
    // SAFETY: the context and the object are checked for null before use and destroyed before
    // returning; `f` receives them only while they live and must not keep them.
    unsafe {
        let ctx = proj_context_create();
        if ctx.is_null() {
            return None;
        }
        let obj = proj_create(ctx, def.as_ptr());
        let out = if obj.is_null() {
            None
        } else {
            let out = f(ctx, obj);
            proj_destroy(obj);
            Some(out)
        };
        proj_context_destroy(ctx);
        out
    }
}

/// The area of use PROJ records for a CRS: west, south, east, north (degrees) and its name.
fn area_of_use(definition: &str) -> Option<(f64, f64, f64, f64, String)> {
    with_proj_object(definition, |ctx, crs| {
        let (mut w, mut s, mut e, mut n) = (0.0, 0.0, 0.0, 0.0);
        let mut name: *const std::os::raw::c_char = std::ptr::null();
        // SAFETY: `ctx` and `crs` are live (with_proj_object); the name returned by PROJ is
        // copied while `crs`, its owner, lives.
        unsafe {
            if proj_sys::proj_get_area_of_use(ctx, crs, &mut w, &mut s, &mut e, &mut n, &mut name) == 0 || w <= -1000.0 {
                return None;
            }
            let name = if name.is_null() { String::new() } else { std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned() };
            Some((w, s, e, n, name))
        }
    })
    .flatten()
}

/// Refuses projected coordinates that fall far outside the area where their CRS is used (a
/// zone number written before the easting, another zone's or another country's system), or
/// that PROJ cannot place on the earth at all.
fn check_area_of_use(spec: &CrsSpec, bounds: Rect<f64>, path: &str) -> Result<()> {
    let definition = spec.proj_definition();
    let Some((w, s, e, n, area)) = area_of_use(&definition) else { return Ok(()) };
    let crs_err = |message: String| Error::Crs { path: path.into(), crs: spec.to_string(), message };
    let centre = bounds.center();
    let lonlat = cached_proj(&definition, "OGC:CRS84").ok().and_then(|p| p.convert((centre.x, centre.y)).ok()).filter(|(x, y): &(f64, f64)| x.is_finite() && y.is_finite());
    let span = format!("coordinates around ({}, {})", crate::text::number(centre.x), crate::text::number(centre.y));
    let Some((lon, lat)) = lonlat else {
        return Err(crs_err(format!("{span} cannot be placed on the earth in this system: a zone number written before the easting, or another coordinate system? name it with --crs")));
    };
    // An area crossing the antimeridian has east < west.
    let east = if e < w { e + 360.0 } else { e };
    let lon_in = |l: f64| l >= w - AREA_OF_USE_MARGIN_DEG && l <= east + AREA_OF_USE_MARGIN_DEG;
    let inside = (lon_in(lon) || lon_in(lon + 360.0)) && lat >= s - AREA_OF_USE_MARGIN_DEG && lat <= n + AREA_OF_USE_MARGIN_DEG;
    if inside {
        return Ok(());
    }
    Err(crs_err(format!(
        "{span} fall at longitude {lon:.2}, latitude {lat:.2}, far outside the area where this system is used ({area}: longitude {w:.1}..{e:.1}, latitude {s:.1}..{n:.1}): \
         a zone number written before the easting, or another coordinate system? name it with --crs"
    )))
}

/// Features per parallel job when each job creates its own PROJ converter (creating one takes
/// milliseconds: a database lookup).
pub const PROJ_JOB_LEN: usize = 4096;

/// The metric working frame: coordinates in metres, relative to `origin`, so that numbers stay
/// small and precise. Converts to and from the input CRS.
#[derive(Debug, Clone)]
pub struct WorkFrame {
    /// The CRS of the input (and of every output).
    pub source: CrsSpec,
    /// PROJ definition of the metric CRS used for work, when it differs from the source.
    pub work_crs: Option<String>,
    /// Scale from source units to metres when the source is projected (no PROJ needed).
    pub metres_per_unit: f64,
    /// Origin subtracted after projection, in work-CRS metres.
    pub origin: Coord<f64>,
}

impl WorkFrame {
    /// Builds the frame for data in `source` with bounding box `bounds` (source units):
    /// metre-based projected CRSs are used as they are; geographic ones go to their UTM zone.
    pub fn new(source: CrsSpec, kind: &CrsKind, bounds: Rect<f64>, path: &str) -> Result<WorkFrame> {
        WorkFrame::make(source, kind, bounds, path, true)
    }

    /// Like [`WorkFrame::new`], but a metre-based projected CRS is kept as it is (areas are then
    /// measured in the layer's own projection; used by the audit).
    pub fn native(source: CrsSpec, kind: &CrsKind, bounds: Rect<f64>, path: &str) -> Result<WorkFrame> {
        WorkFrame::make(source, kind, bounds, path, false)
    }

    fn make(source: CrsSpec, kind: &CrsKind, bounds: Rect<f64>, path: &str, canonical: bool) -> Result<WorkFrame> {
        let centre = bounds.center();
        match kind {
            CrsKind::Projected { metres_per_unit } if !canonical => Ok(WorkFrame {
                source,
                work_crs: None,
                metres_per_unit: *metres_per_unit,
                origin: Coord { x: centre.x * metres_per_unit, y: centre.y * metres_per_unit },
            }),
            CrsKind::Projected { metres_per_unit } => {
                // Work in the UTM zone of the data whenever PROJ can place it on the globe, so the
                // same buildings give the same grids whatever CRS they come in.
                let lonlat = cached_proj(&source.proj_definition(), "OGC:CRS84").ok().and_then(|p| p.convert((centre.x, centre.y)).ok());
                match lonlat {
                    Some((lon, lat)) if lon.is_finite() && lat.is_finite() && lat.abs() < 84.0 => {
                        WorkFrame::utm(source, Coord { x: lon, y: lat }, centre, path)
                    }
                    _ => Ok(WorkFrame {
                        source,
                        work_crs: None,
                        metres_per_unit: *metres_per_unit,
                        origin: Coord { x: centre.x * metres_per_unit, y: centre.y * metres_per_unit },
                    }),
                }
            }
            CrsKind::Geographic => WorkFrame::utm(source, centre, centre, path),
        }
    }

    /// A frame in the UTM zone of `lonlat`, with its origin at `centre` (source units).
    fn utm(source: CrsSpec, lonlat: Coord<f64>, centre: Coord<f64>, path: &str) -> Result<WorkFrame> {
        // A transverse Mercator with scale 1 on a meridian within 0.25° of the data (distances
        // true to about 1e-5 over a district), on WGS84.
        let lon_0 = (lonlat.x * 2.0).round() / 2.0;
        let work = format!("+proj=tmerc +lat_0=0 +lon_0={lon_0} +k=1 +x_0=500000 +y_0=0 +datum=WGS84 +units=m +no_defs +type=crs");
        let mut frame = WorkFrame { source, work_crs: Some(work), metres_per_unit: 1.0, origin: Coord { x: 0.0, y: 0.0 } };
        // The origin: the central meridian at the nearest whole degree of latitude, rounded to a
        // kilometre; it depends on the place only, not on the input CRS, so the same buildings get
        // the same working coordinates from any CRS.
        let ll = cached_proj("OGC:CRS84", frame.work_crs.as_deref().unwrap_or_default())
            .map_err(|m| Error::Crs { path: path.into(), crs: frame.source.to_string(), message: m })?;
        let (x, y) = ll.convert((lon_0, lonlat.y.round())).map_err(|e| Error::Crs { path: path.into(), crs: frame.source.to_string(), message: e.to_string() })?;
        frame.origin = Coord { x: (x / 1000.0).round() * 1000.0, y: (y / 1000.0).round() * 1000.0 };
        let _ = centre;
        Ok(frame)
    }



    /// Name of the working CRS, for reports.
    pub fn work_crs_name(&self) -> String {
        match &self.work_crs {
            Some(w) if w.starts_with("+proj=tmerc") => {
                let lon = w.split_whitespace().find_map(|t| t.strip_prefix("+lon_0=")).unwrap_or("?");
                format!("local transverse Mercator (WGS84, central meridian {lon}°, scale 1)")
            }
            Some(w) => w.clone(),
            None => self.source.to_string(),
        }
    }

    /// A converter for this frame. PROJ objects are not thread-safe: make one per thread.
    pub fn projector(&self, path: &str) -> Result<Projector> {
        let (forward, inverse_spec) = match &self.work_crs {
            None => (None, None),
            Some(work) => (Some(self.transform(&self.source, work, path)?), Some((CrsSpec::parse(work).proj_definition(), self.source.proj_definition()))),
        };
        Ok(Projector { forward, inverse_spec, inverse: std::cell::OnceCell::new(), scale: self.metres_per_unit, origin: self.origin, offset: self.source.offset() })
    }

    /// A converter from working metres to WGS84 longitude, latitude (for CRS-independent keys).
    pub fn lonlat_projector(&self, path: &str) -> Result<LonLat> {
        let from = self.work_crs.clone().unwrap_or_else(|| self.source.proj_definition());
        let proj = if self.work_crs.is_none() && self.source.is_lonlat_shortcut() { None } else { Some(self.transform(&CrsSpec::parse(&from), "OGC:CRS84", path)?) };
        Ok(LonLat { proj, scale: self.metres_per_unit, origin: self.origin })
    }

    /// A one-way converter from another layer's CRS `spec` into this frame.
    pub fn projector_from(&self, spec: &CrsSpec, path: &str) -> Result<Projector> {
        let same = spec == &self.source || (spec.is_wgs84_lonlat() && self.source.is_wgs84_lonlat());
        if same {
            return self.projector(path);
        }
        let base = self.work_crs.clone().unwrap_or_else(|| self.source.proj_definition());
        Ok(Projector {
            forward: Some(self.transform(spec, &base, path)?),
            inverse_spec: None,
            inverse: std::cell::OnceCell::new(),
            scale: self.metres_per_unit,
            origin: self.origin,
            offset: spec.offset(),
        })
    }

    fn transform(&self, from: &CrsSpec, to: &str, path: &str) -> Result<PooledProj> {
        cached_proj(&from.proj_definition(), to).map_err(|e| Error::Crs {
            path: path.into(),
            crs: from.to_string(),
            message: format!("PROJ cannot transform it to {to}: {e}"),
        })
    }
}

/// A PROJ transformation with its own PROJ context. PROJ allows such an object to be used from
/// any thread, one thread at a time; owning it gives exactly that.
struct OwnedProj(Proj);

// SAFETY: the `Proj` owns its PJ and its PJ_CONTEXT (made by `Proj::new_known_crs`) and nothing
// else refers to them; an `OwnedProj` is only reached through `&`/`&mut` of its one owner
// (a `PooledProj`, or the pool behind a mutex), so no two threads use them at once.
unsafe impl Send for OwnedProj {}

/// Transformations by (from, to) not in use: creating one searches PROJ's database (up to a few
/// hundred milliseconds for a datum change), using one is fast. Created once per process and
/// per concurrent user, then handed from job to job.
fn proj_pool() -> &'static Mutex<HashMap<(String, String), Vec<OwnedProj>>> {
    static POOL: OnceLock<Mutex<HashMap<(String, String), Vec<OwnedProj>>>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A transformation taken from the pool, given back when dropped.
pub struct PooledProj {
    key: (String, String),
    proj: Option<OwnedProj>,
}

impl std::ops::Deref for PooledProj {
    type Target = Proj;
    fn deref(&self) -> &Proj {
        &self.proj.as_ref().expect("present until dropped").0
    }
}

impl Drop for PooledProj {
    fn drop(&mut self) {
        if let Some(p) = self.proj.take() {
            let mut pool = proj_pool().lock().unwrap_or_else(|e| e.into_inner());
            pool.entry(std::mem::take(&mut self.key)).or_default().push(p);
        }
    }
}

/// The transformation `from` → `to` (normalised to x = easting/longitude), from the pool.
fn cached_proj(from: &str, to: &str) -> std::result::Result<PooledProj, String> {
    quiet_proj();
    let key = (from.to_string(), to.to_string());
    let pooled = proj_pool().lock().unwrap_or_else(|e| e.into_inner()).get_mut(&key).and_then(|v| v.pop());
    let proj = match pooled {
        Some(p) => p,
        None => OwnedProj(Proj::new_known_crs(from, to, None).map_err(|e| e.to_string())?),
    };
    Ok(PooledProj { key, proj: Some(proj) })
}

/// Converts working metres to WGS84 longitude, latitude.
pub struct LonLat {
    proj: Option<PooledProj>,
    scale: f64,
    origin: Coord<f64>,
}

impl LonLat {
    /// Working metres → (lon, lat).
    pub fn to_lonlat(&self, c: Coord<f64>) -> std::result::Result<Coord<f64>, String> {
        let p = Coord { x: (c.x + self.origin.x) / self.scale, y: (c.y + self.origin.y) / self.scale };
        match &self.proj {
            None => Ok(p),
            Some(proj) => proj.convert((p.x, p.y)).map(|(x, y)| Coord { x, y }).map_err(|e| e.to_string()),
        }
    }
}

/// Converts single coordinates between a layer's CRS and the working frame.
pub struct Projector {
    forward: Option<PooledProj>,
    /// The inverse transformation (working CRS → source) as (from, to) definitions, made on
    /// first use (most projectors only go forward, and making one costs a database search).
    inverse_spec: Option<(String, String)>,
    inverse: std::cell::OnceCell<std::result::Result<PooledProj, String>>,
    scale: f64,
    origin: Coord<f64>,
    /// The layer's offset system (GCJ-02, BD-09), undone before PROJ and redone after.
    offset: Option<OffsetCrs>,
}

impl Projector {
    /// Layer CRS → working metres. Errors carry PROJ's message.
    pub fn to_work(&self, c: Coord<f64>) -> std::result::Result<Coord<f64>, String> {
        let c = match self.offset {
            Some(o) => {
                let (x, y) = o.to_wgs84(c.x, c.y);
                Coord { x, y }
            }
            None => c,
        };
        let p = match &self.forward {
            None => c,
            Some(proj) => {
                let (x, y) = proj.convert((c.x, c.y)).map_err(|e| e.to_string())?;
                Coord { x, y }
            }
        };
        if !(p.x.is_finite() && p.y.is_finite()) {
            return Err(format!("({}, {}) cannot be projected", c.x, c.y));
        }
        Ok(Coord { x: p.x * self.scale - self.origin.x, y: p.y * self.scale - self.origin.y })
    }

    /// Working metres → the input CRS (only for projectors made by [`WorkFrame::projector`]).
    pub fn to_source(&self, c: Coord<f64>) -> std::result::Result<Coord<f64>, String> {
        let p = Coord { x: (c.x + self.origin.x) / self.scale, y: (c.y + self.origin.y) / self.scale };
        let p = match &self.inverse_spec {
            None => p,
            Some((from, to)) => {
                let proj = self.inverse.get_or_init(|| cached_proj(from, to)).as_ref().map_err(|e| format!("PROJ cannot transform {from} to {to}: {e}"))?;
                let (x, y) = proj.convert((p.x, p.y)).map_err(|e| e.to_string())?;
                Coord { x, y }
            }
        };
        Ok(match self.offset {
            Some(o) => {
                let (x, y) = o.from_wgs84(p.x, p.y);
                Coord { x, y }
            }
            None => p,
        })
    }
}

/// Which WKT dialect [`crs_wkt`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WktFlavour {
    /// OGC WKT 1 as GDAL writes it, with AUTHORITY nodes (GeoPackage, FlatGeobuf).
    Ogc1,
    /// ESRI WKT 1, the dialect of Shapefile `.prj` files.
    Esri,
}

/// The ESRI/OGC WKT of a lon/lat system on the WGS84 datum named `name` (used for GCJ-02 and
/// BD-09, which have no EPSG code: readers see WGS84 degrees, wangge recognises the name).
pub fn offset_wkt(name: &str, flavour: WktFlavour) -> String {
    match flavour {
        WktFlavour::Esri => format!(
            "GEOGCS[\"{name}\",DATUM[\"D_WGS_1984\",SPHEROID[\"WGS_1984\",6378137.0,298.257223563]],PRIMEM[\"Greenwich\",0.0],UNIT[\"Degree\",0.0174532925199433]]"
        ),
        WktFlavour::Ogc1 => format!(
            "GEOGCS[\"{name}\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433],AXIS[\"Longitude\",EAST],AXIS[\"Latitude\",NORTH]]"
        ),
    }
}

/// The WKT of `spec` in the given dialect, from PROJ (offset systems: [`offset_wkt`]). Errors
/// carry PROJ's message.
pub fn crs_wkt(spec: &CrsSpec, flavour: WktFlavour) -> std::result::Result<String, String> {
    if let CrsSpec::Offset(o) = spec {
        return Ok(offset_wkt(o.name(), flavour));
    }
    let definition = match spec {
        CrsSpec::Crs84 => "EPSG:4326".to_string(),
        other => other.proj_definition(),
    };
    quiet_proj();
    let proj = Proj::new(&definition).map_err(|e| format!("PROJ does not know {definition}: {e}"))?;
    let version = match flavour {
        WktFlavour::Ogc1 => proj::wkt::WktVersion::Wkt1_Gdal,
        WktFlavour::Esri => proj::wkt::WktVersion::Wkt1_Esri,
    };
    proj.as_wkt(Some(version), None).map_err(|e| format!("PROJ cannot write {definition} as WKT: {e}"))
}

/// The PROJJSON of `spec` (GeoParquet's CRS), from PROJ; the offset systems (GCJ-02, BD-09)
/// as a WGS84-datum lon/lat system under their name. Errors carry the definition.
pub fn crs_projjson(spec: &CrsSpec) -> std::result::Result<String, String> {
    let definition = match spec {
        CrsSpec::Offset(o) => offset_wkt(o.name(), WktFlavour::Ogc1),
        CrsSpec::Crs84 => "OGC:CRS84".to_string(),
        other => other.proj_definition(),
    };
    with_proj_object(&definition, |ctx, obj| {
        // SAFETY: `ctx` and `obj` are live (with_proj_object); the text returned by PROJ is
        // copied while `obj`, its owner, lives.
        unsafe {
            let text = proj_sys::proj_as_projjson(ctx, obj, std::ptr::null());
            if text.is_null() {
                Err(format!("PROJ cannot write {definition} as PROJJSON"))
            } else {
                Ok(std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned())
            }
        }
    })
    .unwrap_or_else(|| Err(format!("PROJ does not know {definition}")))
}

/// Reads a CRS written as PROJJSON (GeoParquet): the offset systems by their name, an EPSG (or
/// OGC CRS84) id, else the EPSG code PROJ identifies with confidence, else the PROJJSON itself.
pub fn crs_from_projjson(projjson: &serde_json::Value) -> CrsSpec {
    if let Some(o) = projjson.get("name").and_then(serde_json::Value::as_str).and_then(OffsetCrs::parse) {
        return CrsSpec::Offset(o);
    }
    if let Some(id) = projjson.get("id") {
        let authority = id.get("authority").and_then(serde_json::Value::as_str).unwrap_or("");
        let code = id.get("code");
        if authority.eq_ignore_ascii_case("OGC") && code.and_then(serde_json::Value::as_str) == Some("CRS84") {
            return CrsSpec::Crs84;
        }
        if authority.eq_ignore_ascii_case("EPSG") {
            if let Some(c) = code.and_then(|c| c.as_u64().or_else(|| c.as_str().and_then(|s| s.parse().ok()))) {
                return CrsSpec::Epsg(c as u32);
            }
        }
    }
    let text = projjson.to_string();
    match identify_epsg(&text) {
        Some(code) => CrsSpec::Epsg(code),
        None => CrsSpec::Definition(text),
    }
}

/// The first name in a WKT text (`GEOGCS["GCJ-02",...` → `GCJ-02`).
pub fn wkt_name(wkt: &str) -> Option<&str> {
    let start = wkt.find('"')? + 1;
    let len = wkt[start..].find('"')?;
    Some(&wkt[start..start + len])
}

/// Reads a CRS written as WKT by a file (a `.prj`, a GeoPackage or FlatGeobuf definition): the
/// offset systems by their name, else the EPSG code PROJ identifies with confidence ≥ 90 %, else
/// the WKT itself.
pub fn crs_from_wkt(wkt: &str) -> CrsSpec {
    let wkt = wkt.trim();
    if let Some(o) = wkt_name(wkt).and_then(OffsetCrs::parse) {
        return CrsSpec::Offset(o);
    }
    // PROJ's identification searches its database (milliseconds): once per distinct text.
    static KNOWN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Option<u32>>>> = std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let cached = known.lock().unwrap_or_else(|e| e.into_inner()).get(wkt).copied();
    let code = cached.unwrap_or_else(|| {
        let code = top_authority(wkt).or_else(|| identify_epsg(wkt));
        let mut known = known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() < 1024 {
            known.insert(wkt.to_string(), code);
        }
        code
    });
    match code {
        Some(code) => CrsSpec::Epsg(code),
        None => CrsSpec::Definition(wkt.to_string()),
    }
}

/// The EPSG code of a WKT 1 whose root node ends with `AUTHORITY["EPSG","code"]`.
fn top_authority(wkt: &str) -> Option<u32> {
    let at = wkt.rfind("AUTHORITY[")?;
    let rest: String = wkt[at + "AUTHORITY[".len()..].chars().filter(|c| !c.is_whitespace()).collect();
    let rest = rest.strip_suffix("]]")?;
    let (org, code) = rest.split_once(',')?;
    if !org.trim_matches('"').eq_ignore_ascii_case("EPSG") {
        return None;
    }
    code.trim_matches('"').parse().ok()
}

/// The EPSG code PROJ finds for a CRS definition (WKT, PROJJSON, ...), when it is confident
/// (≥ 90 %) of one. A small safe wrapper over `proj_identify`, which the `proj` crate does not
/// expose.
pub fn identify_epsg(definition: &str) -> Option<u32> {
    use proj_sys::*;
    let epsg = std::ffi::CString::new("EPSG").ok()?;
    with_proj_object(definition, |ctx, obj| {
        let mut code = None;
        // SAFETY: `ctx` and `obj` are live (with_proj_object); the list, the confidences and
        // the best match are checked for null and destroyed here; the code is copied while
        // its owner lives.
        unsafe {
            let mut confidence: *mut std::os::raw::c_int = std::ptr::null_mut();
            let list = proj_identify(ctx, obj, epsg.as_ptr(), std::ptr::null(), &mut confidence);
            if !list.is_null() {
                if proj_list_get_count(list) > 0 && !confidence.is_null() && *confidence >= 90 {
                    let best = proj_list_get(ctx, list, 0);
                    if !best.is_null() {
                        let c = proj_get_id_code(best, 0);
                        if !c.is_null() {
                            code = std::ffi::CStr::from_ptr(c).to_str().ok().and_then(|s| s.parse::<u32>().ok());
                        }
                        proj_destroy(best);
                    }
                }
                proj_list_destroy(list);
            }
            if !confidence.is_null() {
                proj_int_list_destroy(confidence);
            }
        }
        code
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_spellings() {
        assert_eq!(CrsSpec::parse("EPSG:4547"), CrsSpec::Epsg(4547));
        assert_eq!(CrsSpec::parse("urn:ogc:def:crs:EPSG::4547"), CrsSpec::Epsg(4547));
        assert_eq!(CrsSpec::parse("urn:ogc:def:crs:EPSG:6.6:3857"), CrsSpec::Epsg(3857));
        assert_eq!(CrsSpec::parse("urn:ogc:def:crs:OGC:1.3:CRS84"), CrsSpec::Crs84);
        assert_eq!(CrsSpec::parse("4326"), CrsSpec::Epsg(4326));
        assert!(matches!(CrsSpec::parse("+proj=utm +zone=51"), CrsSpec::Definition(_)));
    }

    #[test]
    fn classifies_with_proj() {
        assert_eq!(classify(&CrsSpec::Epsg(4490), "t").unwrap(), CrsKind::Geographic);
        assert_eq!(classify(&CrsSpec::Epsg(4547), "t").unwrap(), CrsKind::Projected { metres_per_unit: 1.0 });
        match classify(&CrsSpec::Epsg(2230), "t").unwrap() {
            CrsKind::Projected { metres_per_unit } => assert!((metres_per_unit - 0.3048006).abs() < 1e-6),
            k => panic!("{k:?}"),
        }
        assert!(classify(&CrsSpec::Epsg(999_999), "t").is_err());
    }

    #[test]
    fn lonlat_round_trip_through_utm() {
        let b = Rect::new(Coord { x: 121.47, y: 31.23 }, Coord { x: 121.51, y: 31.25 });
        let f = WorkFrame::new(CrsSpec::Crs84, &CrsKind::Geographic, b, "t").unwrap();
        assert!(f.work_crs.as_deref().unwrap().contains("+lon_0=121.5 "), "{:?}", f.work_crs);
        let p = f.projector("t").unwrap();
        let c = Coord { x: 121.49, y: 31.24 };
        let w = p.to_work(c).unwrap();
        // The origin is the central meridian at the nearest whole degree of latitude.
        assert!(w.x.abs() < 10_000.0 && w.y.abs() < 100_000.0, "{w:?}");
        assert_eq!((f.origin.x % 1000.0, f.origin.y % 1000.0), (0.0, 0.0));
        let back = p.to_source(w).unwrap();
        assert!((back.x - c.x).abs() < 1e-9 && (back.y - c.y).abs() < 1e-9);
        // 0.01 degree of latitude is about 1109 m
        let n = p.to_work(Coord { x: 121.49, y: 31.25 }).unwrap();
        assert!(((n.y - w.y) - 1109.0).abs() < 5.0, "{}", n.y - w.y);
    }

    #[test]
    fn wkt_out_and_back() {
        for code in [4547, 4528, 4326, 4490, 32651] {
            for flavour in [WktFlavour::Esri, WktFlavour::Ogc1] {
                let wkt = crs_wkt(&CrsSpec::Epsg(code), flavour).unwrap();
                assert_eq!(crs_from_wkt(&wkt), CrsSpec::Epsg(code), "{wkt}");
            }
        }
        let gcj = crs_wkt(&CrsSpec::Offset(OffsetCrs::Gcj02), WktFlavour::Esri).unwrap();
        assert_eq!(crs_from_wkt(&gcj), CrsSpec::Offset(OffsetCrs::Gcj02));
        assert!(matches!(crs_from_wkt("LOCAL_CS[\"somewhere\"]"), CrsSpec::Definition(_)));
    }

    #[test]
    fn implausible_coordinates_are_refused() {
        let metres = Rect::new(Coord { x: 499_000.0, y: 3_384_000.0 }, Coord { x: 501_000.0, y: 3_386_000.0 });
        assert!(check_plausible(&CrsKind::Geographic, &CrsSpec::Crs84, metres, "t").is_err());
        let degrees = Rect::new(Coord { x: 121.47, y: 31.23 }, Coord { x: 121.51, y: 31.25 });
        let m = CrsKind::Projected { metres_per_unit: 1.0 };
        assert!(check_plausible(&m, &CrsSpec::Epsg(4547), degrees, "t").is_err());
        assert!(check_plausible(&m, &CrsSpec::Epsg(4547), metres, "t").is_ok());
    }
}
