//! Typed errors: every message names the file, the feature and the fault.

use std::path::PathBuf;

use crate::config::OptionName;

/// Result alias used throughout wangge.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with one input feature.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureFault {
    /// The household column is absent from the feature's properties.
    #[error("has no '{column}' property (columns seen: {available})")]
    MissingColumn {
        /// Column that was asked for.
        column: String,
        /// Columns present in the layer, comma separated.
        available: String,
    },
    /// A count column holds null.
    #[error("'{column}' is null")]
    NullValue {
        /// Column name.
        column: String,
    },
    /// A count column holds text or another non-numeric value.
    #[error("'{column}' is not a number: {value}")]
    NonNumeric {
        /// Column name.
        column: String,
        /// The offending value as written in the file.
        value: String,
    },
    /// A count is negative or not finite.
    #[error("'{column}' must be a finite number >= 0, found {}", crate::text::number(*.value))]
    NegativeOrNonFinite {
        /// Column name.
        column: String,
        /// The offending value.
        value: f64,
    },
    /// A count beyond what one feature can hold (a typing or unit error).
    #[error("'{column}' is {}, more than one feature can hold (at most {}): a typing error?", crate::text::number(*.value), crate::text::number(*.max))]
    CountTooLarge {
        /// Column name.
        column: String,
        /// The offending value.
        value: f64,
        /// The largest value accepted.
        max: f64,
    },
    /// The feature has an empty geometry.
    #[error("has an empty geometry")]
    EmptyGeometry,
    /// The feature's geometry is null.
    #[error("has no geometry (null)")]
    NullGeometry,
    /// A coordinate is NaN or infinite.
    #[error("has a non-finite coordinate ({}, {})", crate::text::number(*.x), crate::text::number(*.y))]
    NonFiniteCoordinate {
        /// x as read.
        x: f64,
        /// y as read.
        y: f64,
    },
    /// A vertex far from every other feature of its layer.
    #[error("has a vertex ({}, {}) {distance} from the middle of the layer, where 90 % of the features lie within {typical} of it: a typing error, or a coordinate system other than the file's?", crate::text::number(*.x), crate::text::number(*.y))]
    OutlyingVertex {
        /// x as read.
        x: f64,
        /// y as read.
        y: f64,
        /// Its distance from the layer's median centre, with the unit.
        distance: String,
        /// The distance within which 90 % of the features lie, with the unit.
        typical: String,
    },
    /// A polygon whose rings cross, or with a hole outside its outer ring.
    #[error("is an invalid polygon: it {message}; repair it, or pass --fix-geometry to repair it by the odd-even rule")]
    InvalidPolygon {
        /// What is wrong and where (input CRS).
        message: String,
    },
    /// A polygon ring with fewer than three distinct points.
    #[error("has a ring with only {points} distinct points (a polygon ring needs at least 3)")]
    DegenerateRing {
        /// Distinct points found.
        points: usize,
    },
    /// A geometry type the layer cannot use.
    #[error("has a {found} geometry; expected {expected}")]
    WrongGeometryType {
        /// Type found.
        found: String,
        /// Types accepted.
        expected: String,
    },
    /// The geometry JSON could not be parsed.
    #[error("has a malformed geometry: {message}")]
    MalformedGeometry {
        /// Parser message.
        message: String,
    },
    /// The attribute values of a binary feature record cannot be decoded.
    #[error("has corrupt attributes: {message}")]
    CorruptAttributes {
        /// What is wrong.
        message: String,
    },
    /// Two features share an id.
    #[error("repeats id '{id}' (first used by feature {first_row})")]
    DuplicateId {
        /// The repeated id.
        id: String,
        /// Zero-based row of the first feature with this id.
        first_row: usize,
    },
    /// A units or floors count that cannot say how to split a building.
    #[error("'{column}' is {value}: {reason}")]
    BadPartCount {
        /// Column name.
        column: String,
        /// The offending value as written in the file.
        value: String,
        /// What a usable value is.
        reason: String,
    },
    /// The id column value is unusable.
    #[error("has an unusable id: {message}")]
    BadId {
        /// What is wrong.
        message: String,
    },
}

/// Every error wangge can report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read, written or renamed.
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// What was being done ("read", "write", "rename", ...).
        action: &'static str,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not JSON / GeoJSON.
    #[error("{path}: not valid GeoJSON: {message}")]
    Parse {
        /// File concerned.
        path: String,
        /// Parser message, with line and column when known.
        message: String,
    },
    /// One feature of an input layer is unusable.
    #[error("{path}: feature {feature}: {fault}")]
    InvalidFeature {
        /// File (or layer name) concerned.
        path: String,
        /// Feature id, or `#row` when it has none.
        feature: String,
        /// The fault.
        #[source]
        fault: FeatureFault,
    },
    /// A whole input layer is unusable (wrong structure, empty, ...).
    #[error("{path}: {message}")]
    InvalidLayer {
        /// File (or layer name) concerned.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The coordinate reference system is unknown or does not fit the coordinates.
    #[error("{path}: coordinate system {crs}: {message}")]
    Crs {
        /// File (or layer name) concerned.
        path: String,
        /// CRS as given.
        crs: String,
        /// What is wrong.
        message: String,
    },
    /// An option's value lies outside its range.
    #[error("invalid configuration: {option} must be {expected}, got {value}")]
    OptionOutOfRange {
        /// The option.
        option: OptionName,
        /// What a usable value is.
        expected: String,
        /// The value given.
        value: String,
    },
    /// Two options' values contradict each other.
    #[error("invalid configuration: {option} ({value}) {relation} {other} ({other_value})")]
    OptionsInconsistent {
        /// The option.
        option: OptionName,
        /// Its value.
        value: f64,
        /// How it relates to the other (`is above`, `is below`, ...).
        relation: &'static str,
        /// The other option.
        other: OptionName,
        /// The other option's value.
        other_value: f64,
    },
    /// An option needs another option or input that was not given.
    #[error("invalid configuration: {option} needs {needs}")]
    OptionNeeds {
        /// The option given.
        option: OptionName,
        /// What it needs (options named as the front end spells them).
        needs: String,
    },
    /// An option was given without the input or option it applies to.
    #[error("invalid configuration: {option} is only used with {with}")]
    OptionOnlyWith {
        /// The option given.
        option: OptionName,
        /// What it applies to.
        with: String,
    },
    /// Two options that exclude each other were both given.
    #[error("invalid configuration: give {first} or {second}, not both")]
    OptionsExclusive {
        /// One option.
        first: OptionName,
        /// The other.
        second: OptionName,
    },
    /// An option's text cannot be read.
    #[error("invalid configuration: {option} '{value}': expected {expected}")]
    BadOptionValue {
        /// The option.
        option: OptionName,
        /// The text given.
        value: String,
        /// What is expected.
        expected: &'static str,
    },
    /// A command was called without an argument it needs.
    #[error("wangge {command} needs {needs}")]
    MissingArgument {
        /// The subcommand (`check`, `repair`, ...).
        command: &'static str,
        /// What it needs (`-o OUT_DIR`, ...).
        needs: &'static str,
    },
    /// A configuration file (or the configuration recorded in a summary.json) is unusable.
    #[error("{path}: not a valid configuration: {message}")]
    ConfigFile {
        /// File concerned.
        path: PathBuf,
        /// What is wrong, with line and column when known.
        message: String,
    },
    /// A locked grid id that the existing division does not have.
    #[error("invalid configuration: {}: grid {id} is not in the existing division (it has {grids} grids)", OptionName("locked"))]
    LockedGridUnknown {
        /// The id given.
        id: String,
        /// Grids in the existing division.
        grids: usize,
    },
    /// A locked grid left without buildings of its own.
    #[error("invalid configuration: {}: grid {id} holds no building of its own in the buildings given (its buildings are gone or tied to another grid's)", OptionName("locked"))]
    LockedGridEmpty {
        /// The grid's id.
        id: String,
    },
    /// A locked grid that falls apart in the adjacency graph.
    #[error("invalid configuration: {}: existing grid #{grid} (buildings {first_building}, ...) falls in {pieces} pieces in the adjacency graph (cut by a barrier or by a gap over {}); a locked grid must stay one connected grid", OptionName("locked"), OptionName("max_edge_m"))]
    LockedGridInPieces {
        /// Index of the grid in the existing division.
        grid: usize,
        /// A building of the grid.
        first_building: String,
        /// Pieces it falls in.
        pieces: usize,
    },
    /// The worker thread pool could not be set up.
    #[error("{}: cannot start the worker threads: {message}", OptionName("threads"))]
    Threads {
        /// What failed.
        message: String,
    },
    /// The MILP/LP solver refused a model or an option, or failed while solving.
    #[error("the MILP/LP solver (HiGHS) failed: {message}")]
    Solver {
        /// What failed.
        message: String,
    },
    /// The constrained triangulation of the territory failed on degenerate input.
    #[error("the constrained triangulation of the territory and the footprints failed ({message}); check the input for footprints or barriers that nearly coincide")]
    Triangulation {
        /// What failed.
        message: String,
    },
    /// The output directory holds files (or the output file exists) and overwriting was not allowed.
    #[error("{path}: output directory is not empty (or the output file exists); pass --overwrite to replace its files")]
    OutputNotEmpty {
        /// Directory concerned.
        path: PathBuf,
    },
    /// The run was interrupted (Ctrl-C or a caller's cancellation).
    #[error("interrupted")]
    Interrupted,
    /// A stage produced a result that breaks one of its invariants: a bug in wangge.
    #[error("internal invariant broken in {stage}: {message} (please report this)")]
    Invariant {
        /// Pipeline stage.
        stage: &'static str,
        /// Which invariant.
        message: String,
    },
}

impl Error {
    /// True when the error is in the options or the command line (exit code 2 in the CLI).
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            Error::OptionOutOfRange { .. }
                | Error::OptionsInconsistent { .. }
                | Error::OptionNeeds { .. }
                | Error::OptionOnlyWith { .. }
                | Error::OptionsExclusive { .. }
                | Error::BadOptionValue { .. }
                | Error::MissingArgument { .. }
                | Error::ConfigFile { .. }
                | Error::LockedGridUnknown { .. }
                | Error::LockedGridEmpty { .. }
                | Error::LockedGridInPieces { .. }
                | Error::OutputNotEmpty { .. }
        )
    }

    /// True when the error is the user's input (exit code 3 in the CLI).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Error::Parse { .. } | Error::InvalidFeature { .. } | Error::InvalidLayer { .. } | Error::Crs { .. }
        )
    }

    /// The exit code of the command line for this error: 2 usage, 3 invalid input, 5 other.
    pub fn exit_code(&self) -> u8 {
        if self.is_usage_error() {
            2
        } else if self.is_input_error() {
            3
        } else {
            5
        }
    }

    /// Shorthand for a layer-level input error.
    pub(crate) fn layer(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidLayer { path: path.into(), message: message.into() }
    }

    /// Shorthand for a feature-level input error.
    pub(crate) fn feature(path: impl Into<String>, feature: impl Into<String>, fault: FeatureFault) -> Self {
        Error::InvalidFeature { path: path.into(), feature: feature.into(), fault }
    }

    /// Shorthand for an I/O error.
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), action, source }
    }
}
