//! Households from a separate table (a register keyed by building id or address), joined to the
//! buildings on a key column. A table with a household column is summed per key; a table
//! without one is a register of one row per household, counted per key. A key shared by several
//! buildings (an address of a compound) is shared among them by floor area.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apportion::apportion;
use super::values::count_value;
use crate::config::JoinKey;
use crate::error::{Error, Result};
use crate::read::Layer;

/// How many unmatched rows and buildings are listed by key in the report (all are counted).
pub const LISTED: usize = 1000;

/// A join key as text: strings trimmed, whole numbers without a decimal part (`12`, `12.0` and
/// `"12"` all match), so a key typed as a number in one file and as text in the other still joins.
pub fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return None;
            }
            match t.split_once('.') {
                Some((int, frac)) if !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && !frac.is_empty() && frac.bytes().all(|b| b == b'0') => {
                    Some(int.to_string())
                }
                _ => Some(t.to_string()),
            }
        }
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Some(i.to_string()),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9e15 => Some(format!("{}", f as i64)),
            _ => Some(n.to_string()),
        },
        other => Some(other.to_string()),
    }
}

/// A table row that matched no building.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnmatchedRow {
    /// The row (`line N` for a CSV file).
    pub row: String,
    /// Its key.
    pub key: String,
}

/// What the join did, for summary.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinReport {
    /// The table file.
    pub table: String,
    /// Key column of the buildings.
    pub buildings_key: String,
    /// Key column of the table.
    pub table_key: String,
    /// Where households came from: a column summed per key, or one row per household.
    pub households_from: String,
    /// Population column summed per key, when the table has one.
    pub population_from: Option<String>,
    /// Rows of the table.
    pub rows: usize,
    /// Rows whose key matched a building.
    pub matched_rows: usize,
    /// Rows whose key matched no building (their households are not placed).
    pub unmatched_rows: usize,
    /// Households of the unmatched rows.
    pub unmatched_households: f64,
    /// The first unmatched rows (at most [`LISTED`]).
    pub unmatched: Vec<UnmatchedRow>,
    /// Rows with an empty key (skipped).
    pub rows_without_key: usize,
    /// Matched rows whose household cell is empty (counted 0).
    pub rows_without_households: usize,
    /// Buildings that no row matched (0 households).
    pub buildings_without_row: usize,
    /// Ids of the first such buildings (at most [`LISTED`]).
    pub buildings_without_row_ids: Vec<String>,
    /// Keys held by several buildings, whose households were shared by floor area.
    pub keys_on_several_buildings: usize,
    /// Households placed on buildings.
    pub households_joined: f64,
}

/// Households (and population, when the table has it) per building, in building file order.
#[derive(Debug, Clone)]
pub struct TableJoin {
    /// Households of each building (0 without a row).
    pub households: Vec<f64>,
    /// Population of each building, when the table has a population column.
    pub population: Option<Vec<f64>>,
    /// The report.
    pub report: JoinReport,
}

/// Joins `table` (read with columns `[key.table, households, population]`) to buildings whose
/// keys are `building_keys` (None: no value), named by `building_ids` in the report, with
/// `floor_area` sharing a key's totals among the buildings that hold it.
pub fn join_households(
    table: &Layer,
    key: &JoinKey,
    households_column: &str,
    population_column: &str,
    building_keys: &[Option<String>],
    building_ids: &[String],
    floor_area: &[f64],
) -> Result<TableJoin> {
    let name = &table.name;
    if !table.has_column(&key.table) {
        return Err(Error::layer(name, format!("has no '{}' column to join on (columns: {})", key.table, table.columns.join(", "))));
    }
    let key_idx = table.column_index(&key.table).expect("key column requested");
    let hh_idx = table.has_column(households_column).then(|| table.column_index(households_column).expect("households column requested"));
    let pop_idx = table.has_column(population_column).then(|| table.column_index(population_column).expect("population column requested"));

    // Buildings by key, in file order.
    let mut holders: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, k) in building_keys.iter().enumerate() {
        if let Some(k) = k {
            holders.entry(k.as_str()).or_default().push(i);
        }
    }
    // Totals per key, keyed in a sorted map so the sharing below is deterministic.
    let mut totals: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut report = JoinReport {
        table: name.clone(),
        buildings_key: key.buildings.clone(),
        table_key: key.table.clone(),
        households_from: match hh_idx {
            Some(_) => format!("column '{households_column}', summed per key"),
            None => format!("one row per household (the table has no '{households_column}' column)"),
        },
        population_from: pop_idx.map(|_| format!("column '{population_column}', summed per key")),
        rows: table.features.len(),
        matched_rows: 0,
        unmatched_rows: 0,
        unmatched_households: 0.0,
        unmatched: Vec::new(),
        rows_without_key: 0,
        rows_without_households: 0,
        buildings_without_row: 0,
        buildings_without_row_ids: Vec::new(),
        keys_on_several_buildings: 0,
        households_joined: 0.0,
    };
    for f in &table.features {
        let Some(k) = f.attributes[key_idx].as_ref().and_then(key_text) else {
            report.rows_without_key += 1;
            continue;
        };
        let value = |idx: Option<usize>, column: &str, default: f64| -> Result<f64> {
            match idx.and_then(|i| f.attributes[i].as_ref()) {
                None | Some(Value::Null) => Ok(default),
                Some(v) => count_value(v, column).map_err(|fault| Error::feature(name, f.label(), fault)),
            }
        };
        let hh = value(hh_idx, households_column, if hh_idx.is_some() { 0.0 } else { 1.0 })?;
        if hh_idx.is_some_and(|i| matches!(f.attributes[i], None | Some(Value::Null))) {
            report.rows_without_households += 1;
        }
        let pop = value(pop_idx, population_column, 0.0)?;
        if holders.contains_key(k.as_str()) {
            report.matched_rows += 1;
            let t = totals.entry(k).or_insert((0.0, 0.0));
            t.0 += hh;
            t.1 += pop;
        } else {
            report.unmatched_rows += 1;
            report.unmatched_households += hh;
            if report.unmatched.len() < LISTED {
                report.unmatched.push(UnmatchedRow { row: f.label(), key: k });
            }
        }
    }
    let n = building_keys.len();
    let mut households = vec![0.0; n];
    let mut population = vec![0.0; n];
    let mut has_row = vec![false; n];
    for (k, (hh, pop)) in &totals {
        let bs = &holders[k.as_str()];
        if bs.len() > 1 {
            report.keys_on_several_buildings += 1;
        }
        let weights: Vec<f64> = bs.iter().map(|&b| floor_area[b]).collect();
        for ((&b, h), p) in bs.iter().zip(apportion(*hh, &weights)).zip(apportion(*pop, &weights)) {
            households[b] = h;
            population[b] = p;
            has_row[b] = true;
        }
        report.households_joined += hh;
    }
    for (b, &matched) in has_row.iter().enumerate() {
        if !matched {
            report.buildings_without_row += 1;
            if report.buildings_without_row_ids.len() < LISTED {
                report.buildings_without_row_ids.push(building_ids[b].clone());
            }
        }
    }
    Ok(TableJoin { households, population: pop_idx.map(|_| population), report })
}

impl JoinReport {
    /// One-line warnings for unmatched rows and buildings without a row.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let list = |items: Vec<String>, total: usize| crate::text::first_of(items, total, 10, ", ");
        if self.unmatched_rows > 0 {
            out.push(format!(
                "{}: {} row(s) ({} households) match no building on '{}' = '{}': {} (see households_table.unmatched in summary.json)",
                self.table,
                self.unmatched_rows,
                self.unmatched_households,
                self.buildings_key,
                self.table_key,
                list(self.unmatched.iter().map(|u| format!("{} key {}", u.row, u.key)).collect(), self.unmatched_rows)
            ));
        }
        if self.buildings_without_row > 0 {
            out.push(format!(
                "{} building(s) have no row in {} and count 0 households: {}",
                self.buildings_without_row,
                self.table,
                list(self.buildings_without_row_ids.clone(), self.buildings_without_row)
            ));
        }
        if self.rows_without_households > 0 {
            out.push(format!("{}: {} row(s) have an empty household cell and count 0 households", self.table, self.rows_without_households));
        }
        if self.rows_without_key > 0 {
            out.push(format!("{}: {} row(s) have an empty '{}' and were skipped", self.table, self.rows_without_key, self.table_key));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{FeatureId, InputFeature};

    fn table(rows: &[(&str, Option<&str>)], with_households: bool) -> Layer {
        let mut columns = vec!["bid".to_string()];
        if with_households {
            columns.push("households".into());
        }
        Layer {
            name: "hh.csv".into(),
            crs: None,
            features: rows
                .iter()
                .enumerate()
                .map(|(row, (k, h))| InputFeature {
                    row,
                    id: Some(FeatureId::Text(format!("line {}", row + 2))),
                    geometry: None,
                    attributes: vec![Some(Value::from(*k)), h.map(Value::from), None],
                    properties: None,
                })
                .collect(),
            requested: vec!["bid".into(), "households".into(), "population".into()],
            columns,
            source_text: None,
        }
    }

    #[test]
    fn sums_counts_and_reports_both_sides() {
        let t = table(&[("1", Some("10")), ("2.0", Some("5")), ("1", Some("3")), ("9", Some("7")), ("", Some("1"))], true);
        let keys = vec![Some("1".to_string()), Some("2".into()), Some("3".into())];
        let ids = vec!["a".to_string(), "b".into(), "c".into()];
        let j = join_households(&t, &"bid".parse::<JoinKey>().unwrap(), "households", "population", &keys, &ids, &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(j.households, vec![13.0, 5.0, 0.0]);
        assert_eq!(j.report.matched_rows, 3);
        assert_eq!(j.report.unmatched_rows, 1);
        assert_eq!(j.report.unmatched[0].row, "line 5");
        assert_eq!(j.report.unmatched_households, 7.0);
        assert_eq!(j.report.rows_without_key, 1);
        assert_eq!(j.report.buildings_without_row_ids, vec!["c".to_string()]);
        assert!(j.population.is_none());
    }

    #[test]
    fn a_register_counts_rows_and_shares_keys_by_floor_area() {
        let t = table(&[("A", None), ("A", None), ("A", None), ("A", None), ("B", None)], false);
        let keys = vec![Some("A".to_string()), Some("A".into()), Some("B".into())];
        let ids = vec!["a1".to_string(), "a2".into(), "b".into()];
        let j = join_households(&t, &"addr=bid".parse::<JoinKey>().unwrap(), "households", "population", &keys, &ids, &[300.0, 100.0, 1.0]).unwrap();
        assert_eq!(j.households, vec![3.0, 1.0, 1.0]);
        assert_eq!(j.report.keys_on_several_buildings, 1);
        assert!(j.report.households_from.contains("one row per household"));
    }

    #[test]
    fn bad_counts_name_the_row() {
        let t = table(&[("1", Some("ten"))], true);
        let e = join_households(&t, &"bid".parse::<JoinKey>().unwrap(), "households", "population", &[Some("1".into())], &["a".into()], &[1.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("hh.csv") && e.contains("line 2") && e.contains("ten"), "{e}");
    }

    #[test]
    fn keys_normalise_numbers() {
        assert_eq!(key_text(&Value::from(12.0)), Some("12".into()));
        assert_eq!(key_text(&Value::from(" 12.00 ")), Some("12".into()));
        assert_eq!(key_text(&Value::from("0012")), Some("0012".into()));
        assert_eq!(key_text(&Value::from("")), None);
        assert!("=x".parse::<JoinKey>().is_err());
    }
}
