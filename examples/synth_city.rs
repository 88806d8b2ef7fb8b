//! `synth_city`: a deterministic synthetic city district generator for tests and benchmarks.
//!
//! # Usage
//!
//! ```text
//! cargo run --release --example synth_city -- --buildings N --seed S --out DIR [--crs epsg4547|lonlat]
//! ```
//!
//! Writes `DIR/buildings.geojson`, `DIR/territory.geojson`, `DIR/barriers.geojson` and `DIR/streets.geojson` (creating
//! `DIR`). `N` (1,000 to 1,000,000) is the exact number of buildings; the same `N`, seed and CRS
//! always give byte-identical files (only IEEE `+ - * /`, rounding and a self-written SplitMix64
//! are used, no platform `sin`/`cos`, so the output is also the same across platforms).
//!
//! # Model
//!
//! The district is a street grid of square-ish blocks (150–250 m sides) separated by street gaps
//! of 15–30 m; every 5–8 blocks (in both directions) a wider gap (40–60 m) carries an arterial
//! road. Each block is one compound of a single type:
//!
//! * `tower`: 18–33 floors, ~20–30 m square footprints widely spaced (rarely a "landmark" compound
//!   of 34–42 m towers, which is where the ~0.1% of buildings above 500 households come from);
//! * `midrise`: 6–11 floor slabs, ~40–60 m × 12–15 m, long side east–west, in rows;
//! * `lowrise`: 4–6 floor walk-ups (30–50 m × 11–14 m) or 2–3 floor villas (12–20 m × 10–14 m);
//! * non-residential (`other`: schools, shops, offices; households 0);
//! * or left empty: a park (still territory) or a lake/closed area, which becomes a rectangular
//!   hole in the territory.
//!
//! Residential compounds often hold one or two small `other` buildings (clubhouse, kindergarten).
//! Buildings are laid out on a regular grid of slots inside the block (after a setback); each is
//! an axis-aligned or slightly rotated (the whole compound shares the angle) rectangle fitted in
//! its slot with at least 1 m to spare, so footprints never overlap and stay inside their block.
//! Households ≈ floor area × floors / 90 m² (± 15%, at least 1), population ≈ households × 2.6
//! (± 15%); both are 0 for `other` buildings.
//!
//! One meandering river (a sum of two sine waves plus a slight tilt) crosses the whole district;
//! every block its line passes within `width/2 + 5 m` of is left empty, so no footprint touches
//! it. Arterial lines run along the centre lines of the wide gaps over the full extent.
//!
//! The grid size (columns × rows, aspect about 0.75–1.75) is chosen so that the compounds hold at least
//! `N` buildings with the least surplus, and the surplus is then removed from the compounds in
//! proportion to their size (random slots left empty), so exactly `N` buildings are written.
//!
//! # Output
//!
//! * `buildings.geojson`: `N` Polygon features with `id` = `bid` and properties `bid` (0..N-1),
//!   `households`, `population`, `floors`, `kind` (`tower`/`midrise`/`lowrise`/`other`) and
//!   `compound`;
//! * `territory.geojson`: one MultiPolygon feature: the block extent plus a 20 m margin, with the
//!   hole blocks as interior rings;
//! * `barriers.geojson`: LineString features with properties `kind` (`arterial`/`river`) and
//!   `width_m`; lines extend 50 m beyond the territory.
//! * `streets.geojson`: the centre lines of the gaps between blocks, `kind` `local` or
//!   `arterial`, across the territory (for `--streets`).
//!
//! CRS `epsg4547` (default): metres around easting 500000, northing 3385000, with the legacy
//! `crs` member naming `urn:ogc:def:crs:EPSG::4547`; coordinates have at most 3 decimals.
//! CRS `lonlat`: WGS84-like lon/lat around (121.47, 31.23) by a local equirectangular
//! approximation (no `crs` member), at most 8 decimals. Rings are closed, exterior rings
//! counter-clockwise and holes clockwise. Features are streamed one per line through a
//! `BufWriter`, so 1,000,000 buildings need only a few megabytes of memory.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
synth_city: deterministic synthetic city district (buildings, territory, barriers) as GeoJSON

USAGE:
    cargo run --release --example synth_city -- --buildings N --seed S --out DIR [--crs epsg4547|lonlat]

OPTIONS:
    --buildings N    exact number of buildings, 1000..=1000000 (default 10000; '_' or ',' allowed)
    --seed S         random seed, an unsigned 64-bit integer (default 1)
    --out DIR        output directory (created); receives buildings.geojson, territory.geojson,
                     barriers.geojson (required)
    --crs CRS        epsg4547 (metres, default) or lonlat (degrees, local approximation)
    -h, --help       print this help

The same N, seed and CRS always produce byte-identical files.
";

/// Centre of the district in EPSG:4547 metres (easting, northing).
const CENTRE: (f64, f64) = (500_000.0, 3_385_000.0);
/// Longitude / latitude the centre maps to in `--crs lonlat`.
const CENTRE_LONLAT: (f64, f64) = (121.47, 31.23);
/// Metres per degree of latitude.
const M_PER_DEG_LAT: f64 = 110_574.0;
/// Metres per degree of longitude at the equator (times cos(lat) locally).
const M_PER_DEG_LON_EQ: f64 = 111_320.0;
/// Territory margin around the block extent (m).
const MARGIN: f64 = 20.0;
/// How far barrier lines extend beyond the territory (m).
const LINE_OVERHANG: f64 = 50.0;
/// Minimum free space between a footprint's bounding box and its slot edge (m).
const SLOT_EDGE: f64 = 1.0;
/// Floor area per household (m²).
const M2_PER_HOUSEHOLD: f64 = 90.0;
/// Persons per household.
const PERSONS_PER_HOUSEHOLD: f64 = 2.6;

// Stream tags, so that independent parts of the model draw from independent random streams.
const TAG_X: u64 = 1;
const TAG_Y: u64 = 2;
const TAG_RIVER: u64 = 3;
const TAG_PLAN: u64 = 4;
const TAG_BUILD: u64 = 5;

// ---------------------------------------------------------------------------------------------
// Randomness and deterministic maths
// ---------------------------------------------------------------------------------------------

/// SplitMix64 pseudo-random generator (Steele, Lea & Flood 2014).
struct SplitMix64(u64);

impl SplitMix64 {
    /// Next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in lo..=hi.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    /// True with probability p.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// A barrier line: kind, width (m) and vertices.
type BarrierLine<'a> = (&'a str, f64, Vec<(f64, f64)>);

/// The SplitMix64 output finaliser: a strong 64-bit mixing function.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An independent random stream for (seed, tag, a, b), e.g. one per block.
fn stream(seed: u64, tag: u64, a: u64, b: u64) -> SplitMix64 {
    let h = mix64(seed ^ mix64(tag.wrapping_mul(0xA24B_AED4_963E_E407)));
    let h = mix64(h ^ a.wrapping_mul(0x9FB2_1C65_1E98_DF25));
    SplitMix64(mix64(h ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)))
}

/// Sine from basic IEEE operations only (Taylor series after range reduction), so results do
/// not depend on the platform's libm. Absolute error below 1e-9.
fn sin_det(x: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, PI, TAU};
    let r = x - (x / TAU).round() * TAU;
    let r = if r > FRAC_PI_2 {
        PI - r
    } else if r < -FRAC_PI_2 {
        -PI - r
    } else {
        r
    };
    let r2 = r * r;
    r * (1.0
        - r2 / 6.0
            * (1.0
                - r2 / 20.0
                    * (1.0 - r2 / 42.0 * (1.0 - r2 / 72.0 * (1.0 - r2 / 110.0 * (1.0 - r2 / 156.0))))))
}

/// Cosine via [`sin_det`].
fn cos_det(x: f64) -> f64 {
    sin_det(x + std::f64::consts::FRAC_PI_2)
}

// ---------------------------------------------------------------------------------------------
// City model
// ---------------------------------------------------------------------------------------------

/// Axis-aligned rectangle in metres.
#[derive(Clone, Copy, Debug)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

/// Block sizes, street gaps and arterial roads along one axis (positions relative to 0).
struct Axis {
    /// Start of each block.
    starts: Vec<f64>,
    /// Size of each block.
    sizes: Vec<f64>,
    /// Arterial roads: (centre-line position, road width).
    arterials: Vec<(f64, f64)>,
    /// Total length from the first block start to the last block end.
    extent: f64,
}

/// Draws `n` block sizes (150–250 m) and the gaps between them (15–30 m streets; 40–60 m with an
/// arterial every 5–8 blocks). A larger `n` extends the same sequence.
fn make_axis(seed: u64, tag: u64, n: usize) -> Axis {
    let mut rng = stream(seed, tag, 0, 0);
    let (mut starts, mut sizes, mut arterials) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::new());
    let mut pos = 0.0;
    let mut since = 0;
    let mut next = rng.int(2, 6);
    for k in 0..n {
        let size = rng.range(150.0, 250.0);
        starts.push(pos);
        sizes.push(size);
        pos += size;
        if k + 1 < n {
            since += 1;
            if since == next {
                let gap = rng.range(40.0, 60.0);
                arterials.push((pos + gap / 2.0, gap));
                pos += gap;
                since = 0;
                next = rng.int(5, 8);
            } else {
                pos += rng.range(15.0, 30.0);
            }
        }
    }
    Axis { starts, sizes, arterials, extent: pos }
}

/// Building type of a compound or a single building.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tower,
    Midrise,
    Lowrise,
    Other,
}

impl Kind {
    /// The `kind` property value.
    fn name(self) -> &'static str {
        match self {
            Kind::Tower => "tower",
            Kind::Midrise => "midrise",
            Kind::Lowrise => "lowrise",
            Kind::Other => "other",
        }
    }
}

/// Slot layout of a built block: `nx` × `ny` slots over `inner`, one building per slot.
#[derive(Clone, Copy, Debug)]
struct Layout {
    kind: Kind,
    /// The block area after the compound setback.
    inner: Rect,
    nx: u32,
    ny: u32,
    /// Nominal footprint width (east–west) and depth (north–south), m.
    fw: f64,
    fd: f64,
    /// Relative per-building size variation (± for residential, downwards for `other`).
    vary: f64,
    /// Floors drawn uniformly in floors_lo..=floors_hi.
    floors_lo: i64,
    floors_hi: i64,
    /// Rotation shared by the compound (cosine, sine).
    cos: f64,
    sin: f64,
    /// Maximum offset of a building centre from its slot centre (m).
    jitter: f64,
}

/// What a block is used for.
#[derive(Clone, Copy, Debug)]
enum Use {
    Built(Layout),
    /// Empty, part of the territory.
    Park,
    /// Empty, a hole in the territory (lake, closed area).
    Hole,
    /// Empty because the river passes through or near it.
    River,
}

/// One block of the grid.
struct Block {
    /// Column and row (for the per-block random streams).
    i: u32,
    j: u32,
    rect: Rect,
    usage: Use,
    /// Slots in the layout (0 when not built).
    slots: u32,
    /// Slots left empty to hit exactly N buildings.
    dropped: u32,
}

/// The meandering river as a polyline given by cross-axis offsets at regular along-axis steps.
struct River {
    /// True when the river runs south–north (along y), false for west–east.
    vertical: bool,
    /// Along-axis coordinate of vertex 0 and the step between vertices.
    a0: f64,
    step: f64,
    /// Cross-axis coordinate of each vertex.
    b: Vec<f64>,
    width: f64,
}

impl River {
    /// Draws the river for a territory with the given bounds: it crosses the whole territory
    /// along its longer-or-random axis, meandering around a line through the middle part.
    fn new(seed: u64, t: Rect) -> River {
        use std::f64::consts::TAU;
        let mut rng = stream(seed, TAG_RIVER, 0, 0);
        let vertical = rng.chance(0.5);
        let (a_lo, a_hi, b_lo, b_hi) = if vertical { (t.y0, t.y1, t.x0, t.x1) } else { (t.x0, t.x1, t.y0, t.y1) };
        let cross = b_hi - b_lo;
        let centre = b_lo + cross * rng.range(0.3, 0.7);
        let tilt = rng.range(-0.08, 0.08);
        let amp1 = (cross * rng.range(0.03, 0.07)).clamp(40.0, 600.0);
        let len1 = rng.range(1200.0, 2500.0);
        let amp2 = amp1 * rng.range(0.3, 0.5);
        let len2 = len1 * rng.range(0.3, 0.45);
        let (ph1, ph2) = (rng.range(0.0, TAU), rng.range(0.0, TAU));
        let width = rng.range(40.0, 90.0);
        let step = 25.0;
        let a0 = a_lo - LINE_OVERHANG;
        let n = ((a_hi + LINE_OVERHANG - a0) / step).ceil() as usize + 1;
        let mid = 0.5 * (a_lo + a_hi);
        let b = (0..n)
            .map(|k| {
                let a = a0 + k as f64 * step;
                let v = centre
                    + tilt * (a - mid)
                    + amp1 * sin_det(TAU * a / len1 + ph1)
                    + amp2 * sin_det(TAU * a / len2 + ph2);
                v.clamp(b_lo + 0.1 * cross, b_hi - 0.1 * cross)
            })
            .collect();
        River { vertical, a0, step, b, width }
    }

    /// Conservative test: may the river line come within `width/2 + 5 m` of the rectangle?
    /// (Every polyline segment over the rectangle's along-axis range lies between the min and
    /// max cross offsets of the vertices spanning that range.)
    fn near(&self, r: Rect) -> bool {
        let clr = self.width / 2.0 + 5.0;
        let (a_lo, a_hi, b_lo, b_hi) = if self.vertical { (r.y0, r.y1, r.x0, r.x1) } else { (r.x0, r.x1, r.y0, r.y1) };
        let last = self.b.len() as f64 - 1.0;
        let k0 = ((a_lo - clr - self.a0) / self.step).floor().clamp(0.0, last) as usize;
        let k1 = ((a_hi + clr - self.a0) / self.step).ceil().clamp(0.0, last) as usize;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &v in &self.b[k0..=k1] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        hi >= b_lo - clr && lo <= b_hi + clr
    }

    /// The vertices as (x, y) metres.
    fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.b.iter().enumerate().map(move |(k, &b)| {
            let a = self.a0 + k as f64 * self.step;
            if self.vertical {
                (b, a)
            } else {
                (a, b)
            }
        })
    }
}

/// The whole district: grid, blocks, river and totals.
struct City {
    xs: Axis,
    ys: Axis,
    /// Position of the south-west block corner (m).
    origin: (f64, f64),
    blocks: Vec<Block>,
    river: River,
    /// Sum of `slots` over all blocks.
    total_slots: u64,
}

impl City {
    /// Territory bounds: block extent plus the margin.
    fn territory(&self) -> Rect {
        territory_of(self.origin, &self.xs, &self.ys)
    }
}

/// Territory bounds for a grid placed at `origin`.
fn territory_of(origin: (f64, f64), xs: &Axis, ys: &Axis) -> Rect {
    Rect {
        x0: origin.0 - MARGIN,
        y0: origin.1 - MARGIN,
        x1: origin.0 + xs.extent + MARGIN,
        y1: origin.1 + ys.extent + MARGIN,
    }
}

/// Chooses the use and slot layout of block (i, j) from its own random stream.
fn plan_block(seed: u64, i: u32, j: u32, rect: Rect) -> (Use, u32) {
    let mut rng = stream(seed, TAG_PLAN, i as u64, j as u64);
    let u = rng.unit();
    // Block mix: 4% holes, 3% parks, 5% non-residential, 30% towers, 26% mid-rise, 32% low-rise.
    let (kind, variant) = if u < 0.04 {
        return (Use::Hole, 0);
    } else if u < 0.07 {
        return (Use::Park, 0);
    } else if u < 0.12 {
        (Kind::Other, 0)
    } else if u < 0.42 {
        // About 2.5% of tower compounds are "landmark" compounds of very large towers.
        (Kind::Tower, u8::from(rng.chance(0.025)))
    } else if u < 0.68 {
        (Kind::Midrise, 0)
    } else {
        // Walk-ups (0) or villas (1).
        (Kind::Lowrise, u8::from(rng.chance(0.15)))
    };
    // (fw, fd, gap_x, gap_y, floors_lo, floors_hi, vary, jitter)
    let (fw, fd, gx, gy, flo, fhi, vary, jitter): (f64, f64, f64, f64, i64, i64, f64, f64) = match (kind, variant) {
        (Kind::Tower, 0) => {
            let s = rng.range(20.0, 28.0);
            let lo = rng.int(18, 28);
            (s, s * rng.range(0.9, 1.1), rng.range(15.0, 30.0), rng.range(25.0, 40.0), lo, (lo + rng.int(2, 8)).min(33), 0.08, 3.0)
        }
        (Kind::Tower, _) => {
            let s = rng.range(34.0, 42.0);
            let lo = rng.int(28, 31);
            (s, s * rng.range(0.95, 1.05), rng.range(25.0, 40.0), rng.range(35.0, 50.0), lo, 33, 0.05, 3.0)
        }
        (Kind::Midrise, _) => {
            let lo = rng.int(6, 9);
            let (w, d) = (rng.range(40.0, 60.0), rng.range(12.0, 15.0));
            (w, d, rng.range(8.0, 16.0), rng.range(18.0, 28.0), lo, (lo + rng.int(1, 3)).min(11), 0.05, 2.0)
        }
        (Kind::Lowrise, 0) => {
            let lo = rng.int(4, 5);
            let (w, d) = (rng.range(30.0, 50.0), rng.range(11.0, 14.0));
            (w, d, rng.range(6.0, 12.0), rng.range(12.0, 18.0), lo, (lo + rng.int(0, 2)).min(6), 0.06, 1.5)
        }
        (Kind::Lowrise, _) => {
            let (w, d) = (rng.range(12.0, 20.0), rng.range(10.0, 14.0));
            (w, d, rng.range(6.0, 10.0), rng.range(8.0, 14.0), 2, 3, 0.08, 1.0)
        }
        (Kind::Other, _) => {
            let (w, d) = (rng.range(30.0, 70.0), rng.range(15.0, 40.0));
            (w, d, rng.range(15.0, 30.0), rng.range(15.0, 30.0), 1, 6, 0.4, 8.0)
        }
    };
    let setback = rng.range(6.0, 15.0);
    // Rotation: 55% of compounds axis-aligned, the others turned by up to ±10°.
    let angle = if rng.chance(0.55) { 0.0 } else { rng.range(-10.0, 10.0).to_radians() };
    let (cos, sin) = (cos_det(angle), sin_det(angle));
    let inner = Rect { x0: rect.x0 + setback, y0: rect.y0 + setback, x1: rect.x1 - setback, y1: rect.y1 - setback };
    // Slots sized for the largest (rotated) footprint plus the spacing.
    let grow = 1.0 + vary.max(0.0);
    let bw = grow * (fw * cos + fd * sin.abs());
    let bh = grow * (fw * sin.abs() + fd * cos);
    let nx = (((inner.x1 - inner.x0 + gx) / (bw + gx)).floor() as u32).max(1);
    let ny = (((inner.y1 - inner.y0 + gy) / (bh + gy)).floor() as u32).max(1);
    let layout = Layout { kind, inner, nx, ny, fw, fd, vary, floors_lo: flo, floors_hi: fhi, cos, sin, jitter };
    (Use::Built(layout), nx * ny)
}

/// Lays out a city of `nx` × `ny` blocks (no trimming yet).
fn build_city(seed: u64, nx: usize, ny: usize) -> City {
    let xs = make_axis(seed, TAG_X, nx);
    let ys = make_axis(seed, TAG_Y, ny);
    let origin = ((CENTRE.0 - xs.extent / 2.0).round(), (CENTRE.1 - ys.extent / 2.0).round());
    let river = River::new(seed, territory_of(origin, &xs, &ys));
    let mut blocks = Vec::with_capacity(nx * ny);
    let mut total_slots = 0u64;
    for j in 0..ny {
        for i in 0..nx {
            let x0 = origin.0 + xs.starts[i];
            let y0 = origin.1 + ys.starts[j];
            let rect = Rect { x0, y0, x1: x0 + xs.sizes[i], y1: y0 + ys.sizes[j] };
            let (usage, slots) = if river.near(rect) {
                (Use::River, 0)
            } else {
                plan_block(seed, i as u32, j as u32, rect)
            };
            total_slots += slots as u64;
            blocks.push(Block { i: i as u32, j: j as u32, rect, usage, slots, dropped: 0 });
        }
    }
    City { xs, ys, origin, blocks, river, total_slots }
}

/// Picks the grid (aspect about 0.75–1.75) with at least `n` slots and the least surplus, then empties
/// the surplus slots in proportion to compound size so the city holds exactly `n` buildings.
fn make_city(seed: u64, n: u64) -> City {
    let probe = build_city(seed, 24, 24);
    let per_block = (probe.total_slots as f64 / probe.blocks.len() as f64).max(1.0);
    let blocks = n as f64 / per_block;
    let ny_lo = ((blocks / 1.5).sqrt().floor() as usize).max(2);
    let ny_hi = ((blocks / 0.9).sqrt().ceil() as usize).max(ny_lo);
    let stride = ((ny_hi - ny_lo) / 12).max(1);
    let slots = |nx: usize, ny: usize| build_city(seed, nx, ny).total_slots;
    let mut best: Option<(u64, usize, usize)> = None;
    for ny in (ny_lo..=ny_hi).step_by(stride) {
        let mut nx = ((blocks / ny as f64) as usize).max(2);
        if slots(nx, ny) >= n {
            while nx > 2 && slots(nx - 1, ny) >= n {
                nx -= 1;
            }
        } else {
            while slots(nx, ny) < n {
                nx += 1;
            }
        }
        let surplus = slots(nx, ny) - n;
        let aspect = nx as f64 / ny as f64;
        if best.is_some() && !(0.75..=1.75).contains(&aspect) {
            continue;
        }
        if best.is_none_or(|(s, _, _)| surplus < s) {
            best = Some((surplus, nx, ny));
        }
    }
    let (_, nx, ny) = best.expect("at least one grid candidate");
    let mut city = build_city(seed, nx, ny);
    // Remove the surplus E from the T slots: block b loses floor(E·cum_b/T) − floor(E·cum_{b−1}/T).
    let (t, e) = (city.total_slots, city.total_slots - n);
    let mut cum = 0u64;
    for b in &mut city.blocks {
        let before = e * cum / t;
        cum += b.slots as u64;
        b.dropped = (e * cum / t - before) as u32;
    }
    city
}

// ---------------------------------------------------------------------------------------------
// Buildings
// ---------------------------------------------------------------------------------------------

/// One generated footprint with its attributes.
struct Building {
    /// Corners, counter-clockwise, not closed.
    corners: [(f64, f64); 4],
    households: i64,
    population: i64,
    floors: i64,
    kind: Kind,
}

/// Generates the buildings of a built block in slot order (row by row from the south-west),
/// calling `emit` for each.
fn block_buildings(seed: u64, block: &Block, layout: &Layout, mut emit: impl FnMut(Building)) {
    let mut rng = stream(seed, TAG_BUILD, block.i as u64, block.j as u64);
    let slots = block.slots as usize;
    // Slots left empty to reach exactly N: a partial Fisher–Yates shuffle picks them.
    let mut skip = vec![false; slots];
    let mut order: Vec<usize> = (0..slots).collect();
    for k in 0..block.dropped as usize {
        let pick = k + (rng.next_u64() % (slots - k) as u64) as usize;
        order.swap(k, pick);
        skip[order[k]] = true;
    }
    // Residential compounds often have one or two amenity buildings (kindergarten, clubhouse).
    let mut amenity = vec![false; slots];
    if layout.kind != Kind::Other && slots > 2 && rng.chance(0.4) {
        let count = if rng.chance(0.3) { 2 } else { 1 };
        for _ in 0..count {
            amenity[(rng.next_u64() % slots as u64) as usize] = true;
        }
    }
    let Layout { inner, nx, ny, cos, sin, .. } = *layout;
    let cw = (inner.x1 - inner.x0) / nx as f64;
    let ch = (inner.y1 - inner.y0) / ny as f64;
    for sy in 0..ny as usize {
        for sx in 0..nx as usize {
            let s = sy * nx as usize + sx;
            if skip[s] {
                continue;
            }
            let (mut w, mut d) = if layout.kind == Kind::Other {
                (layout.fw * rng.range(1.0 - layout.vary, 1.0), layout.fd * rng.range(1.0 - layout.vary, 1.0))
            } else {
                let v = layout.vary;
                (layout.fw * rng.range(1.0 - v, 1.0 + v), layout.fd * rng.range(1.0 - v, 1.0 + v))
            };
            let is_amenity = amenity[s];
            if is_amenity {
                w *= rng.range(0.45, 0.8);
                d *= rng.range(0.6, 0.9);
            }
            // Fit the rotated footprint's bounding box in the slot with SLOT_EDGE to spare.
            let (mut bw, mut bh) = (w * cos + d * sin.abs(), w * sin.abs() + d * cos);
            let (room_w, room_h) = (cw - 2.0 * SLOT_EDGE, ch - 2.0 * SLOT_EDGE);
            let f = (room_w / bw).min(room_h / bh).min(1.0);
            w *= f;
            d *= f;
            bw *= f;
            bh *= f;
            let jx = ((room_w - bw) / 2.0).min(layout.jitter).max(0.0);
            let jy = ((room_h - bh) / 2.0).min(layout.jitter).max(0.0);
            let cx = inner.x0 + (sx as f64 + 0.5) * cw + rng.range(-jx, jx);
            let cy = inner.y0 + (sy as f64 + 0.5) * ch + rng.range(-jy, jy);
            let (hw, hd) = (w / 2.0, d / 2.0);
            let corner = |lx: f64, ly: f64| (cx + lx * cos - ly * sin, cy + lx * sin + ly * cos);
            let corners = [corner(-hw, -hd), corner(hw, -hd), corner(hw, hd), corner(-hw, hd)];
            let (kind, floors, households, population) = if layout.kind == Kind::Other {
                let floors = if rng.chance(0.15) { rng.int(7, 20) } else { rng.int(layout.floors_lo, layout.floors_hi) };
                (Kind::Other, floors, 0, 0)
            } else if is_amenity {
                (Kind::Other, rng.int(1, 3), 0, 0)
            } else {
                let floors = rng.int(layout.floors_lo, layout.floors_hi);
                let hh = (w * d * floors as f64 / M2_PER_HOUSEHOLD * rng.range(0.85, 1.15)).round().max(1.0);
                let pop = (hh * PERSONS_PER_HOUSEHOLD * rng.range(0.85, 1.15)).round().max(1.0);
                (layout.kind, floors, hh as i64, pop as i64)
            };
            emit(Building { corners, households, population, floors, kind });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// Output coordinate system.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Crs {
    Epsg4547,
    LonLat,
}

/// Converts metres to output coordinates and formats them compactly.
struct Coords {
    crs: Crs,
    /// Metres per degree of longitude at the centre latitude.
    m_per_deg_lon: f64,
}

impl Coords {
    /// Formatter for the given CRS.
    fn new(crs: Crs) -> Coords {
        let lat = CENTRE_LONLAT.1 * std::f64::consts::PI / 180.0;
        Coords { crs, m_per_deg_lon: M_PER_DEG_LON_EQ * cos_det(lat) }
    }

    /// Appends `[x,y]` for a point given in metres.
    fn push(&self, out: &mut String, (x, y): (f64, f64)) {
        out.push('[');
        match self.crs {
            Crs::Epsg4547 => {
                push_fixed(out, x, 3);
                out.push(',');
                push_fixed(out, y, 3);
            }
            Crs::LonLat => {
                push_fixed(out, CENTRE_LONLAT.0 + (x - CENTRE.0) / self.m_per_deg_lon, 8);
                out.push(',');
                push_fixed(out, CENTRE_LONLAT.1 + (y - CENTRE.1) / M_PER_DEG_LAT, 8);
            }
        }
        out.push(']');
    }

    /// Appends a closed ring `[[x,y],...,[x0,y0]]` from unclosed points.
    fn push_ring(&self, out: &mut String, pts: &[(f64, f64)]) {
        out.push('[');
        for p in pts.iter().chain(pts.first()) {
            if !out.ends_with('[') {
                out.push(',');
            }
            self.push(out, *p);
        }
        out.push(']');
    }
}

/// Appends `v` rounded to `decimals` places, without trailing zeros (e.g. `12.5`, `3`).
fn push_fixed(out: &mut String, v: f64, decimals: u32) {
    let p = 10u64.pow(decimals);
    let m = (v * p as f64).round() as i64;
    if m < 0 {
        out.push('-');
    }
    let a = m.unsigned_abs();
    let (int, mut frac) = (a / p, a % p);
    let _ = write!(out, "{int}");
    if frac != 0 {
        let mut digits = decimals as usize;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{frac:0digits$}");
    }
}

/// Writes the FeatureCollection header (name, optional legacy crs member, opening of features).
fn write_header(w: &mut impl Write, name: &str, crs: Crs) -> io::Result<()> {
    write!(w, "{{\n\"type\": \"FeatureCollection\",\n\"name\": \"{name}\",\n")?;
    if crs == Crs::Epsg4547 {
        writeln!(w, "\"crs\": {{ \"type\": \"name\", \"properties\": {{ \"name\": \"urn:ogc:def:crs:EPSG::4547\" }} }},")?;
    }
    writeln!(w, "\"features\": [")
}

/// Opens `path` for buffered writing.
fn create(path: &Path) -> io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

/// Totals reported after writing the buildings.
#[derive(Default)]
struct Stats {
    buildings: u64,
    households: u64,
    population: u64,
    compounds: u64,
    other: u64,
    over_500: u64,
    max_households: i64,
}

/// Streams all buildings to `path`, one feature per line.
fn write_buildings(path: &Path, city: &City, seed: u64, coords: &Coords) -> io::Result<Stats> {
    let mut w = create(path)?;
    write_header(&mut w, "synth_city_buildings", coords.crs)?;
    let mut stats = Stats::default();
    let mut line = String::with_capacity(512);
    let mut result = Ok(());
    for block in &city.blocks {
        let Use::Built(layout) = &block.usage else { continue };
        if block.slots == block.dropped {
            continue;
        }
        let compound = stats.compounds;
        stats.compounds += 1;
        block_buildings(seed, block, layout, |b| {
            if result.is_err() {
                return;
            }
            let bid = stats.buildings;
            line.clear();
            if bid > 0 {
                line.push_str(",\n");
            }
            let _ = write!(
                line,
                "{{\"type\":\"Feature\",\"id\":{bid},\"properties\":{{\"bid\":{bid},\"households\":{},\"population\":{},\"floors\":{},\"kind\":\"{}\",\"compound\":{compound}}},\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":[",
                b.households,
                b.population,
                b.floors,
                b.kind.name()
            );
            coords.push_ring(&mut line, &b.corners);
            line.push_str("]}}");
            result = w.write_all(line.as_bytes());
            stats.buildings += 1;
            stats.households += b.households as u64;
            stats.population += b.population as u64;
            stats.other += u64::from(b.kind == Kind::Other);
            stats.over_500 += u64::from(b.households > 500);
            stats.max_households = stats.max_households.max(b.households);
        });
        std::mem::replace(&mut result, Ok(()))?;
    }
    w.write_all(b"\n]\n}\n")?;
    w.flush()?;
    Ok(stats)
}

/// Writes the territory: one MultiPolygon feature, the extent with the hole blocks cut out.
fn write_territory(path: &Path, city: &City, coords: &Coords) -> io::Result<usize> {
    let mut w = create(path)?;
    write_header(&mut w, "synth_city_territory", coords.crs)?;
    let t = city.territory();
    let mut s = String::from("{\"type\":\"Feature\",\"id\":0,\"properties\":{\"name\":\"territory\"},\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":[[");
    coords.push_ring(&mut s, &[(t.x0, t.y0), (t.x1, t.y0), (t.x1, t.y1), (t.x0, t.y1)]);
    let mut holes = 0;
    for b in &city.blocks {
        if let Use::Hole = b.usage {
            let r = b.rect;
            s.push(',');
            // Interior rings clockwise.
            coords.push_ring(&mut s, &[(r.x0, r.y0), (r.x0, r.y1), (r.x1, r.y1), (r.x1, r.y0)]);
            holes += 1;
        }
    }
    s.push_str("]]}}\n]\n}\n");
    w.write_all(s.as_bytes())?;
    w.flush()?;
    Ok(holes)
}

/// Writes the arterial roads (full extent, both directions) and the river as LineStrings.
fn write_barriers(path: &Path, city: &City, coords: &Coords) -> io::Result<usize> {
    let t = city.territory();
    let (lo_x, hi_x) = (t.x0 - LINE_OVERHANG, t.x1 + LINE_OVERHANG);
    let (lo_y, hi_y) = (t.y0 - LINE_OVERHANG, t.y1 + LINE_OVERHANG);
    let mut lines: Vec<BarrierLine> = Vec::new();
    for &(pos, width) in &city.xs.arterials {
        let x = city.origin.0 + pos;
        lines.push(("arterial", width, vec![(x, lo_y), (x, hi_y)]));
    }
    for &(pos, width) in &city.ys.arterials {
        let y = city.origin.1 + pos;
        lines.push(("arterial", width, vec![(lo_x, y), (hi_x, y)]));
    }
    lines.push(("river", city.river.width, city.river.points().collect()));
    let features: Vec<(String, Vec<(f64, f64)>)> = lines
        .into_iter()
        .map(|(kind, width, pts)| {
            let mut props = format!("{{\"kind\":\"{kind}\",\"width_m\":");
            push_fixed(&mut props, width, 1);
            props.push('}');
            (props, pts)
        })
        .collect();
    write_lines(path, "synth_city_barriers", coords, &features)
}

/// Writes one LineString feature per line, numbered from 0, with its properties (a JSON
/// object's text) and the layer `name`; returns the number of features.
fn write_lines(path: &Path, name: &str, coords: &Coords, lines: &[(String, Vec<(f64, f64)>)]) -> io::Result<usize> {
    let mut w = create(path)?;
    write_header(&mut w, name, coords.crs)?;
    let mut s = String::new();
    for (k, (props, pts)) in lines.iter().enumerate() {
        s.clear();
        if k > 0 {
            s.push_str(",\n");
        }
        let _ = write!(s, "{{\"type\":\"Feature\",\"id\":{k},\"properties\":{props},\"geometry\":{{\"type\":\"LineString\",\"coordinates\":[");
        for (m, p) in pts.iter().enumerate() {
            if m > 0 {
                s.push(',');
            }
            coords.push(&mut s, *p);
        }
        s.push_str("]}}");
        w.write_all(s.as_bytes())?;
    }
    w.write_all(b"\n]\n}\n")?;
    w.flush()?;
    Ok(lines.len())
}

/// Writes the street centre lines as LineStrings: `local` streets along every narrow gap between
/// blocks and the `arterial` roads along the wide ones, over the full extent.
fn write_streets(path: &Path, city: &City, coords: &Coords) -> io::Result<usize> {
    let t = city.territory();
    let centres = |axis: &Axis| -> Vec<(&'static str, f64)> {
        (0..axis.starts.len().saturating_sub(1))
            .map(|k| {
                let (a, b) = (axis.starts[k] + axis.sizes[k], axis.starts[k + 1]);
                let kind = if axis.arterials.iter().any(|&(c, _)| c > a && c < b) { "arterial" } else { "local" };
                (kind, 0.5 * (a + b))
            })
            .collect()
    };
    let mut lines: Vec<(&str, Vec<(f64, f64)>)> = Vec::new();
    for (kind, pos) in centres(&city.xs) {
        let x = city.origin.0 + pos;
        lines.push((kind, vec![(x, t.y0), (x, t.y1)]));
    }
    for (kind, pos) in centres(&city.ys) {
        let y = city.origin.1 + pos;
        lines.push((kind, vec![(t.x0, y), (t.x1, y)]));
    }
    let features: Vec<(String, Vec<(f64, f64)>)> = lines.into_iter().map(|(kind, pts)| (format!("{{\"kind\":\"{kind}\"}}"), pts)).collect();
    write_lines(path, "synth_city_streets", coords, &features)
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

/// Parsed command-line options.
struct Args {
    buildings: u64,
    seed: u64,
    out: PathBuf,
    crs: Crs,
}

/// Parses the arguments by hand; `Ok(None)` means `--help` was printed.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args { buildings: 10_000, seed: 1, out: PathBuf::new(), crs: Crs::Epsg4547 };
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            print!("{USAGE}");
            return Ok(None);
        }
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{key} needs a value"));
        match key.as_str() {
            "--buildings" | "-n" => {
                let v = value()?;
                let clean: String = v.chars().filter(|c| *c != '_' && *c != ',').collect();
                args.buildings = clean.parse().map_err(|_| format!("--buildings: not a whole number: {v}"))?;
            }
            "--seed" | "-s" => {
                let v = value()?;
                args.seed = v.parse().map_err(|_| format!("--seed: not an unsigned 64-bit integer: {v}"))?;
            }
            "--out" | "-o" => out = Some(PathBuf::from(value()?)),
            "--crs" => {
                args.crs = match value()?.to_ascii_lowercase().as_str() {
                    "epsg4547" | "epsg:4547" | "4547" => Crs::Epsg4547,
                    "lonlat" | "wgs84" | "epsg:4326" | "4326" => Crs::LonLat,
                    other => return Err(format!("--crs: expected epsg4547 or lonlat, got {other}")),
                }
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if !(1_000..=1_000_000).contains(&args.buildings) {
        return Err(format!("--buildings must be between 1000 and 1000000, got {}", args.buildings));
    }
    args.out = out.ok_or("--out DIR is required")?;
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth_city: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth_city: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the city and writes the three files, printing a one-line summary to stderr.
fn run(args: &Args) -> io::Result<()> {
    let start = Instant::now();
    fs::create_dir_all(&args.out)?;
    let city = make_city(args.seed, args.buildings);
    let coords = Coords::new(args.crs);
    let stats = write_buildings(&args.out.join("buildings.geojson"), &city, args.seed, &coords)?;
    assert_eq!(stats.buildings, args.buildings, "building count");
    let holes = write_territory(&args.out.join("territory.geojson"), &city, &coords)?;
    let lines = write_barriers(&args.out.join("barriers.geojson"), &city, &coords)?;
    write_streets(&args.out.join("streets.geojson"), &city, &coords)?;
    let river_blocks = city.blocks.iter().filter(|b| matches!(b.usage, Use::River)).count();
    let t = city.territory();
    eprintln!(
        "synth_city: {} buildings in {} compounds on {}x{} blocks ({:.1} x {:.1} km; {} holes, {} river blocks, {} barrier lines); \
         {} households ({:.1}/building, max {}, {} above 500), population {}, {} non-residential; {:.2}s -> {}",
        stats.buildings,
        stats.compounds,
        city.xs.sizes.len(),
        city.ys.sizes.len(),
        (t.x1 - t.x0) / 1000.0,
        (t.y1 - t.y0) / 1000.0,
        holes,
        river_blocks,
        lines,
        stats.households,
        stats.households as f64 / stats.buildings as f64,
        stats.max_households,
        stats.over_500,
        stats.population,
        stats.other,
        start.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
