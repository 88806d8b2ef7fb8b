//! Option values with a structure of their own, read from and written as the text a user types:
//! the objective weight, a feature filter, a join key.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::OptionName;
use crate::error::Error;

/// Implements `Serialize`/`Deserialize` through the type's text form (`Display`/`FromStr`).
macro_rules! serde_as_text {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// What each building's walk is weighted by in the objective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectiveWeight {
    /// Its households (`households`).
    Households,
    /// One walk per building (`buildings`).
    Buildings,
    /// A numeric column of the buildings.
    Column(String),
}

impl ObjectiveWeight {
    /// The column name, when the weight is a column.
    pub fn column(&self) -> Option<&str> {
        match self {
            ObjectiveWeight::Column(c) => Some(c),
            _ => None,
        }
    }
}

impl fmt::Display for ObjectiveWeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectiveWeight::Households => f.write_str("households"),
            ObjectiveWeight::Buildings => f.write_str("buildings"),
            ObjectiveWeight::Column(c) => f.write_str(c),
        }
    }
}

impl FromStr for ObjectiveWeight {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        Ok(match text {
            "households" => ObjectiveWeight::Households,
            "buildings" => ObjectiveWeight::Buildings,
            c if c.trim().is_empty() => {
                return Err(Error::BadOptionValue { option: OptionName("objective_weight"), value: text.into(), expected: "households, buildings or a column name" })
            }
            c => ObjectiveWeight::Column(c.to_string()),
        })
    }
}
serde_as_text!(ObjectiveWeight);

/// Which features of a layer are kept: `COLUMN=V1,V2,...` keeps features whose property COLUMN
/// is one of the values; `COLUMN!=V1,...` drops them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureFilter {
    /// Property tested.
    pub column: String,
    /// Values listed.
    pub values: Vec<String>,
    /// True for `!=` (drop the listed values).
    pub exclude: bool,
}

impl FeatureFilter {
    /// True when a feature with this property value is kept.
    pub fn keeps(&self, value: Option<&Value>) -> bool {
        let text = match value {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        };
        self.values.contains(&text) != self.exclude
    }
}

impl fmt::Display for FeatureFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.column, if self.exclude { "!=" } else { "=" }, self.values.join(","))
    }
}

impl FromStr for FeatureFilter {
    type Err = Error;
    /// Parses `kind=path,minor_road` or `kind!=motorway`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || Error::BadOptionValue { option: OptionName("network_filter"), value: text.into(), expected: "COLUMN=V1,V2 or COLUMN!=V1,V2" };
        let (column, values, exclude) = if let Some((c, v)) = text.split_once("!=") {
            (c, v, true)
        } else if let Some((c, v)) = text.split_once('=') {
            (c, v, false)
        } else {
            return Err(bad());
        };
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        if column.trim().is_empty() || values.is_empty() {
            return Err(bad());
        }
        Ok(FeatureFilter { column: column.trim().to_string(), values, exclude })
    }
}
serde_as_text!(FeatureFilter);

/// The key that joins a households table to the buildings: `COLUMN` (the same name in both) or
/// `BUILDINGS_COLUMN=TABLE_COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinKey {
    /// Key column of the buildings.
    pub buildings: String,
    /// Key column of the table.
    pub table: String,
}

impl fmt::Display for JoinKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.buildings == self.table {
            f.write_str(&self.buildings)
        } else {
            write!(f, "{}={}", self.buildings, self.table)
        }
    }
}

impl FromStr for JoinKey {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        let (b, t) = match text.split_once('=') {
            Some((b, t)) => (b.trim(), t.trim()),
            None => (text.trim(), text.trim()),
        };
        if b.is_empty() || t.is_empty() {
            return Err(Error::BadOptionValue { option: OptionName("join_on"), value: text.into(), expected: "COLUMN or BUILDINGS_COLUMN=TABLE_COLUMN" });
        }
        Ok(JoinKey { buildings: b.to_string(), table: t.to_string() })
    }
}
serde_as_text!(JoinKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_written() {
        for text in ["kind=path,minor_road", "kind!=motorway"] {
            assert_eq!(text.parse::<FeatureFilter>().unwrap().to_string(), text);
        }
        assert_eq!(" kind = a, b ,".parse::<FeatureFilter>().unwrap().to_string(), "kind=a,b");
        for text in ["bid", "code=楼栋编码"] {
            assert_eq!(text.parse::<JoinKey>().unwrap().to_string(), text);
        }
        for text in ["households", "buildings", "elderly"] {
            assert_eq!(text.parse::<ObjectiveWeight>().unwrap().to_string(), text);
        }
        assert_eq!("elderly".parse::<ObjectiveWeight>().unwrap().column(), Some("elderly"));
    }

    #[test]
    fn malformed_values_are_refused_naming_the_option() {
        for bad in ["kind", "=a", "kind="] {
            let e = bad.parse::<FeatureFilter>().unwrap_err().to_string();
            assert!(e.contains("--network-filter") && e.contains("COLUMN=V1,V2"), "{e}");
        }
        assert!("=x".parse::<JoinKey>().unwrap_err().to_string().contains("--join-on"));
        assert!(" ".parse::<ObjectiveWeight>().unwrap_err().to_string().contains("--objective-weight"));
    }

    #[test]
    fn a_filter_keeps_or_drops_the_listed_values() {
        let keep: FeatureFilter = "kind=path".parse().unwrap();
        let drop: FeatureFilter = "kind!=path".parse().unwrap();
        let path = Value::from("path");
        assert!(keep.keeps(Some(&path)) && !drop.keeps(Some(&path)));
        assert!(!keep.keeps(None) && drop.keeps(None));
        assert!("lanes=2".parse::<FeatureFilter>().unwrap().keeps(Some(&Value::from(2))));
    }
}
