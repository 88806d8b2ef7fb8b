//! Chinese offset coordinates: GCJ-02 ("Mars" coordinates of Amap/AutoNavi, Tencent, Google
//! China) and BD-09 (Baidu), converted to and from WGS84 longitude/latitude in degrees.
//!
//! GCJ-02 adds to a WGS84 position a deliberately obfuscating shift of a few hundred metres,
//! computed from two trigonometric polynomials scaled on the Krasovsky-1940 ellipsoid. BD-09 is
//! GCJ-02 further perturbed in polar form (a small radial and angular wobble) and shifted by
//! (0.0065°, 0.006°). This module uses the public, widely published form of both algorithms.
//!
//! The forward directions (WGS84 → GCJ-02 → BD-09) are closed-form. The backward directions are
//! solved by fixed-point iteration on the forward map, so a round trip returns the original
//! point to well under a millimetre (the usual one-step approximations are off by metres).
//!
//! All functions take and return `(longitude, latitude)` in degrees, in that order.
//!
//! Scope of the China test: GCJ-02 is only applied inside the rough bounding box
//! longitude 72.004°–137.8347°, latitude 0.8293°–55.8271° (see [`in_china`]); outside it the
//! GCJ-02 transform is the identity. The BD-09 step on top of GCJ-02 has no such test (as in the
//! published algorithm), so it applies everywhere.

use std::f64::consts::PI;

/// Semi-major axis of the Krasovsky-1940 ellipsoid, metres.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky-1940 ellipsoid (digits as published; f64 keeps
/// about 17 of them).
#[allow(clippy::excessive_precision)]
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943_23;
/// Angular factor of the BD-09 wobble: π · 3000 / 180.
const X_PI: f64 = PI * 3000.0 / 180.0;
/// BD-09 constant shift in longitude, degrees.
const BD_DLON: f64 = 0.0065;
/// BD-09 constant shift in latitude, degrees.
const BD_DLAT: f64 = 0.006;

/// Convergence threshold of the inverse iterations: the forward image of the solution must be
/// within this many degrees of the input (1e-9° ≈ 0.1 mm).
const INVERSE_TOLERANCE_DEG: f64 = 1e-9;
/// Iteration cap of the inverse iterations (convergence normally takes 2–4 steps).
const INVERSE_MAX_ITERATIONS: usize = 30;

/// Whether a point falls in the rough bounding box of China (longitude 72.004°–137.8347°,
/// latitude 0.8293°–55.8271°, bounds inclusive) inside which GCJ-02 shifts coordinates.
///
/// This is a rectangle, not the national border: it includes parts of neighbouring countries
/// and the sea. It is the test conventionally paired with the GCJ-02 algorithm.
pub fn in_china(lon: f64, lat: f64) -> bool {
    (72.004..=137.8347).contains(&lon) && (0.8293..=55.8271).contains(&lat)
}

/// The GCJ-02 latitude polynomial, in "metres-like" units before ellipsoid scaling; `x`, `y`
/// are longitude − 105° and latitude − 35°.
fn shift_lat_poly(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

/// The GCJ-02 longitude polynomial, in "metres-like" units before ellipsoid scaling; `x`, `y`
/// are longitude − 105° and latitude − 35°.
fn shift_lon_poly(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// The GCJ-02 shift `(dlon, dlat)` in degrees at a WGS84 point, with no bounding-box test.
fn gcj02_shift(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - 105.0;
    let y = lat - 35.0;
    let rad_lat = lat.to_radians();
    let s = rad_lat.sin();
    let w = 1.0 - KRASOVSKY_EE * s * s;
    let sqrt_w = w.sqrt();
    // Meridian radius of curvature M = a(1−e²)/W³ and prime-vertical radius N = a/W; the
    // polynomials are arc lengths, turned into degrees along the meridian and the parallel.
    let meridian_radius = KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (w * sqrt_w);
    let parallel_radius = KRASOVSKY_A / sqrt_w * rad_lat.cos();
    let dlat = shift_lat_poly(x, y) * 180.0 / (meridian_radius * PI);
    let dlon = shift_lon_poly(x, y) * 180.0 / (parallel_radius * PI);
    (dlon, dlat)
}

/// Solves `forward(p) = target` for `p` by fixed-point iteration `p ← p − (forward(p) − target)`,
/// starting from `start`. The forward maps used here are the identity plus a shift whose
/// derivative is tiny (≲ 1e-2), so each step gains two or more decimal digits.
///
/// Stops when the forward image is within [`INVERSE_TOLERANCE_DEG`] of the target (and then
/// applies that last, sub-tolerance correction too), or after [`INVERSE_MAX_ITERATIONS`] steps,
/// returning the best point seen (this only happens where the forward map is discontinuous, at
/// the edge of the China bounding box, or for non-finite input).
fn invert(
    target: (f64, f64),
    start: (f64, f64),
    forward: impl Fn(f64, f64) -> (f64, f64),
) -> (f64, f64) {
    let mut p = start;
    let mut best = start;
    let mut best_err = f64::INFINITY;
    for _ in 0..INVERSE_MAX_ITERATIONS {
        let (flon, flat) = forward(p.0, p.1);
        let (rlon, rlat) = (flon - target.0, flat - target.1);
        let err = rlon.abs().max(rlat.abs());
        if err < best_err {
            best = p;
            best_err = err;
        }
        p = (p.0 - rlon, p.1 - rlat);
        if err <= INVERSE_TOLERANCE_DEG {
            return p;
        }
    }
    best
}

/// WGS84 → GCJ-02. Points outside the China bounding box (see [`in_china`]) are returned
/// unchanged, as the published algorithm does.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !in_china(lon, lat) {
        return (lon, lat);
    }
    let (dlon, dlat) = gcj02_shift(lon, lat);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → WGS84, the exact inverse of [`wgs84_to_gcj02`] solved by iteration (round trip
/// error ≪ 1 mm). Points whose shift would be zero (far outside the China bounding box) come
/// back unchanged.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    // First guess: subtract the shift evaluated at the GCJ-02 point itself (accurate to metres).
    let (glon, glat) = wgs84_to_gcj02(lon, lat);
    let start = (lon - (glon - lon), lat - (glat - lat));
    invert((lon, lat), start, wgs84_to_gcj02)
}

/// GCJ-02 → BD-09 (Baidu), closed form. Applied everywhere (no bounding-box test).
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let (x, y) = (lon, lat);
    let z = x.hypot(y) + 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) + 0.000003 * (x * X_PI).cos();
    (z * theta.cos() + BD_DLON, z * theta.sin() + BD_DLAT)
}

/// BD-09 → GCJ-02: the published closed-form approximation, refined by iteration into the
/// exact inverse of [`gcj02_to_bd09`] (round trip error ≪ 1 mm).
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - BD_DLON;
    let y = lat - BD_DLAT;
    let z = x.hypot(y) - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    let start = (z * theta.cos(), z * theta.sin());
    invert((lon, lat), start, gcj02_to_bd09)
}

/// WGS84 → BD-09, through GCJ-02 (so the GCJ-02 part is skipped outside the China bounding
/// box, but the BD-09 part is not).
pub fn wgs84_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let (glon, glat) = wgs84_to_gcj02(lon, lat);
    gcj02_to_bd09(glon, glat)
}

/// BD-09 → WGS84, through GCJ-02; the exact inverse of [`wgs84_to_bd09`].
pub fn bd09_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (glon, glat) = bd09_to_gcj02(lon, lat);
    gcj02_to_wgs84(glon, glat)
}

/// A Chinese offset coordinate system, layered on WGS84 longitude/latitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetCrs {
    /// GCJ-02, the "Mars" coordinates of Amap/AutoNavi, Tencent and Google China.
    Gcj02,
    /// BD-09, Baidu's coordinates (GCJ-02 further offset).
    Bd09,
}

impl OffsetCrs {
    /// Parses `gcj02`, `gcj-02`, `bd09` or `bd-09` (case-insensitive, surrounding whitespace
    /// ignored); anything else gives `None`.
    pub fn parse(name: &str) -> Option<OffsetCrs> {
        match name.trim().to_ascii_lowercase().as_str() {
            "gcj02" | "gcj-02" => Some(OffsetCrs::Gcj02),
            "bd09" | "bd-09" => Some(OffsetCrs::Bd09),
            _ => None,
        }
    }

    /// The display name: `"GCJ-02"` or `"BD-09"`.
    pub fn name(&self) -> &'static str {
        match self {
            OffsetCrs::Gcj02 => "GCJ-02",
            OffsetCrs::Bd09 => "BD-09",
        }
    }

    /// Converts a point `(lon, lat)` in this system to WGS84 `(lon, lat)`.
    pub fn to_wgs84(&self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            OffsetCrs::Gcj02 => gcj02_to_wgs84(lon, lat),
            OffsetCrs::Bd09 => bd09_to_wgs84(lon, lat),
        }
    }

    /// Converts a WGS84 point `(lon, lat)` into this system.
    pub fn from_wgs84(&self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            OffsetCrs::Gcj02 => wgs84_to_gcj02(lon, lat),
            OffsetCrs::Bd09 => wgs84_to_bd09(lon, lat),
        }
    }
}

impl std::fmt::Display for OffsetCrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Great-circle distance in metres between two (lon, lat) points in degrees.
    fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (a.1.to_radians(), b.1.to_radians());
        let dp = p2 - p1;
        let dl = (b.0 - a.0).to_radians();
        let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * R * h.sqrt().min(1.0).asin()
    }

    fn assert_close(got: (f64, f64), want: (f64, f64), tol: f64, what: &str) {
        assert!(
            (got.0 - want.0).abs() <= tol && (got.1 - want.1).abs() <= tol,
            "{what}: got ({:.12}, {:.12}), want ({:.12}, {:.12}), tolerance {tol:e}",
            got.0,
            got.1,
            want.0,
            want.1
        );
    }

    /// (name, WGS84, GCJ-02, BD-09), each point (lon, lat).
    type ControlPoint = (&'static str, (f64, f64), (f64, f64), (f64, f64));

    /// Control points: WGS84 input, expected GCJ-02, expected BD-09, all (lon, lat). Expected
    /// values come from a separate Python implementation of the published formula evaluated
    /// with 40-digit arithmetic (mpmath), printed to 15 significant digits.
    const CONTROL: [ControlPoint; 5] = [
        (
            "Beijing Tiananmen",
            (116.391, 39.907),
            (116.397240958599, 39.9084011088464),
            (116.403614423766, 39.9147439007596),
        ),
        (
            "Shanghai Bund",
            (121.490, 31.240),
            (121.49446800141, 31.238015473429),
            (121.501075500056, 31.243670721395),
        ),
        (
            "Guangzhou",
            (113.264, 23.129),
            (113.269329321113, 23.1263230835077),
            (113.27575125808, 23.1326072921003),
        ),
        (
            "Urumqi",
            (87.617, 43.826),
            (87.6198501754499, 43.8272053240667),
            (87.6263012392735, 43.8333473870453),
        ),
        (
            "Harbin",
            (126.535, 45.803),
            (126.54104022096, 45.8049817630294),
            (126.547659271128, 45.8105961290409),
        ),
    ];

    #[test]
    fn control_points_forward() {
        for (name, wgs, gcj, bd) in CONTROL {
            assert_close(wgs84_to_gcj02(wgs.0, wgs.1), gcj, 1e-6, name);
            assert_close(wgs84_to_bd09(wgs.0, wgs.1), bd, 1e-6, name);
            assert_close(gcj02_to_bd09(gcj.0, gcj.1), bd, 1e-6, name);
        }
    }

    #[test]
    fn control_points_backward() {
        for (name, wgs, gcj, bd) in CONTROL {
            assert_close(gcj02_to_wgs84(gcj.0, gcj.1), wgs, 1e-8, name);
            assert_close(bd09_to_wgs84(bd.0, bd.1), wgs, 1e-8, name);
            assert_close(bd09_to_gcj02(bd.0, bd.1), gcj, 1e-8, name);
        }
    }

    /// Published WGS84 → GCJ-02 pairs: the test vectors of the eviltransform project
    /// (github.com/googollee/eviltransform, go/transform_test.go and python/test.py), there
    /// given as (lat, lng); here reordered to (lon, lat).
    #[test]
    fn published_pairs() {
        let pairs = [
            (
                (121.5272106, 31.1774276),
                (121.531541859215, 31.17530398364597),
            ), // Shanghai
            (
                (113.912316, 22.543847),
                (113.9171764808363, 22.540796131694766),
            ), // Shenzhen
            (
                (116.377817, 39.911954),
                (116.38404722455657, 39.91334545536069),
            ), // Beijing
        ];
        for (wgs, gcj) in pairs {
            assert_close(wgs84_to_gcj02(wgs.0, wgs.1), gcj, 1e-8, "published forward");
            let back = gcj02_to_wgs84(gcj.0, gcj.1);
            assert!(
                haversine_m(back, wgs) < 1e-3,
                "published inverse {back:?} vs {wgs:?}"
            );
        }
    }

    /// A grid over mainland China and its neighbourhood (lon 74–134, lat 18–53).
    fn china_grid(step: f64) -> Vec<(f64, f64)> {
        let mut pts = Vec::new();
        let mut lon = 74.0;
        while lon <= 134.0 + 1e-9 {
            let mut lat = 18.0;
            while lat <= 53.0 + 1e-9 {
                pts.push((lon, lat));
                lat += step;
            }
            lon += step;
        }
        pts
    }

    #[test]
    fn offset_magnitude_is_tens_to_hundreds_of_metres() {
        // Cities: the shift is a few hundred metres (172 m at Xining to 661 m at Changsha).
        let cities = [
            (116.40, 39.90), // Beijing
            (121.47, 31.23), // Shanghai
            (113.26, 23.13), // Guangzhou
            (104.07, 30.57), // Chengdu
            (101.78, 36.62), // Xining
            (91.11, 29.65),  // Lhasa
            (87.62, 43.83),  // Urumqi
            (75.99, 39.47),  // Kashgar
            (126.53, 45.80), // Harbin
            (122.54, 52.97), // Mohe
            (109.51, 18.25), // Sanya
            (112.94, 28.23), // Changsha
        ];
        for p in cities {
            let d = haversine_m(p, wgs84_to_gcj02(p.0, p.1));
            assert!(
                (100.0..=700.0).contains(&d),
                "GCJ-02 shift at {p:?} is {d} m"
            );
            // BD-09 adds roughly another 0.0065°/0.006° (several hundred metres).
            let b = haversine_m(p, wgs84_to_bd09(p.0, p.1));
            assert!(
                (300.0..=2000.0).contains(&b),
                "BD-09 shift at {p:?} is {b} m"
            );
        }
        // Whole grid: the smallest shift is about 41 m (Qaidam basin, near 96.5°E 37°N), the
        // largest about 674 m (north-east Heilongjiang).
        let (mut lo, mut hi) = (f64::INFINITY, 0.0_f64);
        for p in china_grid(0.5) {
            let d = haversine_m(p, wgs84_to_gcj02(p.0, p.1));
            lo = lo.min(d);
            hi = hi.max(d);
        }
        assert!(lo > 30.0 && lo < 60.0, "smallest GCJ-02 shift {lo} m");
        assert!(hi > 600.0 && hi < 750.0, "largest GCJ-02 shift {hi} m");
    }

    #[test]
    fn round_trips_under_a_millimetre() {
        let mut worst_gcj = 0.0_f64;
        let mut worst_bd = 0.0_f64;
        let mut worst_bd_gcj = 0.0_f64;
        // An irrational-ish step so the grid does not sit on the polynomials' nodes.
        for p in china_grid(0.37) {
            let g = wgs84_to_gcj02(p.0, p.1);
            let back = gcj02_to_wgs84(g.0, g.1);
            worst_gcj = worst_gcj.max(haversine_m(p, back));

            let b = wgs84_to_bd09(p.0, p.1);
            let back = bd09_to_wgs84(b.0, b.1);
            worst_bd = worst_bd.max(haversine_m(p, back));

            // Starting from an offset point as well: GCJ-02 → BD-09 → GCJ-02.
            let b = gcj02_to_bd09(p.0, p.1);
            let back = bd09_to_gcj02(b.0, b.1);
            worst_bd_gcj = worst_bd_gcj.max(haversine_m(p, back));
        }
        assert!(
            worst_gcj < 1e-3,
            "WGS84→GCJ-02→WGS84 worst error {worst_gcj} m"
        );
        assert!(
            worst_bd < 1e-3,
            "WGS84→BD-09→WGS84 worst error {worst_bd} m"
        );
        assert!(
            worst_bd_gcj < 1e-3,
            "GCJ-02→BD-09→GCJ-02 worst error {worst_bd_gcj} m"
        );
    }

    #[test]
    fn inverse_is_exact_from_the_offset_side_too() {
        // Offset point → WGS84 → offset point.
        for p in china_grid(1.13) {
            let w = gcj02_to_wgs84(p.0, p.1);
            assert!(
                haversine_m(p, wgs84_to_gcj02(w.0, w.1)) < 1e-3,
                "GCJ-02 at {p:?}"
            );
            let w = bd09_to_wgs84(p.0, p.1);
            assert!(
                haversine_m(p, wgs84_to_bd09(w.0, w.1)) < 1e-3,
                "BD-09 at {p:?}"
            );
        }
    }

    #[test]
    fn closed_form_bd_inverse_alone_is_not_exact() {
        // Guards the iteration: the one-step formula is off by more than the refined result.
        let g = (116.397240958599, 39.9084011088464);
        let b = gcj02_to_bd09(g.0, g.1);
        let (x, y) = (b.0 - BD_DLON, b.1 - BD_DLAT);
        let z = x.hypot(y) - 0.00002 * (y * X_PI).sin();
        let t = y.atan2(x) - 0.000003 * (x * X_PI).cos();
        let approx = (z * t.cos(), z * t.sin());
        let refined = bd09_to_gcj02(b.0, b.1);
        assert!(haversine_m(refined, g) < 1e-4);
        assert!(haversine_m(approx, g) > haversine_m(refined, g));
    }

    #[test]
    fn outside_china_gcj02_is_identity() {
        let outside = [
            (139.69, 35.69),   // Tokyo
            (2.35, 48.85),     // Paris
            (-74.006, 40.713), // New York
            (151.21, -33.87),  // Sydney
            (116.4, -39.9),    // Beijing mirrored into the southern hemisphere
            (72.0, 30.0),      // just west of the box
            (120.0, 55.9),     // just north of the box
        ];
        for p in outside {
            assert!(!in_china(p.0, p.1));
            assert_eq!(wgs84_to_gcj02(p.0, p.1), p, "forward at {p:?}");
            assert_eq!(gcj02_to_wgs84(p.0, p.1), p, "inverse at {p:?}");
            assert_eq!(OffsetCrs::Gcj02.from_wgs84(p.0, p.1), p);
            assert_eq!(OffsetCrs::Gcj02.to_wgs84(p.0, p.1), p);
            // BD-09 still applies its own shift there, and still inverts exactly.
            let b = wgs84_to_bd09(p.0, p.1);
            assert_ne!(b, p);
            assert!(
                haversine_m(p, bd09_to_wgs84(b.0, b.1)) < 1e-3,
                "BD-09 at {p:?}"
            );
        }
        assert!(in_china(116.391, 39.907));
    }

    #[test]
    fn inverse_near_box_edge_terminates_with_finite_result() {
        // The forward map jumps at the box edge, so some GCJ-02 points there have no exact
        // preimage; the inverse must still return something finite and nearby.
        for p in [
            (72.004, 30.0),
            (72.01, 30.0),
            (137.83, 45.0),
            (120.0, 0.83),
            (120.0, 55.827),
        ] {
            let w = gcj02_to_wgs84(p.0, p.1);
            assert!(w.0.is_finite() && w.1.is_finite());
            assert!(haversine_m(p, w) < 1000.0, "{p:?} -> {w:?}");
        }
        let w = gcj02_to_wgs84(f64::NAN, 30.0);
        assert!(w.0.is_nan());
    }

    #[test]
    fn offset_crs_parse_name_and_dispatch() {
        for s in ["gcj02", "GCJ02", "gcj-02", "GCJ-02", " Gcj-02 "] {
            assert_eq!(OffsetCrs::parse(s), Some(OffsetCrs::Gcj02), "{s}");
        }
        for s in ["bd09", "BD09", "bd-09", "BD-09", "Bd-09"] {
            assert_eq!(OffsetCrs::parse(s), Some(OffsetCrs::Bd09), "{s}");
        }
        for s in ["", "wgs84", "gcj", "bd09ll", "gcj 02", "bd-9"] {
            assert_eq!(OffsetCrs::parse(s), None, "{s}");
        }
        assert_eq!(OffsetCrs::Gcj02.name(), "GCJ-02");
        assert_eq!(OffsetCrs::Bd09.name(), "BD-09");
        assert_eq!(OffsetCrs::Bd09.to_string(), "BD-09");
        let (_, wgs, gcj, bd) = CONTROL[0];
        assert_close(
            OffsetCrs::Gcj02.from_wgs84(wgs.0, wgs.1),
            gcj,
            1e-6,
            "gcj from",
        );
        assert_close(
            OffsetCrs::Bd09.from_wgs84(wgs.0, wgs.1),
            bd,
            1e-6,
            "bd from",
        );
        assert_close(OffsetCrs::Gcj02.to_wgs84(gcj.0, gcj.1), wgs, 1e-8, "gcj to");
        assert_close(OffsetCrs::Bd09.to_wgs84(bd.0, bd.1), wgs, 1e-8, "bd to");
    }
}
