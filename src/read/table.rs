//! Attribute tables without geometry (CSV/TSV household registers) read as a [`Layer`] whose
//! features have no geometry. UTF-8 (with or without BOM) is read as is; other bytes are decoded
//! with `--encoding`, else as GB18030 (a superset of GBK, what Chinese spreadsheet software
//! writes). The delimiter is the most frequent of `,` `;` tab and `|` on the header line.

use std::path::Path;

use serde_json::Value;

use super::{FeatureId, InputFeature, Layer};
use crate::error::{Error, Result};

/// True when `path` names a delimited text table (`.csv`, `.tsv`, `.txt`).
pub fn is_table_path(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(), Some("csv" | "tsv" | "txt"))
}

/// Decodes a text file: UTF-8 (BOM stripped) when valid, else `encoding`, else GB18030.
/// Returns the text and the encoding used.
pub fn decode_text(bytes: &[u8], encoding: Option<&str>, name: &str) -> Result<(String, &'static str)> {
    if let Some(label) = encoding {
        let enc = encoding_rs::Encoding::for_label(label.trim().as_bytes())
            .ok_or_else(|| Error::layer(name, format!("unknown text encoding '{label}' (e.g. UTF-8, GBK, GB18030)")))?;
        let (text, _, bad) = enc.decode(bytes);
        if bad {
            return Err(Error::layer(name, format!("is not valid {} text", enc.name())));
        }
        return Ok((text.into_owned(), enc.name()));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(body) {
        return Ok((s.to_string(), "UTF-8"));
    }
    let (text, _, bad) = encoding_rs::GB18030.decode(body);
    if bad {
        return Err(Error::layer(name, "is neither UTF-8 nor GB18030/GBK text: give its encoding with --encoding"));
    }
    Ok((text.into_owned(), "GB18030"))
}

/// Reads a delimited table; every cell is text (numbers are parsed where they are used), empty
/// cells are missing values. Each feature's id is `line N`, its line in the file.
pub fn read_table(path: &Path, columns: &[&str], encoding: Option<&str>) -> Result<Layer> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    let (text, _) = decode_text(&bytes, encoding, &name)?;
    let header_line = text.lines().next().unwrap_or("");
    let delimiter = [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|&d| (header_line.bytes().filter(|&b| b == d).count(), d == b','))
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::layer(&name, format!("header line: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    if headers.iter().all(|h| h.is_empty()) {
        return Err(Error::layer(&name, "has no header line"));
    }
    for (i, h) in headers.iter().enumerate() {
        if let Some(j) = headers[..i].iter().position(|x| x == h) {
            return Err(Error::layer(&name, format!("column '{h}' appears twice (columns {} and {})", j + 1, i + 1)));
        }
    }
    let index: Vec<Option<usize>> = columns.iter().map(|c| headers.iter().position(|h| h == c)).collect();
    let mut features = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            Error::layer(&name, format!("line {line}: {e}"))
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(row as u64 + 2);
        let attributes = index
            .iter()
            .map(|i| i.and_then(|i| record.get(i)).filter(|s| !s.is_empty()).map(|s| Value::from(s.to_string())))
            .collect();
        features.push(InputFeature { row, id: Some(FeatureId::Text(format!("line {line}"))), geometry: None, attributes, properties: None });
    }
    Ok(Layer {
        name,
        crs: None,
        features,
        requested: columns.iter().map(|c| c.to_string()).collect(),
        columns: headers,
        source_text: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("wangge-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_utf8_with_bom_and_semicolons() {
        let p = write("a.csv", "\u{FEFF}building_id;households;地址\nb1;12;东路1号\nb2;;西路\n".as_bytes());
        let t = read_table(&p, &["building_id", "households", "地址", "absent"], None).unwrap();
        assert_eq!(t.columns, vec!["building_id", "households", "地址"]);
        assert_eq!(t.features.len(), 2);
        assert_eq!(t.features[0].attributes, vec![Some(Value::from("b1")), Some(Value::from("12")), Some(Value::from("东路1号")), None]);
        assert_eq!(t.features[1].attributes[1], None);
        assert_eq!(t.features[1].label(), "line 3");
    }

    #[test]
    fn reads_gbk() {
        let (bytes, _, _) = encoding_rs::GBK.encode("地址,households\n幸福小区3栋,40\n");
        let p = write("gbk.csv", &bytes);
        let t = read_table(&p, &["地址", "households"], None).unwrap();
        assert_eq!(t.features[0].attributes[0], Some(Value::from("幸福小区3栋")));
        assert_eq!(t.features[0].attributes[1], Some(Value::from("40")));
    }

    #[test]
    fn refuses_ragged_rows_with_their_line() {
        let p = write("ragged.csv", b"a,b\n1,2\n3\n");
        let e = read_table(&p, &["a"], None).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }
}
